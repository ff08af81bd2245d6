"""User B gets 404, never 403, for every one of user A's objects, in pages and in the API."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.models import EvidenceFile, Incident
from evidence.services import evidence_store
from tests.conftest import png_bytes


@pytest.fixture
def alice_evidence(alice_incident):
    return evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.png", png_bytes()))


def test_bob_gets_404_for_alices_objects_in_the_api(bob_api, alice_case, alice_incident, alice_evidence):
    for url in (
        f"/api/v1/cases/{alice_case.pk}/",
        f"/api/v1/incidents/{alice_incident.pk}/",
        f"/api/v1/evidence/{alice_evidence.pk}/",
        f"/api/v1/evidence/{alice_evidence.pk}/download",
    ):
        response = bob_api.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    assert bob_api.get(f"/api/v1/incidents/?case={alice_case.pk}").status_code == 404
    assert bob_api.get("/api/v1/cases/").json() == {"results": []}
    assert bob_api.get("/api/v1/incidents/").json() == {"results": []}


def test_bob_cannot_write_into_alices_case_or_incident(bob_api, alice_case, alice_incident):
    response = bob_api.post(
        "/api/v1/incidents/",
        {"case": alice_case.pk, "kind": "call", "occurred_at": "2024-03-15T10:00:00+08:00"},
        format="json",
    )
    assert response.status_code == 404
    response = bob_api.post(
        f"/api/v1/incidents/{alice_incident.pk}/evidence/",
        {"file": SimpleUploadedFile("a.png", png_bytes())},
        format="multipart",
    )
    assert response.status_code == 404
    response = bob_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("a.png", png_bytes())},
        format="multipart",
    )
    assert response.status_code == 404
    response = bob_api.patch(f"/api/v1/incidents/{alice_incident.pk}/", {"description": "x"}, format="json")
    assert response.status_code == 404
    assert Incident.objects.count() == 1
    assert EvidenceFile.objects.filter(owner__username="bob").count() == 0


def test_bob_gets_404_for_alices_pages(client, bob, alice_case, alice_incident, alice_evidence):
    client.force_login(bob)
    for url in (
        f"/cases/{alice_case.pk}/",
        f"/cases/{alice_case.pk}/edit/",
        f"/cases/{alice_case.pk}/log/call/",
        f"/incidents/{alice_incident.pk}/",
        f"/incidents/{alice_incident.pk}/edit/",
        f"/evidence/{alice_evidence.pk}/download/",
        f"/evidence/{alice_evidence.pk}/view/",
        f"/evidence/{alice_evidence.pk}/thumb/",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/incidents/{alice_incident.pk}/delete/",
        f"/evidence/{alice_evidence.pk}/delete/",
        f"/incidents/{alice_incident.pk}/evidence/",
    ):
        assert client.post(url).status_code == 404, url
    assert Incident.objects.filter(pk=alice_incident.pk).exists()
    assert EvidenceFile.objects.filter(pk=alice_evidence.pk).exists()


def test_anonymous_visitors_are_sent_to_log_in_and_evidence_has_no_public_url(client, alice_evidence):
    response = client.get(f"/evidence/{alice_evidence.pk}/download/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # Nothing under the storage folder is reachable by a URL of its own.
    assert client.get(f"/{alice_evidence.storage_name}").status_code == 404
    assert client.get(f"/media/{alice_evidence.storage_name}").status_code == 404
