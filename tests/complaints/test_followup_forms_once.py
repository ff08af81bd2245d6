"""The follow-up forms carry a one-time token, like the log forms: the same complaint, reply or
"notice sent" posted twice (a double tap, or the offline outbox sending it again after a lost answer)
is saved once, and the repeat lands where the first one did."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from complaints import followup, notices
from complaints.models import Complaint, ComplaintReply

pytestmark = pytest.mark.django_db


def once(html: str) -> str:
    match = re.search(r'name="once"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="once"', html)
    assert match, "the form carries no one-time token"
    return match.group(1) or match.group(2)


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def test_a_complaint_posted_twice_is_logged_once(logged_in, alice_case):
    url = f"/cases/{alice_case.pk}/complaints/new/"
    data = {
        "addressee": "alipay",
        "channel": "phone",
        "sent_at": "2026-03-02T10:00",
        "ticket_number": "T-778899",
        "once": once(logged_in.get(url).content.decode()),
    }
    first = logged_in.post(url, data)
    again = logged_in.post(url, data)
    complaint = Complaint.objects.get(case=alice_case)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == f"/complaints/{complaint.pk}/"
    assert complaint.ticket_number == "T-778899"


def test_a_reply_posted_twice_is_logged_once(logged_in, alice_case):
    complaint = followup.complaint_log(
        owner=alice_case.owner, case=alice_case, addressee="alipay", channel="phone", sent_at=timezone.now()
    )
    url = f"/complaints/{complaint.pk}/"
    data = {
        "form": "reply",
        "received_at": "2026-03-05T09:30",
        "outcome": "rejected",
        "text": "客服说无法处理",
        "once": once(logged_in.get(url).content.decode()),
    }
    assert logged_in.post(url, data).status_code == 302
    assert logged_in.post(url, data).status_code == 302
    assert list(ComplaintReply.objects.filter(complaint=complaint).values_list("text", flat=True)) == [
        "客服说无法处理"
    ]


def test_marking_a_notice_sent_twice_answers_the_repeat_as_saved(logged_in, alice, alice_case):
    notice = notices.notice_create(owner=alice, case=alice_case)
    url = f"/notices/{notice.pk}/"
    sent_at = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    data = {"sent_at": sent_at, "channel": "online_chat", "once": once(logged_in.get(url).content.decode())}
    first = logged_in.post(url, data)
    again = logged_in.post(url, data)
    assert first.status_code == again.status_code == 302 and first["Location"] == again["Location"]
    notice.refresh_from_db()
    assert notice.sent_at is not None and notice.sent_channel == "online_chat"
    # Another form (a new token) cannot mark it again.
    other = logged_in.post(url, {**data, "channel": "email", "once": "x" * 22})
    notice.refresh_from_db()
    assert other.status_code == 200 and notice.sent_channel == "online_chat"
