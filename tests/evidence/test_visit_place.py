"""Where a visit happened: a typed place and the phone's location, in the API, checked by the
service, audited when changed, and absent from the audit record of entries that never had them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from evidence.models import Incident
from evidence.services import incident_create, incident_update
from ledger.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_the_api_keeps_place_and_location(alice_api, alice_case):
    answer = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "visit",
            "occurred_at": "2026-03-02T20:15:00+08:00",
            "place": "上海市黄浦区某路100弄",
            "location": {"lat": 31.2304161, "lon": 121.473701, "accuracy_m": 25},
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["place"] == "上海市黄浦区某路100弄"
    assert answer.json()["location"] == {"lat": 31.230416, "lon": 121.473701, "accuracy_m": 25.0}
    plain = alice_api.post(
        "/api/v1/incidents/",
        {"case": alice_case.pk, "kind": "call", "occurred_at": "2026-03-02T21:15:00+08:00"},
        format="json",
    )
    assert plain.json()["place"] == "" and plain.json()["location"] is None


@pytest.mark.parametrize(
    "location",
    [
        {"lat": 91, "lon": 0},
        {"lat": 0, "lon": 181, "accuracy_m": 5},
        {"lat": 0, "lon": 0, "accuracy_m": -1},
        {"lat": "31", "lon": 121},
        {"lat": 31, "lon": 121, "altitude": 5},
        [31, 121],
    ],
)
def test_an_impossible_location_is_refused_and_nothing_is_saved(alice_api, alice_case, location):
    answer = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "visit",
            "occurred_at": "2026-03-02T20:15:00+08:00",
            "location": location,
        },
        format="json",
    )
    assert answer.status_code == 400
    assert "location" in answer.json()["error"].get("fields", {})
    assert not Incident.objects.filter(case=alice_case).exists()


def test_entries_without_a_place_are_recorded_as_before(alice_case):
    incident = incident_create(case=alice_case, kind="visit", occurred_at=None, time_unknown_ok=True)
    assert "place" not in incident.snapshot() and "location" not in incident.snapshot()
    with pytest.raises(ValidationError):
        incident_update(incident=incident, location={"lat": 100, "lon": 0})
    incident_update(incident=incident, place="某小区3号楼", location={"lat": 31.2, "lon": 121.4})
    amend = AuditEvent.objects.filter(action="incident.amend", subject_id=str(incident.pk)).get()
    assert amend.payload["after"]["place"] == "某小区3号楼"
    # The chain records numbers as text (ledger jsonable), as it does every float.
    assert amend.payload["after"]["location"] == {"lat": "31.2", "lon": "121.4", "accuracy_m": None}
