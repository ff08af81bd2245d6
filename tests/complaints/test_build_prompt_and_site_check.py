""" "Stuck? Start the build again" is offered only once a build has really stalled, not at 0 % a
second after ordering; and `manage.py check --deploy` refuses a SITE_URL left at its default,
because every dossier, copied summary and QR code would send a handler to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.checks import Error, run_checks
from django.utils import timezone

from complaints.checks import site_url_is_public
from complaints.models import Dossier

STUCK = "卡住了？重新开始生成"


@pytest.fixture
def building(alice_case):
    return Dossier.objects.create(
        owner=alice_case.owner, case=alice_case, addressee="alipay", status="running"
    )


def stuck_form_shown(client, dossier) -> bool:
    html = client.get(f"/dossiers/{dossier.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert STUCK in html  # present for the page's script, hidden until needed
    return 'class="stuck">' in html


def test_a_build_just_ordered_does_not_offer_to_start_again(client, alice, building, settings):
    settings.DOSSIER_STALL_SECONDS = 180
    building.heartbeat_at = timezone.now()
    building.save(update_fields=["heartbeat_at"])
    client.force_login(alice)
    assert not stuck_form_shown(client, building)
    assert client.get(f"/dossiers/{building.pk}/status/").json()["stalled"] is False


def test_a_build_without_a_sign_of_life_for_the_stall_time_offers_to_start_again(
    client, alice, building, settings
):
    settings.DOSSIER_STALL_SECONDS = 180
    old = timezone.now() - timedelta(seconds=181)
    Dossier.objects.filter(pk=building.pk).update(created_at=old, started_at=old, heartbeat_at=old)
    client.force_login(alice)
    assert stuck_form_shown(client, building)
    assert client.get(f"/dossiers/{building.pk}/status/").json()["stalled"] is True


@pytest.mark.parametrize("site", ["", "http://127.0.0.1:8000", "http://localhost:8000"])
def test_check_deploy_refuses_a_default_site_url(settings, site):
    settings.SITE_URL = site
    found = site_url_is_public(None)
    assert [type(m) for m in found] == [Error] and found[0].id == "complaints.E001"
    assert "complaints.E001" in [m.id for m in run_checks(include_deployment_checks=True)]
    assert "complaints.E001" not in [m.id for m in run_checks()]


def test_check_deploy_accepts_a_public_https_site_url(settings):
    settings.SITE_URL = "https://evidence.example.org"
    assert site_url_is_public(None) == []
