"""verify_evidence: a clean store passes; a flipped byte or an edited audit event is named."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from evidence.models import EvidenceFile
from evidence.services import evidence_store, incident_update
from ledger.models import AuditEvent, canonical_json
from tests.conftest import amr_bytes, png_bytes


def run_verify():
    out = io.StringIO()
    try:
        call_command("verify_evidence", stdout=out)
    except SystemExit as exc:  # pragma: no cover - call_command raises CommandError instead
        return exc.code, out.getvalue()
    except Exception as exc:
        return getattr(exc, "returncode", 1), out.getvalue() + str(exc)
    return 0, out.getvalue()


@pytest.fixture
def stored(alice_incident):
    return [
        evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.png", png_bytes())),
        evidence_store(incident=alice_incident, upload=SimpleUploadedFile("b.amr", amr_bytes())),
    ]


def test_a_clean_store_exits_0(stored):
    code, output = run_verify()
    assert code == 0, output
    assert "evidence files checked: 2" in output


def test_one_flipped_byte_is_named(stored, private_storage):
    target = stored[1]
    path = private_storage / target.storage_name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, output = run_verify()
    assert code == 1
    assert f"evidence id {target.pk}" in output and target.sha256 in output
    assert f"evidence id {stored[0].pk}" not in output


def test_a_missing_file_is_named(stored, private_storage):
    (private_storage / stored[0].storage_name).unlink()
    code, output = run_verify()
    assert code == 1 and "missing" in output and f"evidence id {stored[0].pk}" in output


def test_an_edited_audit_event_field_is_named(stored):
    event = AuditEvent.objects.filter(action="evidence.store").order_by("seq").first()
    # Edit the row behind the service's back, as someone with database access would.
    AuditEvent.objects.filter(pk=event.pk).update(action="evidence.removed")
    code, output = run_verify()
    assert code == 1 and f"seq={event.seq}" in output and "hash mismatch" in output


def test_an_edited_audit_payload_is_named(stored):
    event = AuditEvent.objects.filter(action="evidence.store").order_by("seq").last()
    payload = dict(event.payload)
    payload["after"] = {**payload["after"], "sha256": "0" * 64}
    AuditEvent.objects.filter(pk=event.pk).update(payload=payload)
    code, output = run_verify()
    assert code == 1 and f"seq={event.seq}" in output and "payload changed" in output


def test_a_deleted_audit_event_is_named(stored):
    event = AuditEvent.objects.order_by("seq")[1]
    AuditEvent.objects.filter(pk=event.pk).delete()
    code, output = run_verify()
    assert code == 1 and "missing or inserted" in output


def test_amendments_keep_before_and_after_in_the_chain(alice_incident):
    incident_update(incident=alice_incident, description="新的描述", flags=["threat"])
    event = AuditEvent.objects.filter(action="incident.amend").get()
    assert event.payload["before"]["description"] == "深夜催收电话"
    assert event.payload["after"]["description"] == "新的描述"
    assert event.payload["after"]["flags"] == ["threat"]
    code, _output = run_verify()
    assert code == 0


def test_every_link_points_at_the_previous_one(stored):
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == "0" * 64
    for earlier, later in zip(events, events[1:], strict=False):
        assert later.prev_hash == earlier.hash


def test_canonical_json_is_stable():
    assert canonical_json({"b": 1, "a": "中"}) == '{"a":"中","b":1}'.encode()


def test_deleting_evidence_is_recorded_and_the_store_stays_clean(stored, private_storage):
    from evidence.services import evidence_delete

    pk = stored[0].pk
    evidence_delete(evidence=stored[0])
    assert not EvidenceFile.objects.filter(pk=pk).exists()
    assert AuditEvent.objects.filter(action="evidence.delete", subject_id=str(pk)).exists()
    code, output = run_verify()
    assert code == 0, output
