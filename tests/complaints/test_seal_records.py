"""Issued seals outlive the database (issue 24): each issued dossier and notice, and the chain head
right after its issue, are also written once to the evidence store. After a restore from a backup
taken before a dossier was issued, that dossier still verifies as issued, the next dossier gets a
new number, and verify_evidence names what the database forgot.

In process, a restore is simulated by removing what it would lose (rows, links after the backup
point, the id sequence); `test_a_real_backup_and_restore_*` copies the database for real in an
installation of its own (SQLite file copy; pg_dump/pg_restore when DATABASE_URL is PostgreSQL)."""

from __future__ import annotations

import io
import json
import shutil
import stat
import subprocess
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from complaints.models import Dossier, IssuedSeal, StopNotice
from complaints.notice_data import notice_number
from complaints.notices import notice_create
from complaints.services import dossier_create
from evidence.models import Incident
from evidence.services import incident_create
from ledger.models import AuditEvent, AuditHead
from ledger.records import highest_recorded_id, record_write, seal_record
from tests.evidence.test_integrity import run_verify
from tests.release_fixtures import BASE_DIR, PY, base_env, drop_postgres, manage, postgres_server_url

SHANGHAI = ZoneInfo("Asia/Shanghai")


def a_call(case, day: int):
    return incident_create(
        case=case,
        kind="call",
        occurred_at=datetime(2026, 3, day, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        flags=["threat"],
    )


def issue(owner, case) -> Dossier:
    dossier = dossier_create(owner=owner, case=case, addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return dossier


def pdf_of(dossier: Dossier) -> bytes:
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        return handle.read()


def set_next_id(model, value: int) -> None:
    """What a restore does to the id sequence: it starts again after `value`."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [value, table])
        else:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            cursor.execute("SELECT setval(%s, %s, true)", [cursor.fetchone()[0], value])


def restore_to(owner, *, seq: int, last_dossier: int) -> None:
    """Bring the database back to a backup taken when the owner's chain was at `seq` and the last
    dossier was `last_dossier`: what the backup never held goes, the store keeps its records."""
    created_later = AuditEvent.objects.filter(owner=owner, action="incident.create", seq__gt=seq)
    Incident.objects.filter(
        pk__in=[int(pk) for pk in created_later.values_list("subject_id", flat=True)]
    ).delete()
    later = Dossier.objects.filter(pk__gt=last_dossier)
    IssuedSeal.objects.filter(seal__in=list(later.values_list("seal", flat=True))).delete()
    later.delete()
    AuditEvent.objects.filter(owner=owner, seq__gt=seq).delete()
    head = AuditEvent.objects.get(owner=owner, seq=seq)
    AuditHead.objects.filter(owner=owner).update(seq=seq, hash=head.hash)
    set_next_id(Dossier, last_dossier)


def test_an_issued_dossier_and_notice_are_recorded_once_in_the_store(alice, alice_case, evidence_storage):
    a_call(alice_case, 2)
    dossier = issue(alice, alice_case)
    record = seal_record(dossier.seal)
    assert record["kind"] == "dossier" and record["number"] == dossier.number
    assert record["manifest_sha256"] == dossier.seal and record["pdf_sha256"] == dossier.pdf_sha256
    assert record["issued_at"] and record["id"] == dossier.pk
    issued = AuditEvent.objects.get(owner=alice, action="dossier.issue")
    head = f"ledger-records/heads/{alice.pk}/{issued.seq:012d}-{issued.hash}.json"
    assert default_storage.exists(head)
    assert highest_recorded_id("dossier") == dossier.pk

    notice = notice_create(owner=alice, case=alice_case)
    assert seal_record(notice.seal)["kind"] == "notice"
    assert seal_record(notice.seal)["number"] == notice_number(notice)  # as sealed (local date)
    assert highest_recorded_id("notice") == notice.pk

    # Write-once: a second record under the same name is refused and the first one stays.
    name = f"ledger-records/seals/{dossier.seal}.json"
    assert record_write(name, {"seal": dossier.seal, "number": "CE-forged"}) is False
    assert seal_record(dossier.seal)["number"] == dossier.number
    if evidence_storage["kind"] == "filesystem":
        mode = stat.S_IMODE((evidence_storage["path"] / name).stat().st_mode)
        assert mode & 0o222 == 0, oct(mode)  # created read-only


def test_after_a_restore_the_forgotten_dossier_still_verifies_and_its_number_is_not_reused(
    alice, alice_case, client
):
    a_call(alice_case, 2)
    first = issue(alice, alice_case)
    backup_seq = AuditHead.objects.get(owner=alice).seq
    a_call(alice_case, 3)
    after_backup = issue(alice, alice_case)
    pdf = pdf_of(after_backup)
    restore_to(alice, seq=backup_seq, last_dossier=first.pk)
    # The restored database knows nothing of it, not even the record kept at deletion.
    assert not Dossier.objects.filter(seal=after_backup.seal).exists()
    assert not IssuedSeal.objects.filter(seal=after_backup.seal).exists()

    verdict = APIClient().post(
        "/api/v1/verify/", {"file": SimpleUploadedFile("dossier.pdf", pdf)}, format="multipart"
    )
    assert verdict.status_code == 200
    assert verdict.json() == {
        "valid": True,
        "dossier": {"seal": after_backup.seal, "created_at": verdict.json()["dossier"]["created_at"]},
        "problems": [],
    }
    page = client.get(f"/verify/?seal={after_backup.seal}").content.decode()
    assert after_backup.number in page

    following = issue(alice, alice_case)
    assert following.pk > after_backup.pk
    assert following.number != after_backup.number
    assert following.number not in (first.number, after_backup.number)

    code, output = run_verify()
    assert code == 1, output
    assert f"seal {after_backup.seal}" in output and "the database has forgotten it" in output
    assert after_backup.number in output
    assert f"owner={alice.pk}: cut off" in output or "the chain was rewritten" in output

    # The operator restored the backup on purpose: acknowledged once, the forgotten records are notes.
    out = io.StringIO()
    call_command("verify_evidence", "--acknowledge-restore", "restored the backup of 2026-03-03", stdout=out)
    assert "ACKNOWLEDGED" in out.getvalue() and "OK: every file matches" in out.getvalue()
    assert (
        f"seal {after_backup.seal}" in out.getvalue()
        and "restored the backup of 2026-03-03" in out.getvalue()
    )
    code, output = run_verify()
    assert code == 0, output


def test_a_notice_number_is_not_reused_after_a_restore(alice, alice_case):
    before = notice_create(owner=alice, case=alice_case)
    lost = notice_create(owner=alice, case=alice_case)
    StopNotice.objects.filter(pk=lost.pk).delete()
    IssuedSeal.objects.filter(seal=lost.seal).delete()
    set_next_id(StopNotice, before.pk)
    again = notice_create(owner=alice, case=alice_case)
    assert again.pk > lost.pk and notice_number(again) != notice_number(lost)


def test_no_records_in_the_store_is_not_a_problem(alice, alice_case):
    """Installations from before these records have none: verify_evidence passes without them."""
    a_call(alice_case, 2)
    issue(alice, alice_case)
    for folder in ("seals", f"heads/{alice.pk}", "numbers/dossier"):
        for name in default_storage.listdir(f"ledger-records/{folder}")[1]:
            default_storage.delete(f"ledger-records/{folder}/{name}")
    code, output = run_verify()
    assert code == 0, output


# --- a real backup and restore, in an installation of its own -------------------------------------

SETUP = """
from datetime import datetime
from zoneinfo import ZoneInfo
from django.contrib.auth import get_user_model
from evidence.services import case_create, incident_create
from complaints.services import dossier_create
user = get_user_model().objects.create_user("carol", password="carol-password-1")
case = case_create(owner=user, title="t", creditor="huabei", lender_name="L")
incident_create(case=case, kind="call", occurred_at=datetime(2026, 3, 2, 23, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
                counterpart_number="17012345678", flags=["threat"])
d = dossier_create(owner=user, case=case, addressee="alipay")
d.refresh_from_db()
assert d.status == "ready", d.error
"""

ISSUE = """
import json, os
from django.core.files.storage import default_storage
from evidence.models import Case
from complaints.models import Dossier
from complaints.services import dossier_create
case = Case.objects.get()
d = dossier_create(owner=case.owner, case=case, addressee="alipay")
d.refresh_from_db()
assert d.status == "ready", d.error
with default_storage.open(d.pdf_name, "rb") as handle, open(os.environ["PDF_PATH"], "wb") as out:
    out.write(handle.read())
print(json.dumps({"pk": d.pk, "number": d.number, "seal": d.seal}))
"""

CHECK = """
import json, os
from complaints.verification import verify_upload
with open(os.environ["PDF_PATH"], "rb") as handle:
    verdict = verify_upload(handle)
print(json.dumps({"valid": verdict.valid, "problems": verdict.problems}))
"""

NEXT = """
import json
from evidence.models import Case
from complaints.services import dossier_create
case = Case.objects.get()
d = dossier_create(owner=case.owner, case=case, addressee="alipay")
d.refresh_from_db()
print(json.dumps({"pk": d.pk, "number": d.number}))
"""


def shell(env, script: str, path: str = "") -> subprocess.CompletedProcess:
    result = subprocess.run(
        [PY, "manage.py", "shell", "-v", "0", "-c", script],
        cwd=BASE_DIR,
        env={**env, "PDF_PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def last_json(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


class Installation:
    """A data folder and a database of their own; `backup()` and `restore()` as an operator would."""

    def __init__(self, folder):
        self.data = folder / "data"
        self.data.mkdir()
        server = postgres_server_url()
        if server is None:
            self.url = f"sqlite:///{self.data / 'db.sqlite3'}"
        else:
            if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
                pytest.skip("pg_dump and pg_restore are needed for a real PostgreSQL backup")
            import psycopg

            name = f"seal_records_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            self.url = f"{server}/{name}"
        self.backup_file = folder / "backup"
        self.env = base_env(self.data, self.url)
        self.env.pop("EVIDENCE_ROOT", None)

    def backup(self) -> None:
        if self.url.startswith("sqlite"):
            shutil.copy2(self.data / "db.sqlite3", self.backup_file)
        else:
            subprocess.run(["pg_dump", "-Fc", "-f", str(self.backup_file), self.url], check=True, timeout=120)

    def restore(self) -> None:
        if self.url.startswith("sqlite"):
            shutil.copy2(self.backup_file, self.data / "db.sqlite3")
        else:
            subprocess.run(
                ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", self.url, str(self.backup_file)],
                check=True,
                timeout=120,
            )

    def close(self) -> None:
        drop_postgres(self.url)


@pytest.fixture
def installation(tmp_path):
    made = Installation(tmp_path)
    yield made
    made.close()


def test_a_real_backup_and_restore_keeps_the_dossier_issued_after_it(installation, tmp_path):
    env = installation.env
    migrated = manage(env, "migrate", "--noinput", timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    shell(env, SETUP)
    installation.backup()
    pdf = tmp_path / "after-backup.pdf"
    issued = last_json(shell(env, ISSUE, str(pdf)))
    installation.restore()

    checked = last_json(shell(env, CHECK, str(pdf)))
    assert checked["valid"] is True, checked["problems"]

    result = manage(env, "verify_evidence")
    assert result.returncode == 1, result.stdout
    assert f"seal {issued['seal']}" in result.stdout and "the database has forgotten it" in result.stdout
    assert "owner=1: cut off" in result.stdout and "missing: seq" in result.stdout

    following = last_json(shell(env, NEXT))
    assert following["pk"] > issued["pk"] and following["number"] != issued["number"]
    # The chain has grown again past the recorded head, along another path: named as rewritten.
    result = manage(env, "verify_evidence")
    assert result.returncode == 1 and "the chain was rewritten" in result.stdout, result.stdout
