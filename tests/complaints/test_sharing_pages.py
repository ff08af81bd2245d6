"""Issue 30, the pages: invite, accept, the helper's list, the access log — in Chinese, as people use them."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from evidence.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(django_user_model):
    user = django_user_model.objects.create_user("carol", password="carol-password-1")
    from accounts.services import profile_for

    profile = profile_for(user)
    profile.display_name = "王律师"
    profile.save()
    return user


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    return client


def invite(owner_client, case, role) -> str:
    response = owner_client.post(
        f"/cases/{case.pk}/shares/", {"role": role, "days": "30", "note": "法律援助中心"}
    )
    assert response.status_code == 302
    page = owner_client.get(response["Location"]).content.decode()
    code = re.search(r'class="share-code">([A-Z0-9-]+)<', page).group(1)
    assert "仅显示这一次" in page and f"/shares/accept/?code={code}" in page
    # Shown once: the next visit no longer shows it.
    assert code not in owner_client.get(f"/cases/{case.pk}/shares/").content.decode()
    return code


def test_owner_invites_helper_accepts_reads_and_the_owner_sees_every_look(
    alice, carol, alice_case, alice_incident
):
    owner = client_for(alice)
    helper = client_for(carol)
    assert helper.get(f"/cases/{alice_case.pk}/").status_code == 404
    code = invite(owner, alice_case, "read")

    form = helper.get(f"/shares/accept/?code={code}").content.decode()
    assert "接受邀请" in form and code in form
    accepted = helper.post("/shares/accept/", {"code": code})
    assert accepted.status_code == 302 and accepted["Location"] == f"/cases/{alice_case.pk}/"

    case_page = helper.get(f"/cases/{alice_case.pk}/").content.decode()
    assert "只读" in case_page or "查看" in case_page
    assert alice_case.title in case_page
    # Read only: no logging buttons, no edit, no delete, no share.
    assert f"/cases/{alice_case.pk}/log/call/" not in case_page
    assert (
        f"/cases/{alice_case.pk}/delete/" not in case_page
        and f"/cases/{alice_case.pk}/shares/" not in case_page
    )
    assert helper.get(f"/incidents/{alice_incident.pk}/").status_code == 200
    for url in (
        f"/cases/{alice_case.pk}/log/call/",
        f"/cases/{alice_case.pk}/delete/",
        f"/cases/{alice_case.pk}/hold/",
        f"/cases/{alice_case.pk}/shares/",
        f"/cases/{alice_case.pk}/notices/new/",
        f"/cases/{alice_case.pk}/dossiers/new/",
    ):
        assert helper.get(url).status_code == 403, url

    listing = helper.get("/shared/").content.decode()
    assert "共享给我的案件" in listing and alice_case.title in listing

    log = owner.get(f"/cases/{alice_case.pk}/shares/").content.decode()
    assert "王律师" in log and "查看了案件" in log and "查看了记录" in log
    assert alice_incident.ref in log
    assert "有效" in log  # the share's state


def test_assisting_helper_logs_an_incident_marked_as_theirs(alice, carol, alice_case):
    owner = client_for(alice)
    helper = client_for(carol)
    code = invite(owner, alice_case, "assist")
    helper.post("/shares/accept/", {"code": code})
    response = helper.post(
        f"/cases/{alice_case.pk}/log/call/",
        {
            "occurred_at": "2026-03-02T23:10:00",
            "counterpart_number": "17000000000",
            "description": "律师代为登记",
            "once": "",
        },
    )
    incident = Incident.objects.filter(case=alice_case, description="律师代为登记").first()
    assert incident is not None, response.content.decode()[:3000]
    assert incident.entered_by_id == carol.pk
    page = owner.get(f"/incidents/{incident.pk}/").content.decode()
    assert "协助人 王律师 登记" in page


def test_a_wrong_or_used_code_is_explained_in_chinese(alice, carol, bob, alice_case):
    owner = client_for(alice)
    code = invite(owner, alice_case, "read")
    client_for(carol).post("/shares/accept/", {"code": code})
    page = client_for(bob).post("/shares/accept/", {"code": code}).content.decode()
    assert "已被使用" in page
    page = client_for(bob).post("/shares/accept/", {"code": "ABCD-EFGH-JKMN"}).content.decode()
    assert "没有这个邀请码" in page
    assert client_for(bob).get(f"/cases/{alice_case.pk}/").status_code == 404


def test_a_new_helper_signs_up_from_the_link_and_lands_on_the_invitation(alice, alice_case):
    from urllib.parse import quote

    code = invite(client_for(alice), alice_case, "read")
    visitor = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    link = f"/shares/accept/?code={code}"
    to_login = visitor.get(link)
    assert to_login.status_code == 302 and "/accounts/login/" in to_login["Location"]
    login_page = visitor.get(to_login["Location"]).content.decode()
    signup = f"/accounts/signup/?next={quote(link, safe='/')}"
    assert signup.replace("&", "&amp;") in login_page or signup in login_page
    created = visitor.post(
        signup,
        {"username": "newhelper", "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"},
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    codes_page = visitor.get(created["Location"]).content.decode()
    assert f'href="{link}"' in codes_page  # after saving the recovery codes: on to the invitation
    assert visitor.post("/shares/accept/", {"code": code}).status_code == 302
    assert visitor.get(f"/cases/{alice_case.pk}/").status_code == 200
    # Any other site is never followed.
    other = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    made = other.post(
        "/accounts/signup/?next=https://evil.example/",
        {"username": "other", "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"},
    )
    assert "evil.example" not in other.get(made["Location"]).content.decode()
