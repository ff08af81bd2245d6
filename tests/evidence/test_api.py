"""The JSON API contract of api-v1.md: paths, fields, status codes and the error shape."""

from __future__ import annotations

from datetime import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from evidence.models import Incident
from tests.conftest import png_bytes


def assert_error_shape(response, status, code=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code
    return error


def test_missing_or_wrong_token_is_401(db, alice):
    anonymous = APIClient()
    assert_error_shape(anonymous.get("/api/v1/cases/"), 401, "not_authenticated")
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    assert_error_shape(anonymous.get("/api/v1/cases/"), 401, "invalid_token")


def test_a_revoked_token_is_401(alice):
    from accounts.services import token_create, token_revoke

    token, secret = token_create(user=alice, name="phone")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/cases/").status_code == 200
    token_revoke(token=token)
    assert_error_shape(client.get("/api/v1/cases/"), 401)


def test_issue_token_command_prints_only_a_working_token(alice, capsys):
    call_command("issue_token", "alice")
    printed = capsys.readouterr().out.strip()
    assert "\n" not in printed and " " not in printed
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {printed}")
    assert client.get("/api/v1/cases/").status_code == 200


def test_cases_create_and_list(alice_api):
    response = alice_api.post("/api/v1/cases/", {"title": "借呗", "creditor": "jiebei"}, format="json")
    assert response.status_code == 201
    case = response.json()
    assert {"id", "title", "creditor", "created_at"} <= set(case)
    assert case["title"] == "借呗" and case["creditor"] == "jiebei"
    datetime.fromisoformat(case["created_at"])  # ISO 8601 with an offset
    assert "+" in case["created_at"][10:] or case["created_at"].endswith("Z")
    listed = alice_api.get("/api/v1/cases/").json()["results"]
    assert [c["id"] for c in listed] == [case["id"]]


def test_case_validation_errors_name_the_fields(alice_api):
    error = assert_error_shape(
        alice_api.post("/api/v1/cases/", {"title": "", "creditor": "visa"}, format="json"), 400, "invalid"
    )
    assert set(error["fields"]) == {"title", "creditor"}


def test_incident_create_with_every_optional_field(alice_api, alice_case):
    payload = {
        "case": alice_case.pk,
        "kind": "visit",
        "occurred_at": "2024-03-15T21:30:00+08:00",
        "duration_seconds": 600,
        "counterpart_number": "17012345678",
        "counterpart_name": "王经理",
        "agency": "某催收公司",
        "description": "两人上门，贴了告知书",
        "contacted": ["self", "family"],
        "flags": ["posted_notice", "threat"],
        "visitors": 2,
    }
    response = alice_api.post("/api/v1/incidents/", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    for key, value in payload.items():
        if key == "occurred_at":
            assert datetime.fromisoformat(body[key]) == datetime.fromisoformat(value)
        elif key in ("contacted", "flags"):
            assert sorted(body[key]) == sorted(value)
        else:
            assert body[key] == value, key
    assert body["evidence"] == [] and isinstance(body["violations"], list)
    assert body["logged_at"] and body["id"]
    fetched = alice_api.get(f"/api/v1/incidents/{body['id']}/").json()
    assert fetched["id"] == body["id"] and fetched["description"] == payload["description"]


def test_logged_at_is_set_by_the_server(alice_api, alice_case):
    response = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "call",
            "occurred_at": "2024-03-15T10:00:00+08:00",
            "logged_at": "2020-01-01T00:00:00+08:00",
        },
        format="json",
    )
    assert response.status_code == 201
    assert not response.json()["logged_at"].startswith("2020")


def test_incident_validation(alice_api, alice_case):
    base = {"case": alice_case.pk, "kind": "call", "occurred_at": "2024-03-15T10:00:00+08:00"}
    for bad, field in [
        ({"kind": "fax"}, "kind"),
        ({"occurred_at": "2024-02-30T10:00:00+08:00"}, "occurred_at"),
        ({"occurred_at": "2999-01-01T10:00:00+08:00"}, "occurred_at"),
        ({"flags": ["rude"]}, "flags"),
        ({"contacted": ["neighbour"]}, "contacted"),
        ({"duration_seconds": -5}, "duration_seconds"),
        ({"case": "abc"}, "case"),
    ]:
        error = assert_error_shape(alice_api.post("/api/v1/incidents/", {**base, **bad}, format="json"), 400)
        assert field in error["fields"], (bad, error)
    assert Incident.objects.count() == 0


def test_incidents_list_is_ordered_by_occurred_at(alice_api, alice_case):
    for stamp in ("2024-03-15T12:00:00+08:00", "2024-03-14T12:00:00+08:00", "2024-03-16T12:00:00+08:00"):
        alice_api.post(
            "/api/v1/incidents/", {"case": alice_case.pk, "kind": "call", "occurred_at": stamp}, format="json"
        )
    results = alice_api.get(f"/api/v1/incidents/?case={alice_case.pk}").json()["results"]
    times = [datetime.fromisoformat(r["occurred_at"]) for r in results]
    assert times == sorted(times) and len(times) == 3


def test_evidence_object_fields(alice_api, alice_incident):
    response = alice_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("shot.png", png_bytes())},
        format="multipart",
    )
    body = response.json()
    assert {
        "id",
        "incident",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "received_at",
        "metadata",
    } <= set(body)
    assert body["original_name"] == "shot.png"
    assert body["sha256"] == body["sha256"].lower() and len(body["sha256"]) == 64
    assert alice_api.get(f"/api/v1/evidence/{body['id']}/").json() == body
    incident = alice_api.get(f"/api/v1/incidents/{alice_incident.pk}/").json()
    assert [e["id"] for e in incident["evidence"]] == [body["id"]]


def test_wrong_method_is_405_and_unknown_id_is_404(alice_api):
    assert_error_shape(alice_api.delete("/api/v1/cases/"), 405)
    assert_error_shape(alice_api.get("/api/v1/incidents/999999/"), 404, "not_found")
    assert_error_shape(alice_api.get("/api/v1/evidence/999999/download"), 404)


def test_amending_through_the_api_keeps_logged_at(alice_api, alice_incident):
    logged_at = alice_incident.logged_at
    response = alice_api.patch(
        f"/api/v1/incidents/{alice_incident.pk}/", {"description": "更正"}, format="json"
    )
    assert response.status_code == 200
    alice_incident.refresh_from_db()
    assert alice_incident.description == "更正" and alice_incident.logged_at == logged_at
    assert alice_incident.amended_at is not None


def test_unknown_api_paths_answer_in_the_error_shape(alice_api):
    assert_error_shape(alice_api.get("/api/v1/no-such-thing/"), 404, "not_found")
