"""Deleting an account or a case: tokens stop, sessions end, files leave the storage, nothing of the
user can be read, and only a tombstone without personal data stays. The admin deletes the same way."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.utils import timezone

from evidence.models import Case, EvidenceFile, Incident
from ledger.models import AuditEvent, AuditHead
from privacy.models import BlobPurge, Tombstone
from privacy.services import case_delete
from tests.evidence.test_integrity import run_verify
from tests.privacy.conftest import stored_names

User = get_user_model()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Blobs are destroyed once the deletion commits; a test runs inside a transaction that never
    does, so what is done in this block runs its commit callbacks at the block's end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def delete_account(api, password="alice-password-1"):
    return api.delete("/api/v1/account/", {"password": password}, format="json")


def test_after_deleting_the_account_its_token_is_refused_and_its_files_are_gone(
    alice, alice_api, bob_api, filled_account, evidence_storage, client, committed
):
    client.force_login(alice)
    evidence_ids = list(filled_account["uploads"])
    assert stored_names(evidence_storage)
    with committed():
        response = delete_account(alice_api)
    assert response.status_code == 204, response.content
    assert alice_api.get("/api/v1/cases/").status_code == 401
    # The session ended too: the pages send this browser to the login page.
    assert client.get("/cases/").status_code == 302
    assert not User.objects.filter(username="alice").exists()
    assert not AuditEvent.objects.filter(owner_id=alice.pk).exists()
    for pk in evidence_ids:
        assert bob_api.get(f"/api/v1/evidence/{pk}/download").status_code == 404
    if evidence_storage["kind"] == "filesystem":
        assert stored_names(evidence_storage) == []
        assert not (evidence_storage["path"] / "evidence" / str(alice.pk)).exists()
        assert not BlobPurge.objects.exists()


def test_the_tombstone_holds_no_personal_data(alice, alice_api, filled_account):
    head_before = AuditHead.objects.get(owner=alice).hash
    assert delete_account(alice_api).status_code == 204
    tombstone = Tombstone.objects.get()
    assert (tombstone.kind, tombstone.subject_id, tombstone.requested_by) == ("account", alice.pk, "owner")
    assert tombstone.counts["incidents"] == 50 and tombstone.counts["dossiers"] == 1
    assert tombstone.chain_hash == head_before
    assert tombstone.issued_seals[0]["seal"] == filled_account["dossier"].seal
    text = json.dumps(
        {f.name: str(getattr(tombstone, f.name)) for f in Tombstone._meta.fields}, ensure_ascii=False
    )
    for personal in ("alice", "花呗", "1701234", "通话录音", ".amr"):
        assert personal not in text


def test_a_wrong_password_deletes_nothing(alice, alice_api, filled_account, evidence_storage):
    before = stored_names(evidence_storage)
    response = delete_account(alice_api, password="not-the-password")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and body["fields"]["password"]
    assert alice_api.get("/api/v1/cases/").status_code == 200
    assert stored_names(evidence_storage) == before
    assert EvidenceFile.all_objects.filter(owner=alice).count() == len(filled_account["uploads"])
    assert not Tombstone.objects.exists()
    assert delete_account(alice_api, password="").status_code == 400


def test_deleting_a_case_removes_its_files_and_keeps_the_other_case(
    alice, filled_account, evidence_storage, committed
):
    first, second = filled_account["cases"]
    gone = list(EvidenceFile.all_objects.filter(incident__case=first))
    kept = list(EvidenceFile.all_objects.filter(incident__case=second))
    assert gone and kept
    with pytest.raises(Exception, match="password"):
        case_delete(case=first, password="wrong")
    with committed():
        tombstone = case_delete(case=first, password="alice-password-1")
    assert tombstone.kind == "case" and tombstone.counts["incidents"] == 25
    assert not Case.objects.filter(pk=first.pk).exists()
    assert not Incident.objects.filter(case_id=first.pk).exists()
    if evidence_storage["kind"] == "filesystem":
        left = stored_names(evidence_storage)
        assert all(not any(f.sha256 in name for name in left) for f in gone)
        assert all(any(f.sha256 in name for name in left) for f in kept)
        assert not any(name.startswith("dossiers/") for name in left)
    # The owner's chain records the deletion and still verifies against the remaining rows.
    code, report = run_verify()
    assert code == 0, report


def test_the_case_delete_page_asks_for_the_password(client, alice, filled_account):
    case = filled_account["cases"][1]
    client.force_login(alice)
    page = client.get(f"/cases/{case.pk}/delete/")
    assert page.status_code == 200
    wrong = client.post(f"/cases/{case.pk}/delete/", {"password": "nope"})
    assert wrong.status_code == 200 and Case.objects.filter(pk=case.pk).exists()
    done = client.post(f"/cases/{case.pk}/delete/", {"password": "alice-password-1"})
    assert done.status_code == 302
    assert not Case.objects.filter(pk=case.pk).exists()


def test_the_account_page_deletes_with_the_password_and_logs_out(
    client, alice, filled_account, evidence_storage, committed
):
    client.force_login(alice)
    page = client.get("/account/delete/")
    assert page.status_code == 200
    assert "/account/delete/" in client.get("/accounts/profile/").content.decode()
    with committed():
        done = client.post("/account/delete/", {"password": "alice-password-1"})
    assert done.status_code == 200
    assert not User.objects.filter(pk=alice.pk).exists()
    assert client.get("/cases/").status_code == 302
    if evidence_storage["kind"] == "filesystem":
        assert stored_names(evidence_storage) == []


def test_deleting_a_user_in_the_admin_goes_through_the_service(
    client, alice, filled_account, evidence_storage, django_user_model, committed
):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "root-password-1")
    client.force_login(admin)
    url = f"/admin/auth/user/{alice.pk}/delete/"
    confirm = client.get(url)
    assert confirm.status_code == 200
    with committed():
        response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    tombstone = Tombstone.objects.get()
    assert tombstone.requested_by == "admin"
    if evidence_storage["kind"] == "filesystem":
        assert stored_names(evidence_storage) == []


def test_the_admin_refuses_to_delete_a_user_with_a_case_on_hold(
    client, alice, filled_account, django_user_model
):
    from privacy.services import case_hold

    case_hold(case=filled_account["cases"][0], reason="诉讼进行中")
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "root-password-1")
    client.force_login(admin)
    url = f"/admin/auth/user/{alice.pk}/delete/"
    client.post(url, {"post": "yes"})
    assert User.objects.filter(pk=alice.pk).exists()
    assert "诉讼进行中" in client.get(url).content.decode()


@pytest.mark.skipif(
    "not __import__('tests.conftest', fromlist=['S3_MODE']).S3_MODE", reason="needs the S3 (moto) run"
)
def test_on_object_storage_with_retention_files_are_scheduled_and_unreadable(
    alice, alice_api, filled_account, evidence_storage, committed
):
    files = list(EvidenceFile.all_objects.filter(owner=alice))
    with committed():
        assert delete_account(alice_api).status_code == 204
    assert alice_api.get("/api/v1/cases/").status_code == 401
    waiting = BlobPurge.objects.filter(name__in=[f.storage_name for f in files], delete_marker=False)
    assert waiting.count() >= len({f.storage_name for f in files})
    assert all(item.due_at > timezone.now() for item in waiting)
    tombstone = Tombstone.objects.get()
    assert tombstone.purge_until is not None and tombstone.purge_until > timezone.now()
    for item in files:
        # A plain read of the key finds a delete marker; no row of the app points at the version.
        assert not default_storage.exists(item.storage_name)
    assert not EvidenceFile.all_objects.filter(owner_id=alice.pk).exists()


def test_purge_deleted_destroys_what_is_due_and_removes_old_exports(
    alice, alice_api, evidence_storage, settings
):
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    from privacy.models import Export

    if evidence_storage["kind"] != "filesystem":
        pytest.skip("local files: object storage keeps retained versions (see the S3 test)")
    orphan = default_storage.save(f"evidence/{alice.pk}/ab/orphan.amr", ContentFile(b"#!AMR\n"))
    BlobPurge.objects.create(name=orphan, due_at=timezone.now())
    assert alice_api.post("/api/v1/export/").status_code == 202
    export = Export.objects.get()
    assert default_storage.exists(export.storage_name)
    Export.objects.filter(pk=export.pk).update(created_at=timezone.now() - timedelta(days=8))
    call_command("purge_deleted", stdout=io.StringIO())
    assert not default_storage.exists(orphan)
    assert not Export.objects.exists()
    assert not default_storage.exists(export.storage_name)
    assert not BlobPurge.objects.exists()


def test_a_dossier_already_sent_still_verifies_as_issued_after_the_account_is_deleted(
    alice, alice_api, filled_account, committed
):
    """Its recipient keeps it: the verify page must not call it "never issued" once its owner left."""
    from rest_framework.test import APIClient

    dossier = filled_account["dossier"]
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        pdf = handle.read()
    seal, number = dossier.seal, dossier.number
    bundle = alice_api.get(f"/api/v1/dossiers/{dossier.pk}/bundle")
    assert bundle.status_code == 200
    bundle_bytes = b"".join(bundle.streaming_content) if bundle.streaming else bundle.content
    with committed():
        assert delete_account(alice_api).status_code == 204
    whole = APIClient().post("/api/v1/verify/", {"file": io.BytesIO(bundle_bytes)}, format="multipart").json()
    assert whole["valid"] is True, whole["problems"]
    verdict = APIClient().post("/api/v1/verify/", {"file": io.BytesIO(pdf)}, format="multipart").json()
    assert verdict["valid"] is True, verdict["problems"]
    assert verdict["dossier"]["seal"] == seal
    changed = bytearray(pdf)
    changed[len(changed) // 2] ^= 0x01
    bad = APIClient().post("/api/v1/verify/", {"file": io.BytesIO(bytes(changed))}, format="multipart").json()
    assert bad["valid"] is False
    assert number
