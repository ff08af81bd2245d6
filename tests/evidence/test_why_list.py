"""Issue 29's "why" list, as a frightened newcomer meets it in Chinese: an empty case leads with
logging a call, one stray tap never moves a recording, a detour from the builder returns to it,
lengths and times read as people say them, and a missing timestamp service is explained once."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.services import evidence_store, incident_create
from tests.conftest import wav_bytes

CN = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def primary_links(html: str) -> list[str]:
    """The text of every link styled as the page's main (blue) button."""
    return [
        re.sub(r"<[^>]+>", "", text).strip()
        for text in re.findall(r'<a class="button[^"]*\bprimary\b[^"]*"[^>]*>(.*?)</a>', html, re.S)
    ]


def test_an_empty_case_leads_with_logging_a_call_not_with_the_dossier(alice_client, alice_case):
    html = alice_client.get(f"/cases/{alice_case.pk}/", **CN).content.decode()
    assert primary_links(html) == ["电话"]
    assert "生成投诉材料" in html  # still there, just not the main action


def test_once_something_is_logged_the_dossier_is_the_main_action(alice_client, alice_incident):
    html = alice_client.get(f"/cases/{alice_incident.case_id}/", **CN).content.decode()
    assert primary_links(html) == ["生成投诉材料"]


def test_move_here_starts_on_choose_and_an_unchosen_move_changes_nothing(alice_client, alice_case):
    first = incident_create(
        case=alice_case, kind="call", occurred_at=datetime(2024, 3, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    )
    second = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2024, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai")),
        duration_seconds=150,
    )
    evidence = evidence_store(incident=first, upload=SimpleUploadedFile("rec.wav", wav_bytes()))
    evidence.metadata = {**evidence.metadata, "filed": "new"}
    evidence.save(update_fields=["metadata"])
    html = alice_client.get(f"/cases/{alice_case.pk}/recordings/", **CN).content.decode()
    select = re.search(r'<select name="incident" required[^>]*>(.*?)</select>', html, re.S)
    assert select, "the move list must be required"
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select.group(1))
    assert options[0][:2] == ("", " selected") and options[0][2] == "请选择一个电话"
    assert any("2分30秒" in label for _v, _s, label in options)
    response = alice_client.post(f"/evidence/{evidence.pk}/move/", {"incident": ""}, **CN)
    assert response.status_code == 302
    evidence.refresh_from_db()
    assert evidence.incident_id == first.pk
    assert second.pk != first.pk


def test_a_detour_from_the_builder_to_the_profile_returns_to_the_builder(alice_client, alice_case):
    builder = f"/cases/{alice_case.pk}/dossiers/new/"
    html = alice_client.get(builder, **CN).content.decode()
    assert f'href="/accounts/profile/?next={builder}"' in html
    form = {
        "display_name": "李四",
        "phone": "13800000000",
        "time_zone": "Asia/Shanghai",
        "language": "zh-hans",
    }
    response = alice_client.post(f"/accounts/profile/?next={builder}", form, **CN)
    assert response.status_code == 302 and response["Location"] == builder
    # Another site is never a destination.
    response = alice_client.post("/accounts/profile/?next=https://evil.example/", form, **CN)
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"


def test_lengths_times_and_file_kinds_read_as_people_say_them(alice_client, alice_incident):
    alice_incident.duration_seconds = 150
    alice_incident.save(update_fields=["duration_seconds"])
    evidence_store(incident=alice_incident, upload=SimpleUploadedFile("night.wav", wav_bytes()))
    html = alice_client.get(f"/incidents/{alice_incident.pk}/", **CN).content.decode()
    assert "2分30秒" in html and "150 秒" not in html
    assert "录音（WAV）" in html and "audio/wav" not in html
    shown = re.sub(r"<[^>]+>", " ", html)  # the text on screen, not attributes
    assert "时间均为北京时间" in shown and "Asia/Shanghai" not in shown


def test_a_missing_timestamp_service_is_explained_once_with_who_turns_it_on(alice_client, alice_incident):
    for name in ("a.wav", "b.wav"):
        evidence_store(incident=alice_incident, upload=SimpleUploadedFile(name, wav_bytes(seconds=len(name))))
    html = alice_client.get(f"/incidents/{alice_incident.pk}/", **CN).content.decode()
    assert html.count('id="timestamps-off"') == 1 and "TSA_URLS" in html
    assert "未经独立的可信时间戳" not in html


def test_the_words_a_newcomer_meets(alice_client, alice_case):
    new_case = alice_client.get("/cases/new/", **CN).content.decode()
    assert "请选择" in new_case and "---------" not in new_case
    case_page = alice_client.get(f"/cases/{alice_case.pk}/", **CN).content.decode()
    assert "找了家人/单位/朋友" in case_page and "联系第三方" not in case_page
    assert "暂停删除（打官司时使用）" in case_page
    profile = alice_client.get("/accounts/profile/", **CN).content.decode()
    assert "真实姓名（用于投诉信）" in profile


def test_a_message_names_a_file_by_a_short_fingerprint_not_all_64_characters(alice_client, alice_incident):
    data = wav_bytes()
    response = alice_client.post(
        f"/incidents/{alice_incident.pk}/evidence/",
        {"files": SimpleUploadedFile("m.wav", data)},
        follow=True,
        **CN,
    )
    digest = hashlib.sha256(data).hexdigest()
    messages = [str(m) for m in response.context["messages"]]
    assert any(digest[:12] + "…" in m for m in messages), messages
    assert not any(digest in m for m in messages)


def test_whole_minutes_and_parentheses_read_naturally_in_chinese(alice_client, alice_incident):
    alice_incident.duration_seconds = 120
    alice_incident.save(update_fields=["duration_seconds"])
    html = alice_client.get(f"/incidents/{alice_incident.pk}/", **CN).content.decode()
    assert "2分钟" in html and "2分0秒" not in html
    assert re.search(r"（发生后[^（）<]*登记）", html)
    case_page = alice_client.get(f"/cases/{alice_incident.case_id}/", **CN).content.decode()
    assert "（1 个事件）" in case_page
