"""A cut-off history is detected (issue 24): verify_evidence compares each owner's chain with the
latest head recorded outside the database (the evidence store's write-once records, the head last
sent for a timestamp, the last one a TSA stamped) and fails naming the owner and the missing seq
numbers; complaints, replies, notices, dossiers, imports and holds are compared with the chain like
incidents are."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from complaints.followup import complaint_log, reply_log
from complaints.models import Complaint, ComplaintReply, Dossier, StopNotice
from complaints.notices import notice_create, notice_mark_sent
from complaints.services import dossier_create
from evidence.models import Case, Incident, PhoneImport
from evidence.services import incident_create
from ledger.models import AuditEvent, AuditHead
from privacy.services import case_hold
from stamps.models import ChainMark, Leaf
from stamps.services import stamp_due
from tests.clock import written_on
from tests.conftest import calls_xml
from tests.evidence.test_imports import post_import, sample_calls
from tests.evidence.test_integrity import run_verify
from tests.stamps.local_tsa import LocalTSA

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def local_tsa(settings, tmp_path):
    with LocalTSA() as tsa:
        ca_file = tmp_path / "tsa-ca.pem"
        ca_file.write_bytes(tsa.ca_pem)
        settings.TSA_URLS = [tsa.url]
        settings.TSA_CA_FILE = str(ca_file)
        settings.TSA_TIMEOUT_SECONDS = 5
        yield tsa


def calls(case, count: int) -> list[Incident]:
    return [
        incident_create(
            case=case,
            kind="call",
            occurred_at=datetime(2026, 3, 2 + n, 23, 10, tzinfo=SHANGHAI),
            counterpart_number="17012345678",
        )
        for n in range(count)
    ]


def cut_newest_incident(owner, incident: Incident) -> int:
    """Behind the services: the newest incident and every link from its creation on are deleted and
    the head is rewound, so the chain left links up. Returns the seq the chain now ends at."""
    created = AuditEvent.objects.get(owner=owner, action="incident.create", subject_id=str(incident.pk))
    Incident.objects.filter(pk=incident.pk).delete()
    AuditEvent.objects.filter(owner=owner, seq__gte=created.seq).delete()
    last = AuditEvent.objects.filter(owner=owner).order_by("-seq").first()
    AuditHead.objects.filter(owner=owner).update(seq=last.seq, hash=last.hash)
    return last.seq


def test_an_intact_history_with_recorded_heads_passes(alice, alice_case, local_tsa, settings):
    calls(alice_case, 2)
    run = stamp_due(now=timezone.now() + timedelta(seconds=settings.TSA_BATCH_SECONDS), force=True)
    assert run.stamped
    code, output = run_verify()
    assert code == 0, output


def test_a_history_cut_off_past_a_tsa_stamped_head_fails_naming_the_owner_and_the_missing_seqs(
    alice, alice_case, local_tsa, settings
):
    *_older, newest = calls(alice_case, 3)
    head = AuditHead.objects.get(owner=alice)
    run = stamp_due(now=timezone.now() + timedelta(seconds=settings.TSA_BATCH_SECONDS), force=True)
    assert run.stamped
    ends_at = cut_newest_incident(alice, newest)
    # A thorough insider also removes the database's own traces of the stamp.
    ChainMark.objects.filter(owner=alice).delete()
    Leaf.objects.filter(kind="chain", ref=str(alice.pk)).delete()

    code, output = run_verify()
    assert code == 1, output
    missing = f"seq {ends_at + 1}" if head.seq == ends_at + 1 else f"seq {ends_at + 1}–{head.seq}"
    assert f"audit chain owner={alice.pk}: cut off" in output
    assert f"ends at seq {ends_at}" in output and f"missing: {missing}" in output
    assert "ledger-records/heads/" in output  # where the head was recorded


def test_the_database_s_own_stamp_of_the_head_catches_a_cut_too(alice, alice_case, local_tsa, settings):
    """Without the store's record, the head last sent for a timestamp (ChainMark) and the stamped
    leaf still outlive a rewind that forgets them."""
    *_older, newest = calls(alice_case, 2)
    stamp_due(now=timezone.now() + timedelta(seconds=settings.TSA_BATCH_SECONDS), force=True)
    ends_at = cut_newest_incident(alice, newest)
    from django.core.files.storage import default_storage

    folder = f"ledger-records/heads/{alice.pk}"
    for name in default_storage.listdir(folder)[1]:
        default_storage.delete(f"{folder}/{name}")
    code, output = run_verify()
    assert code == 1, output
    assert f"owner={alice.pk}: cut off: the database's chain ends at seq {ends_at}" in output
    assert "stamps ChainMark, the last head sent for a timestamp" in output
    assert "the head the TSA stamped in batch" in output


def test_a_history_cut_off_past_an_issued_dossier_fails_without_a_tsa(alice, alice_case):
    calls(alice_case, 2)
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    newest = calls(alice_case, 1)[0]
    # The recorded head (at the issue) is before this incident: cutting it alone is not detectable
    # by the head, but cutting back past the issue is.
    issue = AuditEvent.objects.get(owner=alice, action="dossier.issue")
    cut_newest_incident(alice, newest)
    assert run_verify()[0] == 0
    AuditEvent.objects.filter(owner=alice, seq__gte=issue.seq).delete()
    last = AuditEvent.objects.filter(owner=alice).order_by("-seq").first()
    AuditHead.objects.filter(owner=alice).update(seq=last.seq, hash=last.hash)
    Dossier.objects.filter(pk=dossier.pk).update(status="failed")
    code, output = run_verify()
    assert code == 1, output
    assert f"owner={alice.pk}: cut off" in output and f"missing: seq {issue.seq}" in output


# --- rows of the other apps, compared with the chain ----------------------------------------------


@pytest.fixture
def followed(alice, alice_case):
    calls(alice_case, 1)
    sent = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
    complaint = complaint_log(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=sent,
        ticket_number="95188-1",
    )
    reply = reply_log(
        complaint=complaint, received_at=sent + timedelta(days=2), text="已转催收机构核实", outcome="other"
    )
    with written_on(sent - timedelta(hours=1)):
        notice = notice_create(owner=alice, case=alice_case)
    notice_mark_sent(notice=notice, sent_at=sent, channel="online_chat")
    return {"complaint": complaint, "reply": reply, "notice": notice}


def test_complaints_replies_and_notices_made_through_the_services_pass(followed):
    code, output = run_verify()
    assert code == 0, output


def test_a_complaint_edited_behind_the_services_is_named(followed):
    complaint = followed["complaint"]
    Complaint.objects.filter(pk=complaint.pk).update(ticket_number="95188-999")
    code, output = run_verify()
    assert code == 1
    assert f"complaint id {complaint.pk}" in output and "ticket_number '95188-1' in the audit chain" in output


def test_a_complaint_removed_behind_the_services_is_named(followed):
    complaint = followed["complaint"]
    Complaint.objects.filter(pk=complaint.pk).delete()  # its reply goes with it (a cascade)
    code, output = run_verify()
    assert code == 1
    assert f"complaint id {complaint.pk}: in the audit chain but missing from the database" in output
    assert f"reply id {followed['reply'].pk}: in the audit chain but missing from the database" in output


def test_a_reply_notice_or_hold_changed_behind_the_services_is_named(alice, alice_case, followed):
    ComplaintReply.objects.filter(pk=followed["reply"].pk).update(outcome="resolved")
    StopNotice.objects.filter(pk=followed["notice"].pk).update(sent_at=None, sent_channel="")
    Case.objects.filter(pk=alice_case.pk).update(hold_at=timezone.now(), hold_reason="x")
    code, output = run_verify()
    assert code == 1
    assert f"reply id {followed['reply'].pk} (complaint {followed['complaint'].pk}): changed" in output
    assert f"notice id {followed['notice'].pk}" in output and "sent_at" in output
    assert f"case id {alice_case.pk}" in output and "on hold since" in output


def test_a_hold_lifted_behind_the_services_is_named(alice, alice_case):
    case_hold(case=alice_case, reason="诉讼中")
    assert run_verify()[0] == 0
    Case.objects.filter(pk=alice_case.pk).update(hold_at=None, hold_reason="")
    code, output = run_verify()
    assert code == 1 and "hold changed without an audit record" in output


def test_an_issued_dossier_edited_or_removed_behind_the_services_is_named(alice, alice_case):
    calls(alice_case, 1)
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay")
    Dossier.objects.filter(pk=dossier.pk).update(pdf_sha256="0" * 64)
    code, output = run_verify()
    assert code == 1 and f"dossier id {dossier.pk}" in output and "pdf_sha256" in output
    Dossier.objects.filter(pk=dossier.pk).delete()
    code, output = run_verify()
    assert f"dossier id {dossier.pk}: in the audit chain but missing from the database" in output


def test_an_import_removed_behind_the_services_is_named(alice, alice_api, alice_case):
    response = post_import(alice_api, alice_case, calls_xml(sample_calls()))
    assert response.status_code == 201, response.content
    phone_import = PhoneImport.objects.get(case=alice_case)
    assert run_verify()[0] == 0
    PhoneImport.objects.filter(pk=phone_import.pk).update(sha256="f" * 64)
    code, output = run_verify()
    assert code == 1 and f"import id {phone_import.pk}: changed without an audit record" in output
    PhoneImport.objects.filter(pk=phone_import.pk).delete()
    code, output = run_verify()
    assert f"import id {phone_import.pk}: in the audit chain but missing from the database" in output
