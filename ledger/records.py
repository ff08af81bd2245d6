"""What the database may forget, the store remembers.

A restore from a backup rolls the database back; the evidence store (Object Lock on S3, a
write-once folder on local files) keeps everything written since. So each issued dossier and
notice (its number, seal, PDF hash, issue time, the chain head right after the issue) and each
chain head stamped by a TSA is also written there: one small JSON object per record, under a name
no other record can take, never overwritten (`save_once` on the evidence storages). Verification
and number allocation read these records, so a restore neither disowns what was issued nor gives
its number away, and `verify_evidence` compares every owner's chain with the latest head recorded
here.

    ledger-records/seals/<seal>.json                      an issued dossier or notice
    ledger-records/numbers/<kind>/<id>.json                an id (a number) given to a dossier or notice
    ledger-records/heads/<owner>/<seq>-<hash>.json         a chain head seen outside the database
    ledger-records/closed/<owner>-<seq>-<hash>.json        a chain closed by deleting its account
    ledger-records/restores/<time>.json                    records an operator acknowledged as
                                                           forgotten by a restore (verify_evidence)

Written inside the transaction that commits what they record, as its last step: the store then
holds at least what the database committed (a transaction that fails after the write leaves a
record of something never committed, which verify_evidence names; it never loses one).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from .models import canonical_json

logger = logging.getLogger(__name__)

ROOT = "ledger-records"
SEALS = f"{ROOT}/seals"
NUMBERS = f"{ROOT}/numbers"
HEADS = f"{ROOT}/heads"
CLOSED = f"{ROOT}/closed"
RESTORES = f"{ROOT}/restores"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_write(name: str, record: dict) -> bool:
    """Write one record under `name` unless the name is taken (True when written). Never an
    overwrite: the first record under a name is the one kept."""
    data = canonical_json(record)
    save_once = getattr(default_storage, "save_once", None)
    if save_once is not None:
        return save_once(name, data)
    # A storage set by hand without write-once support: check, then save (a narrow race only).
    if default_storage.exists(name):
        return False
    default_storage.save(name, ContentFile(data))
    return True


def record_read(name: str) -> dict | None:
    """One record, or None when there is none (or it is not a JSON object: named by the caller)."""
    try:
        with default_storage.open(name, "rb") as handle:
            value = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except Exception as exc:  # an object store answers a missing key with its own error
        if default_storage.exists(name):
            raise ValueError(f"{name}: not a readable record ({exc.__class__.__name__})") from exc
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{name}: not a record (a JSON object)")
    return value


def _listdir(path: str) -> tuple[list[str], list[str]]:
    try:
        folders, files = default_storage.listdir(path)
    except FileNotFoundError:
        return [], []
    return list(folders), [name for name in files if name.endswith(".json")]


# --- issued seals and the numbers given -----------------------------------------------------------


def seal_record_write(
    *,
    kind: str,
    object_id: int,
    owner_id: int,
    number: str,
    seal: str,
    pdf_sha256: str,
    created_at: datetime,
    issued_at: datetime,
    verify_text_sha256: str | None = None,
    chain_seq: int | None = None,
    chain_hash: str | None = None,
) -> None:
    """Record an issued dossier or notice (`kind`), its number and the chain head after its issue.
    The seal is the sha256 of the manifest, so it is the manifest's digest too."""
    record = {
        "kind": kind,
        "id": object_id,
        "owner": owner_id,
        "number": number,
        "seal": seal,
        "manifest_sha256": seal,
        "pdf_sha256": pdf_sha256,
        "created_at": _when(created_at),
        "issued_at": _when(issued_at),
        "verify_text_sha256": verify_text_sha256,
        "recorded_at": _when(timezone.now()),
    }
    record_write(f"{SEALS}/{seal}.json", record)
    number_record_write(kind=kind, object_id=object_id, number=number)
    if chain_seq:
        head_record_write(owner_id=owner_id, seq=chain_seq, digest=chain_hash, source=f"{kind}.issue")


def seal_record(seal: str) -> dict | None:
    """The record of an issued seal, or None."""
    if not seal or len(seal) != 64 or any(c not in "0123456789abcdef" for c in seal):
        return None
    return record_read(f"{SEALS}/{seal}.json")


def seal_records():
    """Every issued seal recorded in the store: (name, record or None when unreadable)."""
    _folders, files = _listdir(SEALS)
    for file_name in sorted(files):
        name = f"{SEALS}/{file_name}"
        try:
            yield name, record_read(name)
        except ValueError:
            yield name, None


def number_record_write(*, kind: str, object_id: int, number: str) -> None:
    """Record that the id `object_id` (and so its number) was given to a dossier or notice."""
    record_write(
        f"{NUMBERS}/{kind}/{object_id:012d}.json",
        {"kind": kind, "id": object_id, "number": number, "recorded_at": _when(timezone.now())},
    )


def highest_recorded_id(kind: str) -> int:
    """The highest id ever given to a `kind` ("dossier", "notice") as the store remembers it; 0 when
    none is recorded (an installation from before these records)."""
    _folders, files = _listdir(f"{NUMBERS}/{kind}")
    ids = [int(name[:-5]) for name in files if name[:-5].isdigit()]
    return max(ids, default=0)


def sequence_past(model, floor: int) -> None:
    """Make the next automatic id of `model` greater than `floor`: after a restore the database's
    id sequence starts again below ids already given out, and an id is a number printed on paper.
    Moves the sequence forward only, never back (SQLite's AUTOINCREMENT table, PostgreSQL's
    sequence); other databases are left as they are."""
    if floor <= 0:
        return
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            if row is None:
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, floor])
            elif row[0] < floor:
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [floor, table])
        elif connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_get_serial_sequence(%s, %s)", [connection.ops.quote_name(table), column]
            )
            sequence = cursor.fetchone()[0]
            if not sequence:
                return
            cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608 (a name the database gave)
            last_value, is_called = cursor.fetchone()
            if (last_value if is_called else last_value - 1) < floor:
                cursor.execute("SELECT setval(%s, %s, true)", [sequence, floor])


def ids_after_recorded(model, kind: str) -> None:
    """Before creating a dossier or notice: its id (its number) comes after every id recorded."""
    sequence_past(model, highest_recorded_id(kind))


# --- chain heads ---------------------------------------------------------------------------------


def head_record_write(
    *, owner_id: int, seq: int, digest: str, source: str, stamped_at: datetime | None = None, tsa: str = ""
) -> None:
    """Record that the owner's chain reached `seq` with `hash` (on issuing a dossier or notice, or
    when a TSA stamped the head)."""
    record = {
        "owner": owner_id,
        "seq": seq,
        "hash": digest,
        "source": source,
        "at": _when(timezone.now()),
        "stamped_at": _when(stamped_at),
        "tsa": tsa,
    }
    record_write(f"{HEADS}/{owner_id}/{seq:012d}-{digest}.json", record)


def chain_closed_write(*, owner_id: int, seq: int, digest: str) -> None:
    """Record that an account was deleted (by the services) with its chain at `seq`: its recorded
    heads then describe a chain that is gone on purpose, not one the database forgot."""
    record_write(
        f"{CLOSED}/{owner_id}-{seq:012d}-{digest or '0' * 64}.json",
        {"owner": owner_id, "seq": seq, "hash": digest, "at": _when(timezone.now())},
    )


def recorded_heads() -> tuple[dict[int, list[dict]], list[str]]:
    """Every chain head recorded in the store, by owner (each record with its `name`), and one line
    per record that cannot be read."""
    heads: dict[int, list[dict]] = {}
    unreadable: list[str] = []
    owners, _files = _listdir(HEADS)
    for owner in sorted(owners):
        if not owner.isdigit():
            continue
        _folders, files = _listdir(f"{HEADS}/{owner}")
        for file_name in sorted(files):
            name = f"{HEADS}/{owner}/{file_name}"
            try:
                record = record_read(name)
            except ValueError as exc:
                unreadable.append(str(exc))
                continue
            if record is None or not isinstance(record.get("seq"), int) or not record.get("hash"):
                unreadable.append(f"{name}: not a chain head record")
                continue
            heads.setdefault(int(owner), []).append({**record, "name": name})
    return heads, unreadable


def closed_chains() -> dict[int, list[dict]]:
    """The accounts deleted through the services, by former owner id."""
    closed: dict[int, list[dict]] = {}
    _folders, files = _listdir(CLOSED)
    for file_name in sorted(files):
        owner = file_name.split("-", 1)[0]
        if not owner.isdigit():
            continue
        try:
            record = record_read(f"{CLOSED}/{file_name}")
        except ValueError:
            continue
        if record is not None:
            closed.setdefault(int(owner), []).append(record)
    return closed


# --- restores acknowledged -------------------------------------------------------------------------


def restore_acknowledge(*, names: list[str], reason: str) -> str:
    """Record that the records `names` describe what a restore from an earlier backup made the
    database forget, as an operator acknowledged it (`verify_evidence --acknowledge-restore`): they
    are reported as notes from then on. Returns the acknowledgement's name."""
    now = timezone.now()
    name = f"{RESTORES}/{now:%Y%m%dT%H%M%S.%fZ}.json"
    record_write(name, {"at": _when(now), "reason": reason, "records": sorted(set(names))})
    return name


def acknowledged_records() -> dict[str, str]:
    """Every record acknowledged as forgotten by a restore: its name -> the acknowledgement's time
    and reason."""
    acknowledged: dict[str, str] = {}
    _folders, files = _listdir(RESTORES)
    for file_name in sorted(files):
        try:
            record = record_read(f"{RESTORES}/{file_name}")
        except ValueError:
            continue
        if not record:
            continue
        why = f"acknowledged as forgotten by a restore on {record.get('at')} ({record.get('reason')})"
        for name in record.get("records") or []:
            acknowledged.setdefault(str(name), why)
    return acknowledged
