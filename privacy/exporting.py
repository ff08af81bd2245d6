"""The export zip: everything one user keeps, written as it streams, never whole in memory.

Layout (every path is listed in SHA256SUMS, so `sha256sum -c SHA256SUMS` checks the lot):

    README.txt            what is here and how to check it (Chinese and English)
    manifest.json         format, when, whose, counts per kind, the audit chain head
    account.json          the account, its profile and its API tokens (names, never secrets)
    cases.json            every case
    incidents.json/.csv   every incident, as JSON and as a spreadsheet
    evidence.json         every evidence file's facts and its path below
    evidence/<case>/<id>-<original name>        the exact bytes received
    imports.json, imports/<id>-<original name>  every phone export imported
    dossiers.json, dossiers/<number>/           each issued dossier: dossier.pdf, manifest.json,
                                                calls.csv, summary.txt
    audit/chain.jsonl     the audit chain, one event a line; audit/head.json its head
    SHA256SUMS

A kind of record is one `Section` in SECTIONS: a new kind (notices, complaints) is one more entry.
Rows are read with iterators and files copied in 1 MiB blocks into a zip on local disk, so memory
stays flat however large the account; the zip then goes to storage (privacy.storage.export_save).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Sum
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import profile_for
from complaints.models import Dossier, DossierStatus
from complaints.verification import derived_files
from core.csv_cells import SafeWriter
from evidence.merging import source_list
from evidence.models import Case, EvidenceFile, Incident, PhoneImport
from evidence.storage import open_blob
from ledger.models import AuditEvent, AuditHead

from .conf import setting

FORMAT = "collection-evidence-export/1"
BLOCK = 1 << 20
README = """\
导出 / Export — {username} — {created_at}

中文
这是您在本应用中保存的全部资料：案件、事件（JSON 与 CSV 表格）、每一份证据文件的原始字节、导入的
手机记录、已出具的投诉材料（PDF 及其清单）和审计哈希链。
核验：解压后在此文件夹中运行
  sha256sum -c SHA256SUMS
每一行都应显示 OK。evidence.json 记录每个文件收到时的 SHA-256，应与 SHA256SUMS 中的一致。
审计链（audit/chain.jsonl）每一行的 hash = sha256(prev_hash || 规范 JSON(事件))，可用
  python manage.py verify_export 本文件.zip
完整核验（哈希、证据、审计链）。

English
Everything you keep in this app: cases, incidents (JSON and a CSV spreadsheet), the exact bytes of
every evidence file, imported phone logs, issued dossiers (PDF and manifest) and the audit hash chain.
To check: unzip, then in this folder run
  sha256sum -c SHA256SUMS
Every line must say OK. evidence.json records each file's SHA-256 as received; it must equal the
one in SHA256SUMS. Each line of audit/chain.jsonl has hash = sha256(prev_hash || canonical
JSON(event)); `python manage.py verify_export this.zip` checks hashes, evidence and the chain.
"""


def _utc(moment) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


class _HashingSink(io.RawIOBase):
    """A zip member being written: bytes go on to the member and into a SHA-256."""

    def __init__(self, member):
        self.member, self.hasher, self.size = member, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.member.write(data)
        self.hasher.update(data)
        self.size += len(data)
        return len(data)


class ExportWriter:
    """Writes members into the zip and remembers each one's SHA-256 for SHA256SUMS (in a spool file,
    not a list, so ten thousand files cost no memory)."""

    def __init__(self, archive: zipfile.ZipFile, when: datetime):
        self.archive = archive
        self.date_time = when.astimezone(UTC).timetuple()[:6]
        self.sums = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.paths: set[str] = set()

    @contextmanager
    def member(self, path: str, *, compress: bool = True):
        if path in self.paths:
            raise ValueError(f"{path} written twice")
        self.paths.add(path)
        info = zipfile.ZipInfo(path, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o600 << 16
        with self.archive.open(info, "w", force_zip64=True) as raw:
            sink = _HashingSink(raw)
            yield sink
        self.sums.write(f"{sink.hasher.hexdigest()}  {path}\n")
        self.last = sink

    def write_bytes(self, path: str, data: bytes) -> str:
        with self.member(path) as sink:
            sink.write(data)
        return self.last.hasher.hexdigest()

    def write_json(self, path: str, value) -> str:
        return self.write_bytes(path, json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")

    def json_array(self, path: str, items: Iterable[dict]) -> int:
        """A JSON array written one element at a time."""
        count = 0
        with self.member(path) as sink:
            sink.write(b"[")
            for item in items:
                sink.write(
                    (b",\n" if count else b"\n") + json.dumps(item, ensure_ascii=False).encode("utf-8")
                )
                count += 1
            sink.write(b"\n]\n")
        return count

    def csv_table(self, path: str, header: list[str], rows: Iterable[list]) -> None:
        with self.member(path) as sink:
            # A byte-order mark, so spreadsheet programs read the Chinese text as UTF-8.
            text = io.TextIOWrapper(sink, encoding="utf-8-sig", newline="", write_through=True)
            # Every cell a spreadsheet would run as a formula is neutralised (core.csv_cells).
            writer = SafeWriter(text)
            writer.writerow(header)
            for row in rows:
                writer.writerow(row)
            text.detach()

    def copy_blob(self, path: str, name: str, version: str = "") -> tuple[str, int]:
        """A stored blob copied into the zip in blocks; (its SHA-256 as copied, its size)."""
        with open_blob(name, version) as source, self.member(path, compress=False) as sink:
            while block := source.read(BLOCK):
                sink.write(block)
        return self.last.hasher.hexdigest(), self.last.size

    def finish(self) -> None:
        self.sums.seek(0)
        info = zipfile.ZipInfo("SHA256SUMS", date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        with self.archive.open(info, "w", force_zip64=True) as raw:
            while block := self.sums.read(BLOCK):
                raw.write(block.encode("utf-8"))
        self.sums.close()


@dataclass
class Context:
    owner: object
    writer: ExportWriter
    chain_seq: int
    progress: Callable[[str, float], None]  # (section, fraction of that section done)
    problems: list[str]


@dataclass(frozen=True)
class Section:
    """One kind of record: its name (counted in manifest.json), its share of the progress bar, and
    the function that writes it and returns how many it wrote."""

    name: str
    weight: int
    write: Callable[[Context], int]


def _account(ctx: Context) -> int:
    user, profile = ctx.owner, profile_for(ctx.owner)
    ctx.writer.write_json(
        "account.json",
        {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": _utc(user.date_joined),
            "last_login": _utc(user.last_login),
            "profile": {
                "display_name": profile.display_name,
                "phone": profile.phone,
                "id_number": profile.id_number,
                "time_zone": profile.time_zone,
                "language": profile.language,
            },
            # Names and prefixes only: secrets are never stored, digests are no use to anyone.
            "api_tokens": [
                {
                    "name": token.name,
                    "prefix": token.prefix,
                    "created_at": _utc(token.created_at),
                    "last_used_at": _utc(token.last_used_at),
                    "revoked_at": _utc(token.revoked_at),
                }
                for token in ApiToken.objects.filter(user=user).order_by("created_at")
            ],
        },
    )
    return 1


def _cases(ctx: Context) -> int:
    rows = Case.objects.for_owner(ctx.owner).order_by("pk")
    return ctx.writer.json_array(
        "cases.json",
        (
            {
                "id": case.pk,
                **case.snapshot(),
                "on_hold": {"since": _utc(case.hold_at), "reason": case.hold_reason}
                if case.hold_at
                else None,
                "violation_summary": case.violation_summary,
                "created_at": _utc(case.created_at),
                "updated_at": _utc(case.updated_at),
            }
            for case in rows.iterator()
        ),
    )


INCIDENT_COLUMNS = [
    "id",
    "case",
    "kind",
    "occurred_at",
    "time_status",
    "duration_seconds",
    "answered",
    "counterpart_number",
    "counterpart_name",
    "agency",
    "contacted",
    "flags",
    "visitors",
    "description",
    "quotes",
    "source",
    "sources",
    "source_ref",
    "source_evidence",
    "violations",
    "logged_at",
    "amended_at",
]


def _incident_dict(incident: Incident) -> dict:
    return {
        "id": incident.pk,
        "case": incident.case_id,
        "kind": incident.kind,
        "occurred_at": _utc(incident.occurred_at),
        "time_status": incident.time_status,
        "duration_seconds": incident.duration_seconds,
        "answered": incident.answered,
        "counterpart_number": incident.counterpart_number,
        "counterpart_name": incident.counterpart_name,
        "agency": incident.agency,
        "contacted": list(incident.contacted),
        "flags": list(incident.flags),
        "visitors": incident.visitors,
        "description": incident.description,
        "quotes": list(incident.quotes or []),
        "source": incident.source,
        "sources": source_list(incident),
        "source_ref": incident.source_ref,
        "source_evidence": incident.source_evidence_id,
        "violations": [v.get("rule") for v in incident.violations if isinstance(v, dict)],
        "logged_at": _utc(incident.logged_at),
        "amended_at": _utc(incident.amended_at),
    }


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return ";".join(value)
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _incidents(ctx: Context) -> int:
    rows = Incident.objects.for_owner(ctx.owner).order_by("case_id", "occurred_at", "pk")
    total = max(rows.count(), 1)

    def items():
        for done, incident in enumerate(rows.iterator(chunk_size=2000), start=1):
            if done % 2000 == 0:
                ctx.progress("incidents", done / total / 2)
            yield _incident_dict(incident)

    count = ctx.writer.json_array("incidents.json", items())
    ctx.writer.csv_table(
        "incidents.csv",
        INCIDENT_COLUMNS,
        (
            [_csv_cell(row[column]) for column in INCIDENT_COLUMNS]
            for row in map(_incident_dict, rows.iterator(chunk_size=2000))
        ),
    )
    return count


def evidence_path(item: EvidenceFile, case_id: int) -> str:
    return f"evidence/{case_id}/{item.pk}-{item.original_name}"


def _evidence(ctx: Context) -> int:
    rows = (
        EvidenceFile.all_objects.filter(owner=ctx.owner)
        .select_related("incident")
        .order_by("incident__case_id", "pk")
    )
    total_bytes = max(rows.aggregate(total=Sum("size"))["total"] or 0, 1)
    copied = 0

    def items():
        nonlocal copied
        for item in rows.iterator(chunk_size=500):
            path = evidence_path(item, item.incident.case_id)
            actual, size = ctx.writer.copy_blob(path, item.storage_name, item.storage_version)
            if actual != item.sha256:
                ctx.problems.append(
                    f"{path}: recorded sha256 {item.sha256} when received, the stored file hashes to {actual}"
                )
            copied += size
            ctx.progress("evidence", copied / total_bytes)
            yield {
                "id": item.pk,
                "case": item.incident.case_id,
                "incident": item.incident_id,
                "path": path,
                "original_name": item.original_name,
                "content_type": item.content_type,
                "size": item.size,
                "sha256": item.sha256,
                "received_at": _utc(item.received_at),
                "provenance": item.provenance,
                "metadata": item.metadata,
                "withdrawn_at": _utc(item.withdrawn_at),
                "kept_for": list(item.holds),
            }

    # The list is written after the files (each entry needs its file copied first), so it is
    # spooled to a temporary file and added to the zip at the end of the section.
    with tempfile.TemporaryFile() as spool:
        count = 0
        spool.write(b"[")
        for entry in items():
            spool.write((b",\n" if count else b"\n") + json.dumps(entry, ensure_ascii=False).encode("utf-8"))
            count += 1
        spool.write(b"\n]\n")
        spool.seek(0)
        with ctx.writer.member("evidence.json") as sink:
            while block := spool.read(BLOCK):
                sink.write(block)
    return count


def _imports(ctx: Context) -> int:
    rows = PhoneImport.objects.filter(owner=ctx.owner).order_by("pk")

    def items():
        for row in rows.iterator():
            path = f"imports/{row.pk}-{row.original_name}"
            ctx.writer.copy_blob(path, row.storage_name, row.storage_version)
            yield {
                "id": row.pk,
                "case": row.case_id,
                "path": path,
                "original_name": row.original_name,
                "format": row.format,
                "size": row.size,
                "sha256": row.sha256,
                "summary": row.summary,
                "result": row.result,
                "evidence": row.evidence_id,
                "created_at": _utc(row.created_at),
                "imported_at": _utc(row.imported_at),
            }

    entries = list(items())  # one small entry per import (a handful per case)
    ctx.writer.json_array("imports.json", entries)
    return len(entries)


def _dossiers(ctx: Context) -> int:
    entries = []
    for dossier in Dossier.objects.for_owner(ctx.owner).order_by("pk").iterator():
        entry = {
            "id": dossier.pk,
            "number": dossier.number,
            "case": dossier.case_id,
            "addressee": dossier.addressee,
            "addressee_name": dossier.addressee_name,
            "language": dossier.language,
            "status": dossier.status,
            "seal": dossier.seal,
            "pdf_sha256": dossier.pdf_sha256,
            "created_at": _utc(dossier.created_at),
            "folder": None,
        }
        if dossier.status == DossierStatus.READY and dossier.pdf_name:
            folder = f"dossiers/{dossier.number}"
            ctx.writer.copy_blob(f"{folder}/dossier.pdf", dossier.pdf_name)
            ctx.writer.write_bytes(f"{folder}/manifest.json", dossier.manifest.encode("utf-8"))
            for name, data in derived_files(json.loads(dossier.manifest)).items():
                ctx.writer.write_bytes(f"{folder}/{name}", data)
            entry["folder"] = folder
        entries.append(entry)
    ctx.writer.json_array("dossiers.json", entries)
    return len(entries)


def chain_line(event: AuditEvent) -> dict:
    """One audit event as exported: everything its hash covers, its payload, and both hashes."""
    return {
        **event.event_body(),
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _audit(ctx: Context) -> int:
    events = AuditEvent.objects.filter(owner=ctx.owner, seq__lte=ctx.chain_seq).order_by("seq")
    total = max(ctx.chain_seq, 1)
    count = 0
    last_hash = AuditEvent.GENESIS
    with ctx.writer.member("audit/chain.jsonl") as sink:
        for event in events.iterator(chunk_size=2000):
            sink.write(json.dumps(chain_line(event), ensure_ascii=False).encode("utf-8") + b"\n")
            count += 1
            last_hash = event.hash
            if count % 5000 == 0:
                ctx.progress("audit", count / total)
    ctx.writer.write_json("audit/head.json", {"seq": count, "hash": last_hash})
    return count


SECTIONS: list[Section] = [
    Section("account", 1, _account),
    Section("cases", 1, _cases),
    Section("incidents", 8, _incidents),
    Section("evidence", 70, _evidence),
    Section("imports", 3, _imports),
    Section("dossiers", 7, _dossiers),
    Section("audit", 8, _audit),
]


def temporary_folder() -> str:
    return setting("EXPORT_TEMP_DIR") or tempfile.gettempdir()


def temporary_zip(export_id: int | None = None):
    """The local spool file of an export being built (deleted when closed). Its name starts with
    the export's id, so the sweep can remove what a killed build left (partial_zips_remove)."""
    folder = setting("EXPORT_TEMP_DIR") or None
    if folder:
        os.makedirs(folder, exist_ok=True)
    prefix = f"export-{export_id}-" if export_id is not None else "export-"
    return tempfile.NamedTemporaryFile(prefix=prefix, suffix=".zip", dir=folder)


def partial_zips(export_id: int) -> list[str]:
    """Spool files of this export on this machine (a build killed part way leaves one)."""
    folder = temporary_folder()
    prefix = f"export-{export_id}-"
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [os.path.join(folder, name) for name in names if name.startswith(prefix) and name.endswith(".zip")]


def partial_zip_ids() -> set[int]:
    """The exports that have spool files on this machine."""
    try:
        names = os.listdir(temporary_folder())
    except OSError:
        return set()
    found = set()
    for name in names:
        head, _sep, rest = name.partition("-")
        number = rest.split("-", 1)[0]
        if head == "export" and name.endswith(".zip") and number.isdigit():
            found.add(int(number))
    return found


def write_export(*, owner, target, progress: Callable[[int, str], None]) -> dict:
    """Write the whole export of `owner` into `target` (a writable, seekable file); returns the
    summary (counts per section, chain head, problems) that manifest.json states."""
    when = timezone.now()
    head = AuditHead.objects.filter(owner=owner).values_list("seq", "hash").first() or (0, AuditEvent.GENESIS)
    weights_before: dict[str, int] = {}
    running = 0
    for section in SECTIONS:
        weights_before[section.name] = running
        running += section.weight
    total_weight = running + 2

    def section_progress(name: str, fraction: float) -> None:
        weight = next(s.weight for s in SECTIONS if s.name == name)
        percent = (weights_before[name] + weight * min(max(fraction, 0.0), 1.0)) / total_weight * 100
        progress(int(percent), name)

    problems: list[str] = []
    counts: dict[str, int] = {}
    with zipfile.ZipFile(target, "w", allowZip64=True) as archive:
        writer = ExportWriter(archive, when)
        writer.write_bytes(
            "README.txt",
            README.format(username=owner.get_username(), created_at=_utc(when)).encode("utf-8"),
        )
        ctx = Context(
            owner=owner, writer=writer, chain_seq=head[0], progress=section_progress, problems=problems
        )
        for section in SECTIONS:
            section_progress(section.name, 0)
            counts[section.name] = section.write(ctx)
        summary = {
            "format": FORMAT,
            "created_at": _utc(when),
            "account": {"id": owner.pk, "username": owner.get_username()},
            "counts": counts,
            "audit_chain_head": {"seq": head[0], "hash": head[1]},
            "problems": problems,
        }
        writer.write_json("manifest.json", summary)
        writer.finish()
    progress(99, "finishing")
    return summary
