"""Moving profiles, tokens and the audit chain into their own apps keeps every existing row.

The database is taken back to the migrations of the release before the move, filled with data the
way that release wrote it (historical models), then migrated forward: the same rows are there under
the new apps, and a token issued before the move still authenticates."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, Profile
from evidence.models import Case
from ledger.chain import chain_problems
from ledger.models import AuditEvent, AuditHead, canonical_json

OLD_NODES = [("evidence", "0007_phone_import_version"), ("complaints", "0001_dossier")]
BEFORE_THE_MOVE = [*OLD_NODES, ("accounts", None), ("ledger", None)]
SECRET = "cel_made-before-the-move-0123456789"


@pytest.mark.django_db(transaction=True)
def test_data_made_before_the_move_survives_and_its_token_still_works():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    old = executor.loader.project_state(OLD_NODES).apps
    assert "evidence_profile" in connection.introspection.table_names()

    User = old.get_model("auth", "User")
    user = User.objects.create(username="early", password="!")
    old.get_model("evidence", "Profile").objects.create(
        user=user,
        display_name="早期用户",
        phone="13800000000",
        id_number="110101199001011234",
        time_zone="Asia/Shanghai",
        language="en",
    )
    old.get_model("evidence", "ApiToken").objects.create(
        user=user, name="phone", prefix=SECRET[:10], digest=hashlib.sha256(SECRET.encode()).hexdigest()
    )
    old.get_model("evidence", "ApiToken").objects.create(
        user=user, name="old phone", prefix="cel_revoke", digest="0" * 64, revoked_at=timezone.now()
    )
    case = old.get_model("evidence", "Case").objects.create(
        owner=user, title="花呗 before the move", creditor="huabei"
    )
    # One real link of the chain as the old release wrote it, so the chain must still verify.
    event = old.get_model("evidence", "AuditEvent")(
        owner=user,
        seq=1,
        action="case.create",
        subject_type="case",
        subject_id=str(case.pk),
        payload={"after": {}},
        payload_digest=hashlib.sha256(b'{"after":{}}').hexdigest(),
        at=timezone.now(),
        prev_hash="0" * 64,
    )
    body = {
        "seq": 1,
        "action": "case.create",
        "subject": f"case:{case.pk}",
        "payload_digest": event.payload_digest,
        "at": event.at.isoformat(),
    }
    event.hash = hashlib.sha256(event.prev_hash.encode() + canonical_json(body)).hexdigest()
    event.save()
    old.get_model("evidence", "AuditHead").objects.create(owner=user, seq=1, hash=event.hash)

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    profile = Profile.objects.get(user_id=user.pk)
    assert (profile.display_name, profile.id_number, profile.language) == (
        "早期用户",
        "110101199001011234",
        "en",
    )
    assert ApiToken.objects.filter(user_id=user.pk).count() == 2
    assert Case.objects.get(pk=case.pk).title == "花呗 before the move"
    events = list(AuditEvent.objects.filter(owner_id=user.pk).order_by("seq"))
    assert chain_problems(user.pk, events, AuditHead.objects.get(owner_id=user.pk)) == (1, [])

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {SECRET}")
    response = client.get("/api/v1/cases/")
    assert response.status_code == 200, response.content
    assert [c["title"] for c in response.json()["results"]] == ["花呗 before the move"]
    client.credentials(HTTP_AUTHORIZATION="Bearer cel_revoke-something")
    assert client.get("/api/v1/cases/").status_code == 401
