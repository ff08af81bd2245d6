"""After the dossier: the stop-contact notice, contacts after it, complaints sent with their reply
deadlines, replies, and the escalation dossier that states them all."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.services import profile_for, profile_update
from complaints.followup import complaint_escalate, complaint_log, reply_log, standing
from complaints.models import Complaint, Dossier, StopNotice
from complaints.notices import notice_create, notice_mark_sent
from complaints.signing import check_signature, embedded_manifest
from evidence.models import Incident
from evidence.services import incident_create
from ledger.models import AuditEvent
from tests.clock import written_on
from tests.conftest import png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEEDS_PDFTOTEXT = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils is not installed"
)


def pdftotext(data: bytes, tmp_path) -> str:
    path = tmp_path / "f.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


@pytest.fixture
def named(alice):
    profile_update(profile=profile_for(alice), display_name="王小红", phone="13900001111")
    return alice


@pytest.fixture
def sent_notice(named, alice_case):
    # Written the day before it was sent (a notice cannot be sent before it exists).
    with written_on(datetime(2026, 3, 9, 18, 0, tzinfo=SHANGHAI)):
        notice = notice_create(owner=named, case=alice_case, allowed_channel="app_message")
    notice_mark_sent(
        notice=notice,
        sent_at=datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI),
        channel="online_chat",
        proof=SimpleUploadedFile("Screenshot_20260310-100000.png", png_bytes(size=(300, 600))),
    )
    return notice


@NEEDS_PDFTOTEXT
def test_a_notice_is_sealed_signed_and_says_what_the_person_accepts(named, alice_case, tmp_path):
    notice = notice_create(
        owner=named,
        case=alice_case,
        allowed_channel="sms",
        allowed_hours=(datetime.min.time().replace(hour=9), datetime.min.time().replace(hour=18)),
    )
    data = read(notice.pdf_name)
    assert hashlib.sha256(data).hexdigest() == notice.pdf_sha256
    manifest = embedded_manifest(data)
    assert hashlib.sha256(manifest).hexdigest() == notice.seal
    assert check_signature(data).ok
    text = pdftotext(data, tmp_path)
    for words in ("书面告知函", "王小红", "重庆蚂蚁消费金融有限公司", "09:00", "18:00", "第十五条", "短信"):
        assert words in text.replace(" ", "").replace("\n", "") or words in text, words
    # The plain text for the chat window says the same.
    assert "第十五条" in notice.text and "09:00" in notice.text and "家人" in notice.text
    assert "139****1111" in notice.text  # the login phone, masked
    assert AuditEvent.objects.filter(owner=named, action="notice.create").count() == 1


def test_an_english_notice(named, alice_case):
    notice = notice_create(owner=named, case=alice_case, language="en")
    assert "Article 15 of the Personal Information Protection Law" in notice.text
    assert "Do not contact my family" in notice.text


def test_marking_a_notice_sent_keeps_the_screenshot_as_evidence(named, alice_case, sent_notice):
    sent_notice.refresh_from_db()
    assert sent_notice.sent_channel == "online_chat"
    assert sent_notice.proof.incident_id == sent_notice.proof_incident_id
    assert sent_notice.proof.original_name.startswith("Screenshot_")
    events = list(AuditEvent.objects.filter(owner=named).values_list("action", flat=True))
    assert "notice.sent" in events and "evidence.store" in events
    alice_case.refresh_from_db()
    assert alice_case.rule_context["notices"][0]["date"] == "2026-03-10"
    # The person's own entry is judged by no rule.
    assert alice_case.rule_context["own"] == [sent_notice.proof_incident_id]


def test_a_notice_cannot_be_marked_sent_twice(named, alice_case, sent_notice):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        notice_mark_sent(notice=sent_notice, sent_at=datetime(2026, 3, 11, tzinfo=SHANGHAI), channel="letter")


def test_contacts_after_the_notice_outside_its_terms_are_flagged_with_its_date(
    named, alice_case, sent_notice
):
    def log(at, **fields):
        incident = incident_create(case=alice_case, occurred_at=at, **fields)
        return {v["rule"]: v for v in incident.violations}

    before = log(datetime(2026, 3, 9, 12, 0, tzinfo=SHANGHAI), kind="call", contacted=["employer"])
    assert "CN-NOTICE-1" not in before and "after_notice" not in before["CN-3P-1"]["params"]
    employer = log(datetime(2026, 3, 12, 11, 0, tzinfo=SHANGHAI), kind="call", contacted=["employer"])
    assert employer["CN-NOTICE-1"]["params"]["reasons"] == ["channel", "third_party"]
    assert employer["CN-3P-1"]["params"]["after_notice"] == "2026-03-10"
    in_app_at_noon = log(
        datetime(2026, 3, 12, 12, 0, tzinfo=SHANGHAI), kind="app_message", contacted=["self"]
    )
    assert in_app_at_noon == {}
    in_app_at_night = log(datetime(2026, 3, 12, 21, 30, tzinfo=SHANGHAI), kind="app_message")
    assert in_app_at_night["CN-NOTICE-1"]["params"]["reasons"] == ["hours"]


def test_the_api_marks_violations_after_the_notice(named, alice_case, sent_notice):
    from tests.conftest import api_client_for

    api = api_client_for(named)
    incident = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 12, 11, 0, tzinfo=SHANGHAI),
        contacted=["family"],
    )
    body = api.get(f"/api/v1/incidents/{incident.pk}/").json()
    shown = {v["rule"]: v for v in body["violations"]}
    assert shown["CN-NOTICE-1"]["after_notice"] is True
    assert "2026-03-10" in shown["CN-NOTICE-1"]["explanation"]
    earlier = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 1, 11, tzinfo=SHANGHAI),
        contacted=["family"],
    )
    shown = api.get(f"/api/v1/incidents/{earlier.pk}/").json()["violations"]
    assert shown and all(v["after_notice"] is False for v in shown)


def test_the_notice_api(named, alice_case):
    from tests.conftest import api_client_for

    api = api_client_for(named)
    response = api.post(
        "/api/v1/notices/",
        {"case": alice_case.pk, "allowed_channel": "sms", "allowed_hours": "10:00-19:00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="n-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sent_at"] is None and len(body["pdf_sha256"]) == 64 and "10:00" in body["text"]
    again = api.post(
        "/api/v1/notices/",
        {"case": alice_case.pk, "allowed_channel": "sms", "allowed_hours": "10:00-19:00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="n-1",
    )
    assert again.json() == body and StopNotice.objects.count() == 1
    pdf = api.get(f"/api/v1/notices/{body['id']}/pdf")
    assert (
        pdf.status_code == 200
        and hashlib.sha256(b"".join(pdf.streaming_content)).hexdigest() == body["pdf_sha256"]
    )
    early = api.post(
        f"/api/v1/notices/{body['id']}/sent",
        {"sent_at": "2026-03-10T10:00:00+08:00", "channel": "online_chat"},
        format="json",
    )
    assert early.status_code == 400 and "sent_at" in early.json()["error"]["fields"]
    now = timezone.localtime(timezone.now()).replace(microsecond=0)
    sent = api.post(
        f"/api/v1/notices/{body['id']}/sent",
        {"sent_at": now.isoformat(), "channel": "online_chat"},
        format="json",
    )
    assert sent.status_code == 200 and sent.json()["sent_at"].startswith(now.isoformat()[:19])
    bad = api.post("/api/v1/notices/", {"case": alice_case.pk, "allowed_hours": "late"}, format="json")
    assert bad.status_code == 400 and "allowed_hours" in bad.json()["error"]["fields"]


def test_another_users_notice_and_complaint_are_not_found(named, alice_case, bob, sent_notice):
    from tests.conftest import api_client_for

    complaint = complaint_log(
        owner=named,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, tzinfo=SHANGHAI),
    )
    api = api_client_for(bob)
    assert api.get(f"/api/v1/notices/{sent_notice.pk}/").status_code == 404
    assert api.get(f"/api/v1/notices/{sent_notice.pk}/pdf").status_code == 404
    assert api.get(f"/api/v1/complaints/{complaint.pk}/").status_code == 404
    assert api.post(f"/api/v1/complaints/{complaint.pk}/replies/", {}, format="json").status_code == 404
    assert (
        api.post(
            "/api/v1/complaints/",
            {
                "case": alice_case.pk,
                "addressee": "alipay",
                "channel": "phone",
                "sent_at": "2026-03-12T09:00:00+08:00",
            },
            format="json",
        ).status_code
        == 404
    )


def test_the_complaints_api_gives_the_deadline_and_status(named, alice_case, settings):
    from tests.conftest import api_client_for

    api = api_client_for(named)
    response = api.post(
        "/api/v1/complaints/",
        {
            "case": alice_case.pk,
            "addressee": "alipay",
            "channel": "phone",
            "sent_at": "2026-03-12T09:30:00+08:00",
            "ticket_number": "GD20260312001",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="c-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reply_due"] == "2026-03-27" and body["ticket_number"] == "GD20260312001"
    assert body["replies"] == [] and body["deadline_source"]["mark"] == "V"
    settings.FOLLOWUP_NOW = "2026-03-20T12:00:00+08:00"
    assert api.get(f"/api/v1/complaints/{body['id']}/").json()["status"] == "waiting"
    settings.FOLLOWUP_NOW = "2026-03-28T12:00:00+08:00"
    assert api.get(f"/api/v1/complaints/?case={alice_case.pk}").json()["results"][0]["status"] == "overdue"
    # The institution said it is complex: 30 days, waiting again.
    patched = api.patch(f"/api/v1/complaints/{body['id']}/", {"deadline": "complex"}, format="json").json()
    assert patched["reply_due"] == "2026-04-11" and patched["status"] == "waiting"
    reply = api.post(
        f"/api/v1/complaints/{body['id']}/replies/",
        {"received_at": "2026-03-29T15:00:00+08:00", "text": "已转催收机构核实", "outcome": "partly"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r-1",
    )
    assert reply.status_code == 201, reply.content
    detail = api.get(f"/api/v1/complaints/{body['id']}/").json()
    assert detail["status"] == "answered" and detail["replies"][0]["text"] == "已转催收机构核实"
    actions = set(AuditEvent.objects.filter(owner=named).values_list("action", flat=True))
    assert {"complaint.log", "complaint.update", "complaint.reply"} <= actions


def test_a_reply_screenshot_is_evidence_and_not_a_collection_event(named, alice_case):
    complaint = complaint_log(
        owner=named,
        case=alice_case,
        addressee="alipay",
        channel="online_chat",
        sent_at=datetime(2026, 3, 12, 9, tzinfo=SHANGHAI),
    )
    reply = reply_log(
        complaint=complaint,
        received_at=datetime(2026, 3, 14, 23, 0, tzinfo=SHANGHAI),
        text="已受理",
        outcome="other",
        upload=SimpleUploadedFile("reply.png", png_bytes()),
    )
    assert reply.evidence.sha256 == hashlib.sha256(png_bytes()).hexdigest()
    incident = Incident.objects.get(pk=reply.incident_id)
    assert incident.violations == []  # at 23:00, yet the person's own entry is judged by no rule
    alice_case.refresh_from_db()
    assert alice_case.rule_context["own"] == [incident.pk]


def test_deadlines_come_from_the_data_file(named, alice_case, settings, tmp_path):
    from complaints.deadlines import DEADLINES_FILE

    complaint = complaint_log(
        owner=named,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, tzinfo=SHANGHAI),
    )
    settings.FOLLOWUP_NOW = "2026-03-20T12:00:00+08:00"
    assert standing(complaint).days_left == 7
    changed = tmp_path / "deadlines.toml"
    changed.write_text(
        DEADLINES_FILE.read_text(encoding="utf-8").replace(
            'code = "standard", days = 15', 'code = "standard", days = 10'
        ),
        encoding="utf-8",
    )
    settings.COMPLAINT_DEADLINES_FILE = str(changed)
    state = standing(complaint)
    assert state.due.isoformat() == "2026-03-22" and state.days_left == 2


@NEEDS_PDFTOTEXT
def test_escalation_builds_a_12378_dossier_stating_the_complaint_the_notice_and_the_contact_after_it(
    named, alice_case, sent_notice, settings, tmp_path
):
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 12, 11, 0, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        contacted=["employer"],
        description="打到我单位前台",
    )
    complaint = complaint_log(
        owner=named,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, 30, tzinfo=SHANGHAI),
        ticket_number="GD20260312001",
    )
    dossier = complaint_escalate(complaint=complaint)
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    assert dossier.addressee == "nfra" and dossier.follows == [complaint.pk]
    manifest = json.loads(dossier.manifest)
    follows = manifest["letter"]["follows"]
    assert follows[0]["ticket"] == "GD20260312001" and follows[0]["date"] == "2026-03-12"
    assert manifest["letter"]["notice"]["date"] == "2026-03-10"
    assert [c["kind"] for c in manifest["letter"]["after_notice"]] == ["call"]
    # The entry holding the notice's screenshot is the person's own record, not a collection event:
    # not counted, not listed, but its file is in the evidence index.
    assert manifest["statistics"]["total"] == 1
    assert sent_notice.proof_incident_id not in [i["id"] for i in manifest["incidents"]]
    assert sent_notice.proof.sha256 in [f["sha256"] for f in manifest["evidence"]]
    text = pdftotext(read(dossier.pdf_name), tmp_path).replace("\n", "").replace(" ", "")
    for words in (
        "国家金融监督管理总局",
        "GD20260312001",
        "2026-03-12",
        "逾期未答复",
        "打到我单位前台",
        "书面告知",
    ):
        assert words in text, words
    assert "2026-03-10" in text


def test_a_reply_is_stated_instead_of_overdue(named, alice_case, sent_notice):
    complaint = complaint_log(
        owner=named,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, tzinfo=SHANGHAI),
    )
    reply_log(
        complaint=complaint,
        received_at=datetime(2026, 3, 20, 9, tzinfo=SHANGHAI),
        text="已核实，无违规",
        outcome="rejected",
    )
    dossier = complaint_escalate(complaint=complaint, language="en")
    dossier.refresh_from_db()
    entry = json.loads(dossier.manifest)["letter"]["follows"][0]
    assert entry["replies"][0]["text"] == "已核实，无违规" and entry["overdue_days"] is None
    assert entry["channel_label"] == "Phone call (e.g. 95188, 12378)"


def test_escalation_offers_the_police_only_where_threats_or_violence_are_logged(named, alice_case):
    from complaints.followup import escalation_choices

    assert [c["code"] for c in escalation_choices(case=alice_case, language="zh-hans")] == ["nfra", "pboc"]
    incident_create(
        case=alice_case, kind="call", occurred_at=datetime(2026, 3, 1, tzinfo=SHANGHAI), flags=["threat"]
    )
    assert [c["code"] for c in escalation_choices(case=alice_case, language="zh-hans")] == [
        "nfra",
        "pboc",
        "police",
    ]


def test_a_dossier_follows_only_complaints_of_its_case(named, alice_case):
    from django.core.exceptions import ValidationError

    from complaints.services import dossier_create
    from evidence.services import case_create

    other = case_create(owner=named, title="白条", creditor="baitiao")
    foreign = complaint_log(
        owner=named,
        case=other,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 1, tzinfo=SHANGHAI),
    )
    incident_create(case=alice_case, kind="call", occurred_at=datetime(2026, 3, 1, tzinfo=SHANGHAI))
    with pytest.raises(ValidationError) as error:
        dossier_create(owner=named, case=alice_case, addressee="nfra", follows=[foreign.pk])
    assert "follows" in error.value.message_dict
    assert Complaint.objects.count() == 1


def test_the_dossier_api_takes_follows(named, alice_case):
    from tests.conftest import api_client_for

    incident_create(case=alice_case, kind="call", occurred_at=datetime(2026, 3, 11, 23, tzinfo=SHANGHAI))
    complaint = complaint_log(
        owner=named,
        case=alice_case,
        addressee="alipay",
        channel="online_chat",
        sent_at=datetime(2026, 3, 12, 9, tzinfo=SHANGHAI),
        ticket_number="GD9",
    )
    api = api_client_for(named)
    response = api.post(
        "/api/v1/dossiers/",
        {"case": alice_case.pk, "addressee": "nfra", "language": "zh-hans", "follows": [complaint.pk]},
        format="json",
    )
    assert response.status_code in (201, 202), response.content
    assert response.json()["follows"] == [complaint.pk]
    manifest = json.loads(Dossier.objects.get().manifest)
    assert manifest["letter"]["follows"][0]["ticket"] == "GD9"
    escalated = api.post(f"/api/v1/complaints/{complaint.pk}/escalate", {}, format="json")
    assert escalated.status_code in (201, 202) and escalated.json()["follows"] == [complaint.pk]


@NEEDS_PDFTOTEXT
def test_an_english_escalation_letter(named, alice_case, sent_notice, tmp_path):
    incident_create(
        case=alice_case,
        kind="sms",
        occurred_at=datetime(2026, 3, 12, 22, 30, tzinfo=SHANGHAI),
        description="texted at night after the notice",
    )
    complaint = complaint_log(
        owner=named,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 13, 9, tzinfo=SHANGHAI),
        ticket_number="GD77",
    )
    dossier = complaint_escalate(complaint=complaint, language="en")
    dossier.refresh_from_db()
    text = " ".join(pdftotext(read(dossier.pdf_name), tmp_path).split())
    for words in (
        "Written notice",
        "On 2026-03-10 I sent the lender a written notice",
        "Earlier complaints and replies",
        "GD77",
        "days past the deadline without a reply",
        "Article 18",
    ):
        assert words in text, words


def test_the_api_takes_the_notice_proof_and_the_reply_screenshot_as_files(named, alice_case):
    from tests.conftest import api_client_for

    api = api_client_for(named)
    notice = api.post("/api/v1/notices/", {"case": alice_case.pk}, format="json").json()
    sent = api.post(
        f"/api/v1/notices/{notice['id']}/sent",
        {
            "sent_at": timezone.now().isoformat(),
            "channel": "online_chat",
            "file": SimpleUploadedFile("chat.png", png_bytes()),
        },
        format="multipart",
    )
    assert sent.status_code == 200, sent.content
    assert sent.json()["proof"] is not None
    complaint = api.post(
        "/api/v1/complaints/",
        {
            "case": alice_case.pk,
            "addressee": "alipay",
            "channel": "online_chat",
            "sent_at": "2026-03-11T09:00:00+08:00",
        },
        format="json",
    ).json()
    reply = api.post(
        f"/api/v1/complaints/{complaint['id']}/replies/",
        {
            "received_at": "2026-03-12T09:00:00+08:00",
            "text": "已受理",
            "outcome": "other",
            "file": SimpleUploadedFile("reply.png", png_bytes(size=(80, 40))),
        },
        format="multipart",
    )
    assert reply.status_code == 201, reply.content
    assert reply.json()["evidence"]["sha256"] == hashlib.sha256(png_bytes(size=(80, 40))).hexdigest()
