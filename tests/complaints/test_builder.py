"""The builder page: choices a person makes, and what the dossier then contains."""

from __future__ import annotations

import json

from complaints.models import Dossier


def test_builder_defaults_and_leaving_an_incident_out(client, alice, filled_case):
    client.force_login(alice)
    page = client.get(f"/cases/{filled_case.pk}/dossiers/new/")
    form = page.context["form"]
    assert form["addressee"].value() == "alipay" and form["language"].value() == "zh-hans"
    assert "stop_harassment" in form["requests"].value()
    visit = filled_case.incidents.get(kind="visit")
    response = client.post(
        f"/cases/{filled_case.pk}/dossiers/new/",
        {
            "addressee": "ant_consumer_finance",
            "language": "zh-hans",
            "requests": ["stop_harassment", "apologise"],
            "request_text": "请删除通讯录数据",
            "exclude": [str(visit.pk)],
        },
    )
    dossier = Dossier.objects.get()
    assert response["Location"] == f"/dossiers/{dossier.pk}/"
    manifest = json.loads(dossier.manifest)
    assert visit.pk not in [i["id"] for i in manifest["incidents"]] and len(manifest["incidents"]) == 2
    assert [r["code"] for r in manifest["requests"]] == ["stop_harassment", "apologise"]
    assert manifest["request_text"] == "请删除通讯录数据"
    assert manifest["addressee"]["name"] == "重庆蚂蚁消费金融有限公司"
    detail = client.get(response["Location"]).content.decode()
    assert dossier.seal in detail and f"/dossiers/{dossier.pk}/pdf/" in detail


def test_custom_recipient_needs_a_name(client, alice, filled_case):
    client.force_login(alice)
    response = client.post(
        f"/cases/{filled_case.pk}/dossiers/new/", {"addressee": "custom", "language": "en"}
    )
    assert response.status_code == 200 and response.context["form"].errors["addressee_name"]
    assert Dossier.objects.count() == 0


def test_builder_warns_and_still_builds_without_a_truetype_font(client, alice, filled_case, monkeypatch):
    from complaints.pdf import furniture

    monkeypatch.setattr(furniture, "font_path", lambda: None)
    client.force_login(alice)
    page = client.get(f"/cases/{filled_case.pk}/dossiers/new/").content.decode()
    assert "fonts-wqy-zenhei" in page
    client.post(f"/cases/{filled_case.pk}/dossiers/new/", {"addressee": "alipay", "language": "zh-hans"})
    dossier = Dossier.objects.get()
    assert dossier.status == "ready" and dossier.font_warning


def test_other_users_dossiers_are_404(client, bob, alice, filled_case):
    from complaints.services import dossier_create

    dossier = dossier_create(owner=alice, case=filled_case, addressee="alipay")
    client.force_login(bob)
    for url in (
        f"/dossiers/{dossier.pk}/",
        f"/dossiers/{dossier.pk}/status/",
        f"/dossiers/{dossier.pk}/pdf/",
        f"/dossiers/{dossier.pk}/bundle/",
        f"/cases/{filled_case.pk}/dossiers/new/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/dossiers/{dossier.pk}/reissue/").status_code == 404
