"""Trusted timestamps at arrival (issue 16): every upload's SHA-256 enters a batch, each batch's
Merkle root is stamped by an RFC 3161 TSA in one request, and a TSA that is down delays stamping,
never an upload."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from stamps.merkle import root_from, tree
from stamps.models import Batch, Leaf
from stamps.services import stamp_due
from tests.conftest import png_bytes


def upload(api, incident, name: str = "shot.png", seed: int = 0):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = png_bytes(size=(40 + seed, 30))
    response = api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def stamps_command() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("stamps", stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_every_proof_of_a_merkle_tree_leads_to_its_root():
    for count in (1, 2, 3, 5, 8, 13):
        digests = [f"{n:064x}" for n in range(count)]
        root, proofs = tree(digests)
        assert all(root_from(d, p) == root for d, p in zip(digests, proofs, strict=True))
        assert root_from(f"{99:064x}", proofs[0]) != root


def test_an_upload_is_stamped_within_the_batch_interval(alice_api, alice_incident, local_tsa, settings):
    evidence = upload(alice_api, alice_incident)
    assert evidence["timestamp"] is None  # not yet: it waits for the batch
    run = stamp_due(now=later(settings.TSA_BATCH_SECONDS))
    assert run.stamped and not run.failed and len(local_tsa.requests) == 1
    stamped = alice_api.get(f"/api/v1/evidence/{evidence['id']}/").json()["timestamp"]
    assert stamped["tsa"] == local_tsa.url
    arrived = Leaf.objects.get(kind="evidence", ref=str(evidence["id"])).arrived_at
    from datetime import datetime

    assert (
        0 <= (datetime.fromisoformat(stamped["time"]) - arrived).total_seconds() <= settings.TSA_BATCH_SECONDS
    )


def test_the_evidence_page_shows_the_stamped_time_and_the_tsa(
    alice, alice_api, alice_incident, local_tsa, client, settings
):
    evidence = upload(alice_api, alice_incident)
    client.force_login(alice)
    page = client.get(f"/incidents/{alice_incident.pk}/").content.decode()
    assert 'class="timestamp pending"' in page
    stamp_due(now=later(settings.TSA_BATCH_SECONDS))
    page = client.get(f"/incidents/{alice_incident.pk}/").content.decode()
    batch = Batch.objects.get()
    shown = timezone.localtime(batch.stamped_at, timezone.get_fixed_timezone(8 * 60)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    assert 'class="timestamp stamped"' in page and shown in page and "127.0.0.1" in page
    assert evidence["sha256"] in page


def test_many_files_make_one_tsa_request(alice_api, alice_incident, local_tsa, settings):
    ids = [upload(alice_api, alice_incident, f"s{n}.png", seed=n)["id"] for n in range(12)]
    stamp_due(now=later(settings.TSA_BATCH_SECONDS))
    assert len(local_tsa.requests) == 1
    batch = Batch.objects.get()
    assert batch.state == "stamped" and batch.leaf_count >= 12  # the files, and the owner's chain head
    leaves = Leaf.objects.filter(kind="evidence", ref__in=[str(i) for i in ids])
    assert all(root_from(leaf.sha256, leaf.proof) == batch.root for leaf in leaves)
    chain = Leaf.objects.get(kind="chain")
    from ledger.models import AuditHead

    assert chain.sha256 == AuditHead.objects.get(owner__username="alice").hash
    # Nothing new: no second request, however often the worker runs.
    stamp_due(now=later(3 * settings.TSA_BATCH_SECONDS))
    assert len(local_tsa.requests) == 1


def test_a_second_worker_within_the_interval_seals_nothing(alice_api, alice_incident, local_tsa, settings):
    upload(alice_api, alice_incident)
    moment = later(settings.TSA_BATCH_SECONDS)
    first = stamp_due(now=moment)
    upload(alice_api, alice_incident, "b.png", seed=3)
    second = stamp_due(now=moment + timedelta(seconds=settings.TSA_BATCH_SECONDS / 3))
    assert first.sealed is not None and second.sealed is None and len(local_tsa.requests) == 1
    third = stamp_due(now=moment + timedelta(seconds=settings.TSA_BATCH_SECONDS))
    assert third.sealed is not None and len(local_tsa.requests) == 2


def test_a_tsa_that_is_down_delays_stamping_never_an_upload(
    alice_api, alice_incident, local_tsa, client, settings
):
    settings.HEALTH_DISK_MIN_FREE_MB = 0
    local_tsa.failing = True
    evidence = upload(alice_api, alice_incident)  # 201 while the TSA answers 500
    first_try = later(settings.TSA_BATCH_SECONDS)
    run = stamp_due(now=first_try)
    assert run.failed and not run.stamped
    batch = Batch.objects.get()
    assert batch.state == "pending" and batch.attempts == 1 and "500" in batch.last_error
    assert batch.next_try_at == first_try + timedelta(seconds=settings.TSA_BATCH_SECONDS)

    facts = client.get("/healthz").json()
    assert facts["timestamps"]["pending_batches"] == 1 and facts["timestamps"]["last_error"]
    assert any("trusted-timestamp" in problem for problem in facts["problems"])
    code, output = stamps_command()
    assert code == 1 and f"PENDING batch {batch.pk}" in output and "1 attempt(s)" in output

    # Before its back-off is over, nobody asks again; the next failure waits twice as long.
    asked = len(local_tsa.requests)
    stamp_due(now=first_try + timedelta(seconds=10))
    assert len(local_tsa.requests) == asked
    stamp_due(now=batch.next_try_at)
    batch.refresh_from_db()
    assert batch.attempts == 2 and len(local_tsa.requests) == asked + 1
    assert batch.next_try_at - first_try == timedelta(seconds=3 * settings.TSA_BATCH_SECONDS)

    local_tsa.failing = False
    stamp_due(now=batch.next_try_at)
    batch.refresh_from_db()
    assert batch.state == "stamped" and batch.attempts == 3 and not batch.last_error
    assert alice_api.get(f"/api/v1/evidence/{evidence['id']}/").json()["timestamp"]["tsa"] == local_tsa.url
    assert client.get("/healthz").json()["timestamps"]["pending_batches"] == 0
    assert stamps_command()[0] == 0


def test_tsas_are_tried_in_order(alice_api, alice_incident, local_tsa, refused_url, settings):
    settings.TSA_URLS = [refused_url, local_tsa.url]
    evidence = upload(alice_api, alice_incident)
    stamp_due(now=later(settings.TSA_BATCH_SECONDS))
    assert alice_api.get(f"/api/v1/evidence/{evidence['id']}/").json()["timestamp"]["tsa"] == local_tsa.url


def test_a_refused_connection_leaves_the_batch_pending_and_the_command_stamps_it_later(
    alice_api, alice_incident, local_tsa, refused_url, settings
):
    settings.TSA_URLS = [refused_url]
    upload(alice_api, alice_incident)
    assert stamp_due(now=later(settings.TSA_BATCH_SECONDS)).failed
    assert "ConnectionError" in Batch.objects.get().last_error
    settings.TSA_URLS = [local_tsa.url]
    out = io.StringIO()
    call_command("stamps", "--run", stdout=out)  # now, whatever the back-off says
    assert Batch.objects.get().state == "stamped" and "stamped [" in out.getvalue()


def test_without_a_tsa_nothing_is_sent_and_pages_say_so(alice, alice_api, alice_incident, client):
    evidence = upload(alice_api, alice_incident)
    assert not stamp_due(now=later(3600)).configured
    assert evidence["timestamp"] is None and not Batch.objects.exists()
    client.force_login(alice)
    page = client.get(f"/incidents/{alice_incident.pk}/").content.decode()
    # Said once, with who turns it on, not repeated as a warning under every file.
    assert page.count('id="timestamps-off"') == 1 and "TSA_URLS" in page
    assert 'class="timestamp off"' not in page and "未经独立" not in page
    code, output = stamps_command()
    assert code == 0 and "not independently timestamped" in output
    assert json.loads(json.dumps(client.get("/healthz").json()["timestamps"]))["configured"] is False


@pytest.mark.parametrize("batch_seconds", ["0", "-5"])
def test_a_batch_interval_that_is_not_positive_is_refused(batch_seconds, monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import config.settings

    monkeypatch.setenv("TSA_BATCH_SECONDS", batch_seconds)
    with pytest.raises(ImproperlyConfigured):
        importlib.reload(config.settings)
    monkeypatch.delenv("TSA_BATCH_SECONDS")
    importlib.reload(config.settings)
