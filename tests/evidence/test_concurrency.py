"""Twenty uploads at once for one owner, over real HTTP: twenty rows and one unforked chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from accounts.services import token_create
from evidence.integrity import verify_store
from evidence.models import EvidenceFile
from evidence.services import case_create, incident_create
from ledger.models import AuditEvent
from tests.conftest import amr_bytes


def test_twenty_concurrent_uploads_leave_twenty_rows_and_an_unforked_chain(live_server, django_user_model):
    from django.utils import timezone

    owner = django_user_model.objects.create_user("dora", password="dora-password-1")
    case = case_create(owner=owner, title="并发", creditor="huabei")
    incident = incident_create(case=case, kind="call", occurred_at=timezone.now())
    _token, secret = token_create(user=owner, name="load")
    url = f"{live_server.url}/api/v1/incidents/{incident.pk}/evidence/"
    # Distinct contents, so each upload is a new blob and a new row.
    payloads = [amr_bytes(frames=50 + i) for i in range(20)]

    def send(index: int) -> int:
        response = requests.post(
            url,
            headers={"Authorization": f"Bearer {secret}"},
            files={"file": (f"r{index}.amr", payloads[index])},
            timeout=120,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(send, range(20)))

    assert statuses == [201] * 20
    assert EvidenceFile.objects.filter(owner=owner).count() == 20
    events = list(AuditEvent.objects.filter(owner=owner).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert len({e.prev_hash for e in events}) == len(events)  # no two events share a parent: no fork
    report = verify_store(owner=owner)
    assert report.ok, report.problems
