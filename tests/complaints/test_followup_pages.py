"""The follow-up pages: notice, complaint, reply, the case page's progress panel and escalation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints.followup import complaint_log
from complaints.models import Complaint, Dossier, StopNotice
from tests.conftest import png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_the_case_page_offers_the_notice_and_lists_dossiers(signed_in, alice_case):
    page = signed_in.get(f"/cases/{alice_case.pk}/").content.decode()
    assert 'id="followup"' in page and f"/cases/{alice_case.pk}/notices/new/" in page
    assert f"/cases/{alice_case.pk}/complaints/new/" in page


def test_make_a_notice_and_mark_it_sent_with_a_screenshot(signed_in, alice_case):
    from tests.clock import written_on

    # Written on 9 March; a notice cannot be sent before it was written (issue 26).
    with written_on(datetime(2026, 3, 9, 20, 0, tzinfo=SHANGHAI)):
        response = signed_in.post(
            f"/cases/{alice_case.pk}/notices/new/",
            {
                "allowed_channel": "app_message",
                "hours_from": "09:00",
                "hours_until": "20:00",
                "language": "zh-hans",
            },
        )
    notice = StopNotice.objects.get()
    assert response.status_code == 302 and response.url == f"/notices/{notice.pk}/"
    page = signed_in.get(response.url).content.decode()
    assert notice.seal in page and "第十五条" in page
    pdf = signed_in.get(f"/notices/{notice.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    sent = signed_in.post(
        f"/notices/{notice.pk}/",
        {
            "sent_at": "2026-03-10T10:00",
            "channel": "online_chat",
            "proof": SimpleUploadedFile("chat.png", png_bytes(), content_type="image/png"),
        },
    )
    assert sent.status_code == 302, sent.content.decode()[-2000:]
    notice.refresh_from_db()
    assert notice.sent_at == datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI) and notice.proof is not None
    page = signed_in.get(f"/cases/{alice_case.pk}/").content.decode()
    assert "2026-03-10" in page


def test_log_a_complaint_then_the_case_shows_it_overdue_and_escalates(signed_in, alice, alice_case, settings):
    from evidence.services import incident_create

    incident_create(case=alice_case, kind="call", occurred_at=datetime(2026, 3, 11, 23, tzinfo=SHANGHAI))
    response = signed_in.post(
        f"/cases/{alice_case.pk}/complaints/new/",
        {"addressee": "alipay", "channel": "phone", "sent_at": "2026-03-12T09:30", "ticket_number": "GD1"},
    )
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and complaint.ticket_number == "GD1"
    settings.FOLLOWUP_NOW = "2026-03-20T12:00:00+08:00"
    page = signed_in.get(f"/cases/{alice_case.pk}/").content.decode()
    assert "GD1" in page and "status-waiting" in page
    settings.FOLLOWUP_NOW = "2026-03-30T12:00:00+08:00"
    page = signed_in.get(f"/cases/{alice_case.pk}/").content.decode()
    assert "status-overdue" in page and "banner overdue" in page and "escalate-nfra" in page
    detail = signed_in.get(f"/complaints/{complaint.pk}/").content.decode()
    assert "escalate-nfra" in detail and "escalate-police" not in detail
    escalated = signed_in.post(f"/complaints/{complaint.pk}/escalate/", {"addressee": "nfra"})
    dossier = Dossier.objects.get()
    assert escalated.status_code == 302 and escalated.url == f"/dossiers/{dossier.pk}/"
    assert dossier.addressee == "nfra" and dossier.follows == [complaint.pk]


def test_log_a_reply_with_a_screenshot_and_extend_the_deadline(signed_in, alice, alice_case):
    complaint = complaint_log(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, tzinfo=SHANGHAI),
    )
    signed_in.post(f"/complaints/{complaint.pk}/", {"form": "deadline", "deadline": "special"})
    complaint.refresh_from_db()
    assert complaint.deadline == "special"
    response = signed_in.post(
        f"/complaints/{complaint.pk}/",
        {
            "form": "reply",
            "received_at": "2026-03-20T15:00",
            "outcome": "rejected",
            "text": "经核实不存在违规",
            "evidence": SimpleUploadedFile("reply.png", png_bytes(), content_type="image/png"),
        },
    )
    assert response.status_code == 302
    reply = complaint.replies.get()
    assert reply.text == "经核实不存在违规" and reply.evidence is not None
    page = signed_in.get(f"/complaints/{complaint.pk}/").content.decode()
    assert "经核实不存在违规" in page and "escalate-nfra" in page  # a rejection offers the next step


def test_another_users_pages_are_not_found(client, bob, alice, alice_case):
    complaint = complaint_log(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, tzinfo=SHANGHAI),
    )
    client.force_login(bob)
    assert client.get(f"/complaints/{complaint.pk}/").status_code == 404
    assert client.post(f"/complaints/{complaint.pk}/escalate/", {"addressee": "nfra"}).status_code == 404
    assert client.get(f"/cases/{alice_case.pk}/notices/new/").status_code == 404
