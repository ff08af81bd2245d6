"""Timestamps worth their name (issue 24, acceptance 4): a token is kept only when its signer's
certificate chains to a CA of TSA_CA_FILE (or of the system's trust store when that is unset, as
/healthz says). A token from a TSA of someone's own making leaves the file unstamped, its batch
pending with the reason, and /healthz names that reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from stamps.models import Batch
from stamps.services import stamp_due

from .local_tsa import LocalTSA
from .test_stamping import upload


@pytest.fixture
def rogue_tsa():
    """A second local TSA under a CA of its own, which no TSA_CA_FILE of these tests holds."""
    with LocalTSA("Rogue TSA") as tsa:
        yield tsa


def due(settings):
    return timezone.now() + timedelta(seconds=settings.TSA_BATCH_SECONDS)


def test_a_token_from_a_tsa_whose_ca_is_in_tsa_ca_file_is_kept(
    alice_api, alice_incident, local_tsa, settings
):
    evidence = upload(alice_api, alice_incident)
    run = stamp_due(now=due(settings))
    assert run.stamped and not run.failed
    stamp = alice_api.get(f"/api/v1/evidence/{evidence['id']}/").json()["timestamp"]
    assert stamp is not None and stamp["tsa"] == local_tsa.url


def test_a_token_from_a_tsa_whose_ca_is_not_in_tsa_ca_file_is_refused(
    alice_api, alice_incident, local_tsa, rogue_tsa, settings, client
):
    # TSA_CA_FILE holds the CA of local_tsa only; the rogue TSA answers every request.
    settings.TSA_URLS = [rogue_tsa.url]
    evidence = upload(alice_api, alice_incident)
    run = stamp_due(now=due(settings))
    assert run.failed and not run.stamped and len(rogue_tsa.requests) == 1
    batch = Batch.objects.get()
    assert batch.state == "pending" and batch.token is None
    assert "Rogue TSA" in batch.last_error and "does not chain to a CA of TSA_CA_FILE" in batch.last_error
    assert alice_api.get(f"/api/v1/evidence/{evidence['id']}/").json()["timestamp"] is None

    health = client.get("/healthz").json()
    assert health["timestamps"]["trusted_cas"] == "TSA_CA_FILE"
    assert health["timestamps"]["last_error"] == batch.last_error
    assert any("does not chain to a CA of TSA_CA_FILE" in problem for problem in health["problems"])

    # The same batch is stamped once a trusted TSA answers: nothing of the refused token was kept.
    settings.TSA_URLS = [local_tsa.url]
    assert stamp_due(now=due(settings), force=True).stamped == [batch.pk]
    assert alice_api.get(f"/api/v1/evidence/{evidence['id']}/").json()["timestamp"]["tsa"] == local_tsa.url


def test_without_tsa_ca_file_the_system_trust_store_decides_and_healthz_says_so(
    alice_api, alice_incident, rogue_tsa, settings, client
):
    settings.TSA_URLS = [rogue_tsa.url]
    settings.TSA_CA_FILE = ""
    upload(alice_api, alice_incident)
    assert stamp_due(now=due(settings)).failed
    batch = Batch.objects.get()
    assert batch.state == "pending"
    assert "does not chain to a CA of the system trust store" in batch.last_error
    health = client.get("/healthz").json()
    assert health["timestamps"]["trusted_cas"] == "system trust store"
    assert any("system trust store" in problem for problem in health["problems"])


def test_an_unreadable_tsa_ca_file_is_named(alice_api, alice_incident, local_tsa, settings, tmp_path):
    settings.TSA_CA_FILE = str(tmp_path / "missing-ca.pem")
    upload(alice_api, alice_incident)
    assert stamp_due(now=due(settings)).failed
    assert "TSA_CA_FILE cannot be read" in Batch.objects.get().last_error
