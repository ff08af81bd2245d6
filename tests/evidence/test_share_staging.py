"""Files shared into the app wait in a staging folder until the person picks a case (issue 25, M3):
staged files are 0600, count against the quota, belong to the session that staged them, go on
logout, with the account and an hour after they arrived, and filing files only what that session's
latest share staged and the page showed; a planted file, never."""

from __future__ import annotations

import io
import os
import stat
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from evidence import sharing
from evidence.models import EvidenceFile
from tests.conftest import png_bytes, wav_bytes


@pytest.fixture
def spool(tmp_path, settings):
    settings.RESUMABLE_UPLOAD_DIR = tmp_path / "spool"
    return tmp_path / "spool" / "shared"


def client_of(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def share(client, *files, **headers):
    return client.post("/share/receive/", {"files": list(files)}, headers=headers)


def staged_files(spool) -> list:
    return sorted(path for path in spool.rglob("*") if path.is_file())


def file_all(client, case) -> object:
    page = client.get("/share/")
    return client.post(
        "/share/",
        {
            "case": case.pk,
            "csrfmiddlewaretoken": str(page.context["csrf_token"]),
            "batch": page.context["batch"],
        },
    )


def test_staged_files_are_private_to_the_service(spool, alice):
    share(client_of(alice), SimpleUploadedFile("call.wav", wav_bytes()))
    [staged] = staged_files(spool)
    assert stat.S_IMODE(staged.stat().st_mode) == 0o600
    assert stat.S_IMODE(staged.parent.stat().st_mode) == 0o700  # the account's folder
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700


def test_staged_files_count_against_the_quota(spool, settings, alice, alice_incident):
    from evidence.services import evidence_store

    kept = evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.wav", wav_bytes(1)))
    clip = wav_bytes(2)
    settings.EVIDENCE_QUOTA_BYTES = kept.size + len(clip) + 100  # room for one more clip, not two
    phone, laptop = client_of(alice), client_of(alice)

    share(phone, SimpleUploadedFile("first.wav", clip))
    assert len(staged_files(spool)) == 1 and sharing.staged_bytes(owner_id=alice.pk) == len(clip)
    # Another session of the same account: what is staged already counts.
    refused = share(laptop, SimpleUploadedFile("second.wav", clip))
    assert len(staged_files(spool)) == 1
    assert laptop.get("/share/").context["staged"] == []
    shown = [str(m) for m in refused.wsgi_request._messages]
    assert any(message.startswith("second.wav: ") for message in shown), shown


def test_staged_files_belong_to_the_session_that_staged_them(spool, alice, bob, alice_case):
    phone = client_of(alice)
    share(phone, SimpleUploadedFile("call.wav", wav_bytes()))
    # Another session of the same account, and another account, see nothing and file nothing.
    laptop = client_of(alice)
    assert laptop.get("/share/").context["staged"] == []
    file_all(laptop, alice_case)
    assert client_of(bob).get("/share/").context["staged"] == []
    assert not EvidenceFile.objects.exists() and len(staged_files(spool)) == 1
    # The session that staged them files them.
    assert file_all(phone, alice_case).status_code == 302
    assert EvidenceFile.objects.get().original_name == "call.wav" and staged_files(spool) == []


def test_logging_out_removes_what_the_session_staged(spool, alice):
    phone, laptop = client_of(alice), client_of(alice)
    share(phone, SimpleUploadedFile("call.wav", wav_bytes()))
    share(laptop, SimpleUploadedFile("other.wav", wav_bytes(1)))
    token = str(phone.get("/share/").context["csrf_token"])
    assert phone.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert [path.name.split(".")[0] for path in staged_files(spool)] == [laptop.session[sharing.SESSION_TAG]]


def test_deleting_the_account_removes_what_it_staged(spool, alice, bob, django_capture_on_commit_callbacks):
    from privacy.services import account_delete

    share(client_of(alice), SimpleUploadedFile("call.wav", wav_bytes()))
    share(client_of(bob), SimpleUploadedFile("bob.wav", wav_bytes()))
    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=alice, password="alice-password-1")
    assert [path.parent.name for path in staged_files(spool)] == [str(bob.pk)]


def test_the_housekeeping_removes_staged_files_after_an_hour(spool, alice):
    share(client_of(alice), SimpleUploadedFile("old.wav", wav_bytes()))
    [old] = staged_files(spool)
    an_hour_ago = time.time() - sharing.STAGED_SECONDS - 60
    os.utime(old, (an_hour_ago, an_hour_ago))
    share(client_of(alice), SimpleUploadedFile("new.wav", wav_bytes(1)))
    # A folder an earlier release staged into (<item>/data), as old.
    legacy = spool / ("ab" * 16)
    legacy.mkdir()
    (legacy / "data").write_bytes(b"x")
    os.utime(legacy, (an_hour_ago, an_hour_ago))

    out = io.StringIO()
    call_command("cleanup_uploads", stdout=out)
    assert "staged shared files removed: 2" in out.getvalue()
    assert [path.name for path in staged_files(spool)] != [] and not old.exists() and not legacy.exists()
    assert len(staged_files(spool)) == 1


def test_a_new_share_files_only_its_own_items_never_an_earlier_one(spool, alice, alice_case):
    phone = client_of(alice)
    # Something shared into the app earlier (another app on the phone, someone else holding it)
    # and never looked at.
    share(phone, SimpleUploadedFile("planted.png", png_bytes()))
    share(phone, SimpleUploadedFile("call.wav", wav_bytes()))
    assert [item["name"] for item in phone.get("/share/").context["staged"]] == ["call.wav"]
    file_all(phone, alice_case)
    assert list(EvidenceFile.objects.values_list("original_name", flat=True)) == ["call.wav"]
    assert staged_files(spool) == []


def test_a_share_that_arrives_after_the_page_was_shown_is_not_filed_with_it(spool, alice, alice_case):
    phone = client_of(alice)
    share(phone, SimpleUploadedFile("call.wav", wav_bytes()))
    page = phone.get("/share/")
    share(phone, SimpleUploadedFile("planted.png", png_bytes()))  # slipped in meanwhile
    answer = phone.post(
        "/share/",
        {
            "case": alice_case.pk,
            "csrfmiddlewaretoken": str(page.context["csrf_token"]),
            "batch": page.context["batch"],
        },
    )
    assert answer.status_code == 302 and answer["Location"] == "/share/"
    assert not EvidenceFile.objects.exists()
    # Without the share's name the form files nothing either.
    phone.post("/share/", {"case": alice_case.pk, "csrfmiddlewaretoken": str(page.context["csrf_token"])})
    assert not EvidenceFile.objects.exists()


def test_a_planted_file_or_a_forged_session_entry_is_never_filed(spool, alice, alice_case):
    phone = client_of(alice)
    share(phone, SimpleUploadedFile("call.wav", wav_bytes()))
    tag = phone.session[sharing.SESSION_TAG]
    # A file put into the account's staging folder by anything but this session's share...
    planted_id = "cd" * 16
    (spool / str(alice.pk) / f"{'ef' * 16}.{planted_id}").write_bytes(png_bytes())
    (spool / str(alice.pk) / f"{tag}x.{planted_id}").write_bytes(png_bytes())
    # ...and session entries naming it, or reaching out of the folder.
    session = phone.session
    session[sharing.SESSION_KEY] = [
        *session[sharing.SESSION_KEY],
        {"id": planted_id, "name": "planted.png", "size": 10},
        {"id": "../../../etc/passwd", "name": "x", "size": 1},
    ]
    session.save()
    assert [item["name"] for item in phone.get("/share/").context["staged"]] == ["call.wav"]
    file_all(phone, alice_case)
    assert list(EvidenceFile.objects.values_list("original_name", flat=True)) == ["call.wav"]


def test_another_site_cannot_stage_files(spool, alice):
    answer = share(
        client_of(alice), SimpleUploadedFile("planted.png", png_bytes()), Sec_Fetch_Site="cross-site"
    )
    assert answer.status_code == 403 and staged_files(spool) == []
    # The share sheet's own navigation ("none") and this site's pages stage.
    assert (
        share(client_of(alice), SimpleUploadedFile("a.wav", wav_bytes()), Sec_Fetch_Site="none").status_code
        == 302
    )
    assert len(staged_files(spool)) == 1
