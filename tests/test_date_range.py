"""Dates outside the supported range (1990-01-01 to the end of next year) are refused with the range
named, on every date field of the JSON API and of the web forms; 0001-01-01 and 9999-12-31 used to
answer 500 (issue 25)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from complaints.followup import complaint_log
from complaints.models import Complaint, ComplaintReply, Dossier, StopNotice
from complaints.notices import notice_create
from evidence.models import Incident

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Each value as a date, a local time and a time with an offset (the offset form overflows when it
# is converted to the server's time zone, the local form when it is stored in UTC).
DATETIMES = [
    "0001-01-01",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+08:00",
    "9999-12-31",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-08:00",
]
DATES = ["0001-01-01", "9999-12-31"]
FORM_DATETIMES = ["0001-01-01T00:00", "9999-12-31T23:59"]


def range_named(text: str) -> bool:
    return "1990-01-01" in text and f"{timezone.localdate().year + 1}-12-31" in text


@pytest.fixture
def complaint(alice, alice_case):
    return complaint_log(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 3, 12, 9, 30, tzinfo=SHANGHAI),
    )


@pytest.fixture
def notice(alice, alice_case):
    return notice_create(owner=alice, case=alice_case)


def object_ids(request, path: str, case, incident) -> dict:
    """The ids a path names; a complaint or a notice (a PDF to build) only when the path needs one."""
    ids = {"case": case.pk, "incident": incident.pk}
    for name in ("complaint", "notice"):
        if "{" + name + "}" in path:
            ids[name] = request.getfixturevalue(name).pk
    return ids


def counts() -> tuple:
    return (
        Incident.objects.count(),
        Complaint.objects.count(),
        ComplaintReply.objects.count(),
        Dossier.objects.count(),
        StopNotice.objects.filter(sent_at__isnull=False).count(),
    )


# (name, method, path, body, field whose error is expected); {case}, {incident}, {complaint},
# {notice} are filled in, and VALUE is replaced by the value under test.
API_CASES = [
    (
        "incident create",
        "post",
        "/api/v1/incidents/",
        {"case": "{case}", "kind": "call", "occurred_at": "VALUE"},
        "occurred_at",
    ),
    ("incident update", "patch", "/api/v1/incidents/{incident}/", {"occurred_at": "VALUE"}, "occurred_at"),
    (
        "complaint",
        "post",
        "/api/v1/complaints/",
        {"case": "{case}", "addressee": "alipay", "channel": "phone", "sent_at": "VALUE"},
        "sent_at",
    ),
    (
        "reply",
        "post",
        "/api/v1/complaints/{complaint}/replies/",
        {"received_at": "VALUE", "text": "已受理", "outcome": "other"},
        "received_at",
    ),
    (
        "notice sent",
        "post",
        "/api/v1/notices/{notice}/sent",
        {"sent_at": "VALUE", "channel": "phone"},
        "sent_at",
    ),
]
API_DATE_CASES = [
    (
        "dossier from",
        "post",
        "/api/v1/dossiers/",
        {"case": "{case}", "addressee": "alipay", "date_from": "VALUE"},
        "date_from",
    ),
    (
        "dossier to",
        "post",
        "/api/v1/dossiers/",
        {"case": "{case}", "addressee": "alipay", "date_to": "VALUE"},
        "date_to",
    ),
    (
        "dossier earlier complaint",
        "post",
        "/api/v1/dossiers/",
        {
            "case": "{case}",
            "addressee": "nfra",
            "earlier_complaint": {"date": "VALUE", "channel": "95188", "ticket": "", "reply": ""},
        },
        "earlier_complaint_date",
    ),
]


def _fill(body, ids: dict, value: str):
    if isinstance(body, dict):
        return {key: _fill(item, ids, value) for key, item in body.items()}
    if body == "VALUE":
        return value
    if isinstance(body, str) and body.startswith("{"):
        return ids[body.strip("{}")]
    return body


@pytest.mark.parametrize(
    "endpoint, value",
    [(c, v) for c in API_CASES for v in DATETIMES] + [(c, v) for c in API_DATE_CASES for v in DATES],
    ids=lambda item: item[0] if isinstance(item, tuple) else item,
)
def test_the_api_refuses_dates_out_of_range_with_400_naming_the_range(
    request, alice_api, alice_case, alice_incident, endpoint, value
):
    _name, method, path, body, field = endpoint
    ids = object_ids(request, path, alice_case, alice_incident)
    before = counts()
    response = getattr(alice_api, method)(path.format(**ids), _fill(body, ids, value), format="json")
    assert response.status_code == 400, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert range_named(" ".join(error["fields"][field]))
    assert counts() == before
    alice_incident.refresh_from_db()
    assert alice_incident.occurred_at == datetime(2024, 3, 15, 23, 5, tzinfo=SHANGHAI)


# (name, method, path, data, field, values)
FORM_CASES = [
    ("log form", "post", "/cases/{case}/log/call/", {"occurred_at": "VALUE"}, FORM_DATETIMES),
    ("edit form", "post", "/incidents/{incident}/edit/", {"occurred_at": "VALUE"}, FORM_DATETIMES),
    ("timeline from", "get", "/cases/{case}/", {"date_from": "VALUE"}, DATES),
    ("timeline to", "get", "/cases/{case}/", {"date_to": "VALUE"}, DATES),
    (
        "dossier builder",
        "post",
        "/cases/{case}/dossiers/new/",
        {"addressee": "alipay", "language": "zh-hans", "date_from": "VALUE", "date_to": "VALUE"},
        DATES,
    ),
    (
        "dossier builder, earlier complaint",
        "post",
        "/cases/{case}/dossiers/new/",
        {"addressee": "nfra", "language": "zh-hans", "earlier_date": "VALUE", "earlier_channel": "95188"},
        DATES,
    ),
    (
        "complaint form",
        "post",
        "/cases/{case}/complaints/new/",
        {"addressee": "alipay", "channel": "phone", "sent_at": "VALUE"},
        FORM_DATETIMES,
    ),
    (
        "reply form",
        "post",
        "/complaints/{complaint}/",
        {"form": "reply", "received_at": "VALUE", "outcome": "other", "text": "已受理"},
        FORM_DATETIMES,
    ),
    (
        "notice sent form",
        "post",
        "/notices/{notice}/",
        {"sent_at": "VALUE", "channel": "phone"},
        FORM_DATETIMES,
    ),
]


@pytest.mark.parametrize(
    "form, value",
    [(c, v) for c in FORM_CASES for v in c[4]],
    ids=lambda item: item[0] if isinstance(item, tuple) else item,
)
def test_the_forms_show_the_range_for_dates_out_of_it_and_save_nothing(
    request, client, alice, alice_case, alice_incident, form, value
):
    client.force_login(alice)
    _name, method, path, data, _values = form
    ids = object_ids(request, path, alice_case, alice_incident)
    before = counts()
    response = getattr(client, method)(path.format(**ids), _fill(data, ids, value))
    assert response.status_code == 200
    assert range_named(response.content.decode())
    assert counts() == before
    alice_incident.refresh_from_db()
    assert alice_incident.occurred_at == datetime(2024, 3, 15, 23, 5, tzinfo=SHANGHAI)


@pytest.mark.parametrize("value", FORM_DATETIMES)
def test_a_time_set_on_a_screenshot_proposal_is_checked_too(value):
    from evidence.forms import ProposalForm

    item = {"index": 0, "logged": None, "uncertain": ["?"], "direction": "incoming", "flags": [], "at": None}
    form = ProposalForm({"pick_0": "on", "at_0": value}, items=[item])
    assert not form.is_valid()
    assert range_named(" ".join(form.errors["at_0"]))


def test_dates_inside_the_range_still_pass(alice_api, alice_case):
    response = alice_api.post(
        "/api/v1/incidents/",
        {"case": alice_case.pk, "kind": "call", "occurred_at": "2001-05-01T10:00:00+08:00"},
        format="json",
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59+08:00"])
def test_the_visit_recorder_treats_a_start_out_of_range_as_unknown(client, alice, alice_case, value):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import amr_bytes

    client.force_login(alice)
    response = client.post(
        f"/cases/{alice_case.pk}/record-visit/",
        {"file": SimpleUploadedFile("visit.amr", amr_bytes()), "started_at": value},
    )
    # The recording is kept (a visit's recording is never refused for its clock); the service falls
    # back to its own estimate of the start.
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(pk=response.json()["incident"])
    assert incident.occurred_at is None or incident.occurred_at.year >= 2000
