"""What files say about themselves: durations, EXIF times, times and numbers in recording names."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.metadata import amr_duration, parse_file_name
from evidence.models import Incident
from tests.conftest import amr_bytes, jpeg_bytes, png_bytes, wav_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


def upload(api, incident, name, data):
    response = api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize("frames,frame_type,seconds", [(250, 7, 5.0), (1000, 0, 20.0), (3, 8, 0.06)])
def test_raw_amr_duration_is_counted_from_frames(frames, frame_type, seconds):
    assert amr_duration(io.BytesIO(amr_bytes(frames=frames, frame_type=frame_type))) == seconds


def test_amr_wb_duration():
    sizes = [18, 24, 33, 37, 41, 47, 51, 59, 61, 6]
    data = b"#!AMR-WB\n" + (bytes([(2 << 3) | 0x04]) + bytes(sizes[2] - 1)) * 150
    assert amr_duration(io.BytesIO(data)) == 3.0


def test_amr_spanning_many_read_chunks():
    # 70,000 frames of 32 bytes cross many 64 KiB reads; each boundary splits a frame differently.
    assert amr_duration(io.BytesIO(amr_bytes(frames=70_000))) == 1400.0


def test_uploaded_recordings_carry_their_duration(alice_api, alice_incident):
    assert (
        upload(alice_api, alice_incident, "a.amr", amr_bytes(frames=500))["metadata"]["duration_seconds"]
        == 10.0
    )
    wav = upload(alice_api, alice_incident, "b.wav", wav_bytes(2.5))["metadata"]
    assert wav["duration_seconds"] == pytest.approx(2.5, abs=0.05)


def test_exif_capture_time_is_read_from_jpeg_and_png(alice_api, alice_incident):
    jpeg = upload(alice_api, alice_incident, "a.jpg", jpeg_bytes("2024:03:15 23:10:05", "+08:00"))["metadata"]
    assert datetime.fromisoformat(jpeg["exif_time"]) == datetime(2024, 3, 15, 23, 10, 5, tzinfo=SHANGHAI)
    png = upload(alice_api, alice_incident, "b.png", png_bytes(exif_time="2024:03:16 08:00:00"))["metadata"]
    # Without an offset the capture time is read in the user's time zone.
    assert datetime.fromisoformat(png["exif_time"]) == datetime(2024, 3, 16, 8, 0, tzinfo=SHANGHAI)
    assert png["width"] == 60 and png["height"] == 40


@pytest.mark.parametrize(
    "name,when,number,extra",
    [
        (
            "通话录音@138 0013 8000(13800138000)_20240315143022.mp3",
            (2024, 3, 15, 14, 30, 22),
            "13800138000",
            {"pattern": "miui", "name": "138 0013 8000"},
        ),
        (
            "张三(008613800138000)_20240315143022.m4a",
            (2024, 3, 15, 14, 30, 22),
            "+8613800138000",
            {"pattern": "miui"},
        ),
        ("催收(未知号码)_20240315143022.mp3", (2024, 3, 15, 14, 30, 22), None, {"name": "催收"}),
        (
            "李四@+86 138 0013 8000_20240315143022.amr",
            (2024, 3, 15, 14, 30, 22),
            "+8613800138000",
            {"pattern": "huawei", "name": "李四"},
        ),
        ("13800138000_20240315143022.amr", (2024, 3, 15, 14, 30, 22), "13800138000", {"pattern": "huawei"}),
        (
            "Call recording 王五_240315_143022.m4a",
            (2024, 3, 15, 14, 30, 22),
            None,
            {"pattern": "samsung", "name": "王五"},
        ),
        ("Call recording 13800138000_240315_143022.m4a", (2024, 3, 15, 14, 30, 22), "13800138000", {}),
        (
            "13800138000_240315_143022123.amr",
            (2024, 3, 15, 14, 30, 22),
            "13800138000",
            {"pattern": "lineageos"},
        ),
        ("13800138000-2403151430.amr", (2024, 3, 15, 14, 30, 0), "13800138000", {"pattern": "oppo"}),
        ("Screenshot_20240315-143022.png", (2024, 3, 15, 14, 30, 22), None, {"pattern": "screenshot"}),
    ],
)
def test_file_names_give_time_and_number(name, when, number, extra):
    parsed = parse_file_name(name, SHANGHAI)
    assert datetime.fromisoformat(parsed["time"]) == datetime(*when, tzinfo=SHANGHAI)
    assert parsed.get("number") == number
    for key, value in extra.items():
        assert parsed[key] == value


def test_bcr_names_carry_their_own_offset():
    parsed = parse_file_name("20240315_143022.123+0100_in_sim1_13800138000.oga", SHANGHAI)
    assert datetime.fromisoformat(parsed["time"]) == datetime.fromisoformat("2024-03-15T14:30:22.123+01:00")
    assert parsed["number"] == "13800138000" and parsed["pattern"] == "bcr"


@pytest.mark.parametrize("name", ["recording.mp3", "张三(138)_20241332143022.mp3", "IMG_0001.JPG", ""])
def test_unknown_or_impossible_names_give_nothing(name):
    assert parse_file_name(name, SHANGHAI) == {}


def test_one_tap_upload_of_a_miui_recording_fills_in_time_and_number(alice_api, alice_case):
    name = "通话录音@催收(17012345678)_20240315231000.amr"
    response = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile(name, amr_bytes(frames=1500))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(pk=response.json()["incident"])
    assert incident.kind == "call"
    assert incident.occurred_at == datetime(2024, 3, 15, 23, 10, tzinfo=SHANGHAI)
    assert incident.counterpart_number == "17012345678"
    assert incident.duration_seconds == 30
    assert incident.source == "api"


def test_one_tap_upload_matches_the_call_whose_span_contains_the_start(alice_api, alice_case, alice_incident):
    # alice_incident: a call at 23:05 Shanghai lasting 120 s, from 17012345678.
    name = "通话录音@催收(17012345678)_20240315230530.amr"
    response = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile(name, amr_bytes())},
        format="multipart",
    )
    assert response.json()["incident"] == alice_incident.pk
    assert Incident.objects.count() == 1


def test_one_tap_upload_does_not_match_a_call_from_another_number(alice_api, alice_case, alice_incident):
    name = "通话录音@别人(13911112222)_20240315230530.amr"
    response = alice_api.post(
        "/api/v1/evidence/",
        {"case": alice_case.pk, "file": SimpleUploadedFile(name, amr_bytes())},
        format="multipart",
    )
    assert response.json()["incident"] != alice_incident.pk
    assert Incident.objects.count() == 2
