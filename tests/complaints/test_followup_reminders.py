"""Reply-deadline reminders: due before the deadline and when it passes, each sent exactly once,
however often and from however many workers the reminder task runs (also on PostgreSQL in the
production-like run)."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.db import connection

from complaints.followup import complaint_log, complaint_update, reminders_send
from complaints.models import Reminder
from ledger.models import AuditEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")


class SlowBackend(EmailBackend):
    """Takes its time, so two workers surely overlap while one is sending."""

    def send_messages(self, messages):
        time.sleep(0.5)
        return super().send_messages(messages)


class BrokenBackend(EmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


@pytest.fixture
def complaint(alice, alice_case):
    alice.email = "alice@example.org"
    alice.save()
    return complaint_log(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, 30, tzinfo=SHANGHAI),
        ticket_number="GD20260312001",
    )


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+08:00")


def test_a_reminder_before_the_deadline_and_one_when_it_passes_each_once(complaint):
    assert reminders_send(at=at("2026-03-20")).sent == []  # due 03-27: too early
    assert reminders_send(at=at("2026-03-24")).sent == [(complaint.pk, "due_soon")]
    assert reminders_send(at=at("2026-03-25")).sent == []
    assert len(mail.outbox) == 1 and "2026-03-27" in mail.outbox[0].subject
    overdue = reminders_send(at=at("2026-03-28"))
    assert overdue.sent == [(complaint.pk, "overdue")]
    for _again in range(3):
        assert reminders_send(at=at("2026-03-29")).sent == []
    assert len(mail.outbox) == 2
    message = mail.outbox[1]
    assert message.to == ["alice@example.org"]
    assert "GD20260312001" in message.body and f"/cases/{complaint.case_id}/" in message.body
    assert AuditEvent.objects.filter(action="complaint.reminder").count() == 2


def test_an_extension_moves_the_deadline_and_its_reminders(complaint):
    reminders_send(at=at("2026-03-28"))
    complaint_update(complaint=complaint, deadline="complex")  # now due 2026-04-11
    assert reminders_send(at=at("2026-03-29")).sent == []
    assert reminders_send(at=at("2026-04-09")).sent == [(complaint.pk, "due_soon")]
    assert reminders_send(at=at("2026-04-12")).sent == [(complaint.pk, "overdue")]
    assert len(mail.outbox) == 3


def test_no_reminder_once_a_reply_is_logged_or_the_complaint_is_closed(complaint):
    from complaints.followup import reply_log

    reply_log(complaint=complaint, received_at=at("2026-03-20"), text="已处理", outcome="resolved")
    assert reminders_send(at=at("2026-03-30")).sent == []
    assert mail.outbox == []


def test_a_failed_mail_is_tried_again_on_the_next_run(complaint, settings):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"
    run = reminders_send(at=at("2026-03-28"))
    assert run.sent == []
    assert [(pk, kind) for pk, kind, _reason in run.failed] == [(complaint.pk, "overdue")]
    assert "the mail server is down" in run.failed[0][2]
    assert not Reminder.objects.exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert reminders_send(at=at("2026-03-28")).sent == [(complaint.pk, "overdue")]
    assert len(mail.outbox) == 1


def test_the_command_takes_a_time_and_sends_once(complaint):
    out = StringIO()
    call_command("send_reminders", "--now", "2026-03-28T12:00:00+08:00", stdout=out)
    call_command("send_reminders", "--now", "2026-03-28T12:05:00+08:00", stdout=out)
    assert "reminders sent: 1" in out.getvalue() and "already sent: 1" in out.getvalue()
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_the_same_moment_send_each_reminder_once(django_user_model, settings):
    from evidence.services import case_create

    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    owner = django_user_model.objects.create_user(
        "erin", password="erin-password-1", email="erin@example.org"
    )
    case = case_create(owner=owner, title="花呗", creditor="huabei")
    complaints = [
        complaint_log(
            owner=owner,
            case=case,
            addressee="alipay",
            channel="phone",
            sent_at=datetime(2026, 3, day, 9, tzinfo=SHANGHAI),
            ticket_number=f"T{day}",
        )
        for day in (10, 11, 12)
    ]
    start = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.append(reminders_send(at=at("2026-03-30")))
        except Exception as exc:  # reported below, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert sorted(sent for run in results for sent in run.sent) == sorted(
        (c.pk, "overdue") for c in complaints
    )
    assert len(mail.outbox) == 3
    # One mail per complaint: each ticket number once.
    tickets = [t for m in mail.outbox for t in ("T10", "T11", "T12") if t in m.body]
    assert sorted(tickets) == ["T10", "T11", "T12"]
    assert Reminder.objects.count() == 3
    assert AuditEvent.objects.filter(owner=owner, action="complaint.reminder").count() == 3


def test_a_line_break_in_one_addressee_stops_neither_the_run_nor_the_other_reminders(
    complaint, django_user_model
):
    from evidence.services import case_create

    # bob's addressee was typed with line breaks (the API takes any text); the mail library refuses
    # a subject holding one.
    bob = django_user_model.objects.create_user("bob", password="bob-password-1", email="bob@example.org")
    odd = complaint_log(
        owner=bob,
        case=case_create(owner=bob, title="白条", creditor="baitiao"),
        addressee="custom",
        addressee_name="某某银行\r\nBcc: victim@example.org\n客服部",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, 30, tzinfo=SHANGHAI),
    )
    run = reminders_send(at=at("2026-03-28"))
    assert run.failed == []
    assert sorted(run.sent) == sorted([(complaint.pk, "overdue"), (odd.pk, "overdue")])
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "bob@example.org"]
    (sent,) = [m for m in mail.outbox if m.to == ["bob@example.org"]]
    assert "\n" not in sent.subject and "\r" not in sent.subject
    assert "某某银行 Bcc: victim@example.org 客服部" in sent.subject
    assert sent.bcc == []


def test_a_reminder_that_cannot_be_sent_is_logged_and_the_others_still_go(
    complaint, django_user_model, monkeypatch, caplog
):
    from complaints import followup
    from evidence.services import case_create

    bob = django_user_model.objects.create_user("bob", password="bob-password-1", email="bob@example.org")
    other = complaint_log(
        owner=bob,
        case=case_create(owner=bob, title="白条", creditor="baitiao"),
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, 30, tzinfo=SHANGHAI),
    )
    real = followup._reminder_mail

    def broken_for_alice(c, kind, state):
        if c.pk == complaint.pk:
            raise ValueError("a header the mail library refuses")
        return real(c, kind, state)

    monkeypatch.setattr(followup, "_reminder_mail", broken_for_alice)
    with caplog.at_level("WARNING", logger="complaints.followup"):
        run = reminders_send(at=at("2026-03-28"))
    assert run.sent == [(other.pk, "overdue")]
    assert run.failed == [(complaint.pk, "overdue", "ValueError: a header the mail library refuses")]
    assert [m.to for m in mail.outbox] == [["bob@example.org"]]
    assert any("a header the mail library refuses" in r.getMessage() for r in caplog.records)
    # Nothing was recorded for the failed one: the next run sends it.
    monkeypatch.setattr(followup, "_reminder_mail", real)
    assert reminders_send(at=at("2026-03-28")).sent == [(complaint.pk, "overdue")]
    assert len(mail.outbox) == 2
