"""Issue 29's wording, as a person reads it in Chinese: a time is 2026年12月7日 22:47:30 (never
2026-12-07T22:47:30+08:00), an imported entry is 手机通话记录（来电）第1条 (never
"calls-recent.xml #1 (incoming)"), and the time-zone list speaks in places, not in IANA names."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from evidence.models import Incident
from evidence.services import evidence_store
from evidence.templatetags.evidence_extras import human_time
from tests.conftest import calls_xml, jpeg_bytes

CN = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def visible_text(html: str) -> str:
    """What a person sees: the text between tags, not the attributes."""
    return re.sub(r"<[^>]+>", "", html)


def test_a_photos_time_reads_as_people_write_it_and_stays_iso_for_machines(alice_client, alice_incident):
    evidence_store(
        incident=alice_incident,
        upload=SimpleUploadedFile("shot.jpg", jpeg_bytes(exif_time="2026:12:07 22:47:30", offset="+08:00")),
    )
    html = alice_client.get(f"/incidents/{alice_incident.pk}/", **CN).content.decode()
    text = visible_text(html)
    assert "拍摄时间（EXIF）：2026年12月7日 22:47:30" in text
    assert "2026-12-07T22:47:30" not in text
    assert '<time datetime="2026-12-07T22:47:30+08:00">' in html


def test_a_time_read_from_a_file_name_has_no_offset_and_is_shown_as_read():
    with translation.override("zh-hans"):
        assert human_time("2026-12-07T22:47:30") == "2026年12月7日 22:47:30"
        assert (
            human_time(datetime(2026, 12, 7, 14, 47, 30, tzinfo=ZoneInfo("UTC"))) == "2026年12月7日 22:47:30"
        )
        assert human_time("not a time") == "not a time"
    with translation.override("en"):
        assert human_time("2026-12-07T22:47:30+08:00") == "Dec. 7, 2026 22:47:30"


def test_an_imported_call_says_where_it_came_from_in_words(alice_client, alice_api, alice_case):
    at = datetime(2026, 11, 15, 22, 30, tzinfo=SHANGHAI)
    response = alice_api.post(
        "/api/v1/imports/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("calls-recent.xml", calls_xml([("17012345678", at, 1, 95, "")])),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(case=alice_case, kind="call")
    assert incident.source_ref == "calls-recent.xml #1 (incoming)"  # kept as written, for programs
    html = alice_client.get(f"/incidents/{incident.pk}/", **CN).content.decode()
    text = visible_text(html)
    assert "手机通话记录（来电）第1条" in text
    assert "#1 (incoming)" not in text
    assert "calls-recent.xml" in text  # the file itself is still named (and linked) on the "From" line


def test_a_second_source_is_listed_in_words_with_its_file_as_a_title(alice_client, alice_api, alice_case):
    at = datetime(2026, 11, 15, 22, 30, tzinfo=SHANGHAI)
    # The same call in two exports that write the number differently: one incident, two sources.
    for name, number in (("calls-recent.xml", "17012345678"), ("calls-older.xml", "+86 170 1234 5678")):
        response = alice_api.post(
            "/api/v1/imports/",
            {"case": alice_case.pk, "file": SimpleUploadedFile(name, calls_xml([(number, at, 1, 95, "")]))},
            format="multipart",
        )
        assert response.status_code == 201, response.content
    incident = Incident.objects.get(case=alice_case, kind="call")
    html = alice_client.get(f"/incidents/{incident.pk}/", **CN).content.decode()
    sources = re.search(r'<ul class="sources">(.*?)</ul>', html, re.S)
    assert sources, "both exports are listed as sources"
    items = re.findall(r"<li([^>]*)>(.*?)</li>", sources.group(1), re.S)
    assert [text.strip() for _attrs, text in items] == ["手机通话记录（来电）第1条"] * 2
    assert {re.search(r'title="([^"]+)"', attrs).group(1) for attrs, _text in items} == {
        "calls-recent.xml",
        "calls-older.xml",
    }


def test_the_profile_lists_common_zones_first_in_chinese_then_every_zone_readably(alice_client):
    html = alice_client.get("/accounts/profile/", **CN).content.decode()
    select = re.search(r'<select name="time_zone"[^>]*>(.*?)</select>', html, re.S).group(1)
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S)
    assert [label for label, _body in groups] == ["常用", "全部时区"]
    common = dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', groups[0][1]))
    assert list(common)[:2] == ["Asia/Shanghai", "Asia/Hong_Kong"]
    assert common["Asia/Shanghai"].startswith("中国大陆（北京时间）")
    assert common["Asia/Hong_Kong"].startswith("香港")
    everything = dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', groups[1][1]))
    assert everything["Africa/Abidjan"] == "Abidjan（非洲） · UTC"
    assert everything["America/Argentina/Buenos_Aires"] == "Argentina / Buenos Aires（美洲） · UTC-03:00"
    assert "Asia/Shanghai" not in everything  # listed once, among the common ones
    assert all(label != value for value, label in everything.items())  # never the raw name alone
