"""Cases, quick-log forms, the timeline and amendments, through the pages a person uses."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import profile_for, profile_update
from evidence.models import Case, Incident
from evidence.services import incident_create
from ledger.models import AuditEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def test_creating_a_huabei_case_suggests_the_lender(logged_in):
    response = logged_in.post("/cases/new/", {"title": "我的花呗", "creditor": "huabei"})
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert case.lender_name == "重庆蚂蚁消费金融有限公司"


def test_editing_a_case_is_recorded(logged_in, alice_case):
    logged_in.post(
        f"/cases/{alice_case.pk}/edit/",
        {"title": "花呗（更新）", "creditor": "huabei", "collectors": "17012345678"},
    )
    alice_case.refresh_from_db()
    assert alice_case.title == "花呗（更新）"
    event = AuditEvent.objects.get(action="case.update")
    assert (
        event.payload["before"]["title"] == "花呗催收" and event.payload["after"]["title"] == "花呗（更新）"
    )


def test_a_night_call_is_entered_and_shown_in_the_users_time_zone(logged_in, alice_case):
    response = logged_in.post(
        f"/cases/{alice_case.pk}/log/call/",
        {
            "occurred_at": "2024-03-15T23:40",
            "duration": "2:05",
            "answered": "true",
            "counterpart_number": "17012345678",
            "flags": ["threat"],
            "contacted": ["self"],
            "description": "威胁明天上门",
        },
    )
    incident = Incident.objects.get()
    assert response["Location"] == f"/incidents/{incident.pk}/"
    assert incident.occurred_at == datetime(2024, 3, 15, 23, 40, tzinfo=SHANGHAI)
    assert incident.duration_seconds == 125 and incident.answered is True and incident.flags == ["threat"]
    page = logged_in.get(f"/cases/{alice_case.pk}/").content.decode()
    assert "2024-03-15 23:40:00" in page and "威胁明天上门" in page


def test_times_follow_the_profile_time_zone(logged_in, alice, alice_case):
    profile_update(profile=profile_for(alice), time_zone="America/New_York")
    logged_in.post(f"/cases/{alice_case.pk}/log/sms/", {"occurred_at": "2024-07-01T21:15"})
    incident = Incident.objects.get()
    assert incident.occurred_at == datetime(2024, 7, 1, 21, 15, tzinfo=ZoneInfo("America/New_York"))
    assert "2024-07-01 21:15:00" in logged_in.get(f"/cases/{alice_case.pk}/").content.decode()


def test_impossible_dates_are_refused_and_nothing_is_created(logged_in, alice_case):
    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    for value in ("2024-02-30T10:00", "not a date", future):
        response = logged_in.post(f"/cases/{alice_case.pk}/log/call/", {"occurred_at": value})
        assert response.status_code == 200
        assert response.context["form"].errors["occurred_at"]
    assert Incident.objects.count() == 0


def test_each_kind_has_its_own_form(logged_in, alice_case):
    visit = logged_in.get(f"/cases/{alice_case.pk}/log/visit/").context["form"]
    call = logged_in.get(f"/cases/{alice_case.pk}/log/call/").context["form"]
    assert "visitors" in visit.fields and "visitors" not in call.fields
    assert "answered" in call.fields and "answered" not in visit.fields
    assert "entered_home" in dict(visit.fields["flags"].choices)
    assert logged_in.get(f"/cases/{alice_case.pk}/log/fax/").status_code == 404


def test_amending_keeps_logged_at_and_shows_when(logged_in, alice_incident):
    logged_at = alice_incident.logged_at
    response = logged_in.post(
        f"/incidents/{alice_incident.pk}/edit/",
        {
            "occurred_at": "2024-03-15T23:05",
            "duration": "120",
            "answered": "true",
            "counterpart_number": "17012345678",
            "description": "更正：对方自称法院",
        },
    )
    assert response.status_code == 302
    alice_incident.refresh_from_db()
    assert alice_incident.logged_at == logged_at and alice_incident.amended_at is not None
    page = logged_in.get(f"/incidents/{alice_incident.pk}/").content.decode()
    assert "深夜催收电话" in page and "更正：对方自称法院" in page  # before and after both shown
    event = AuditEvent.objects.get(action="incident.amend")
    assert event.payload["before"] == {"description": "深夜催收电话"}


def make_incidents(case, count, kind="call", start=None):
    start = start or datetime(2024, 3, 1, 9, 0, tzinfo=SHANGHAI)
    Incident.objects.bulk_create(
        [
            Incident(
                case=case, kind=kind, occurred_at=start + timedelta(minutes=37 * i), counterpart_number="170"
            )
            for i in range(count)
        ]
    )


def test_timeline_is_newest_first_paginated_and_counted(logged_in, alice_case):
    make_incidents(alice_case, 120)
    make_incidents(alice_case, 3, kind="visit", start=datetime(2024, 2, 1, 10, tzinfo=SHANGHAI))
    response = logged_in.get(f"/cases/{alice_case.pk}/")
    page = response.context["page"]
    assert page.paginator.count == 123 and len(page.object_list) == 50
    times = [i.occurred_at for i in page.object_list]
    assert times == sorted(times, reverse=True)
    counts = {kind: n for kind, _label, n in response.context["counts"]}
    assert counts["call"] == 120 and counts["visit"] == 3 and counts["sms"] == 0
    last = logged_in.get(f"/cases/{alice_case.pk}/?page=3").context["page"]
    assert len(last.object_list) == 23


def test_timeline_filters_by_kind_and_local_date_range(logged_in, alice_case):
    make_incidents(alice_case, 100)  # 2024-03-01 09:00 onward, every 37 minutes
    make_incidents(alice_case, 2, kind="visit")
    visits = logged_in.get(f"/cases/{alice_case.pk}/?kind=visit").context["page"]
    assert {i.kind for i in visits.object_list} == {"visit"} and visits.paginator.count == 2
    day = logged_in.get(f"/cases/{alice_case.pk}/?kind=call&date_from=2024-03-02&date_to=2024-03-02")
    local_days = {timezone.localtime(i.occurred_at, SHANGHAI).date().isoformat() for i in day.context["page"]}
    assert local_days == {"2024-03-02"}
    bad = logged_in.get(f"/cases/{alice_case.pk}/?date_from=2024-03-05&date_to=2024-03-01")
    assert bad.context["filters"].errors


def test_timeline_query_count_does_not_grow_with_incidents(
    logged_in, alice_case, django_assert_max_num_queries
):
    make_incidents(alice_case, 10)
    with CaptureQueriesContext(connection) as small:
        logged_in.get(f"/cases/{alice_case.pk}/")
    make_incidents(alice_case, 400)
    with CaptureQueriesContext(connection) as large:
        logged_in.get(f"/cases/{alice_case.pk}/")
    assert len(large.captured_queries) == len(small.captured_queries)
    # Session, user, profile, case; the page of incidents, its counts and file counts; the entries
    # whose time is to be confirmed; what was deleted; the follow-up panel (notices, complaints,
    # the police option, dossiers); the unread reminders (the badge and the case's list, one query):
    # a fixed number, whatever the case holds.
    assert len(large.captured_queries) <= 16


def test_deleting_an_incident_is_recorded(logged_in, alice_incident):
    pk = alice_incident.pk
    response = logged_in.post(f"/incidents/{pk}/delete/")
    assert response.status_code == 302
    assert not Incident.objects.filter(pk=pk).exists()
    event = AuditEvent.objects.get(action="incident.delete")
    assert event.payload["before"]["description"] == "深夜催收电话"


def test_incident_create_service_refuses_unknown_flags(alice_case):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        incident_create(case=alice_case, kind="call", occurred_at=timezone.now(), flags=["rude"])
    assert Incident.objects.count() == 0
