"""Recorder, screenshot and camera file names of the phones sold in China (issue 27): each family's
real names, from public sources, read to the right time and number; names that must not be read
give no time; a screenshot's name dates the relative times its OCR proposes.

Sources (README "Recording names and exports we read" lists them too). Where the public index
gave a file but not its repository, the file is named and its index id given.
- MIUI call recorder: a public Android app's log comment
  ".../MIUI/sound_recorder/call_rec/通话录音@176 8831 4515(17688314515)_20180814153840.mp3" (index id
  12075100710); MIUI's own naming code (RecordingNameUtils, `yyyyMMddHHmmss`) in
  Liberations/flyme6_devices_base_miui8 framework.jar.out/smali_classes2/miui/util/RecordingNameUtils.smali.
- Huawei / Honor: Tokisaki-Galaxy/CallREC-Scribe README.md and Services/FilenameParsingService.cs
  (`联系人@13800138000_20230828123000.mp3`); kitsumed/ShizuCallRecorder issue #70 (Honor MagicOS 10).
- HarmonyOS 4: a design note (index id 62980612252) giving `通话录音 13800138000 20260525143020.m4a`.
- OPPO / OnePlus / realme (ColorOS): nicorac/bcr-gui src/app/models/recording.ts ("ColorOS call
  recorder", `{contact_name}-{yy}{MM}{dd}{HH}{mm}`); a TypeScript SimpleFilenameParser (index id
  48466504281) with `+918328633433-2511071507`; the OnePlus voice recorder's `Record_2023-07-06-11-59-42`
  from Artsysa/transfers src/main/java/com/lyq/transfer/index/parser/OneplusRecordPrefixParser.java.
- vivo (Record/Call): a CRM helper FileUtils.java (YangTianFu, 2019; index id 44176353815):
  `/storage/emulated/0/Record/Call/19145520861 2019-05-16 10-06-40.amr`; the same shape
  ("<phone> YYYY-MM-DD HH-MM-SS") in the SimpleFilenameParser above.
- Samsung: Johaik/whisper tests/unit/test_filename_parser.py (`Call recording _6900_190317_190817.m4a`,
  `Call recording John Doe_200605_114902.m4a`, `Call recording Mom 2_…`, `Call recording 037111121_…`).
- Digit direction and epoch milliseconds: andras-tim/callrecord-renamer README.md
  (`36305566778_0_1418396598000.mp4 => BE 2014.12.12-16.03.18`, `null_0_1416989560000.mp4`, with
  0 = BE (incoming), 1 = KI (outgoing); the times shown are Hungary's, UTC+1).
- Screenshots: MIUI `Screenshot_2019-10-09-12-28-08-606_com.android.mms.png` (index id 14077705106),
  `Screenshot_2025-10-28-19-07-16-918_com.tencent.mm.jpg` (index id 3810078); EMUI/HarmonyOS
  `Screenshot_20250913_162524_com.huawei.browser.jpg` (index id 57158492799),
  `Screenshot_20200613_150114_com.huawei.android.launcher.jpg` (index id 32244715523),
  `Screenshot_20250311_144719_com.huawei.photos_edit.jpg` (index id 37045051102); ColorOS/OnePlus
  `Screenshot_2022-04-19-22-28-42-33` and `Screenshot_20220103_211852_com.ss.android.ugc.aweme` from
  Artsysa/transfers …/OneplusScreenshotOldPrefixParser.java; AOSP edited copy
  `Screenshot_20180218-084248~2.png` (index id 27748837863).
- Camera: `IMG_20220614_200928` (…/ImgOldPrefixParser.java) and `IMG20220702195627`
  (…/ImgPrefixParser.java) in Artsysa/transfers; `IMG_20251215_142210.jpg` (index id 3810078).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.metadata import parse_file_name
from evidence.models import EvidenceFile, Incident
from evidence.proposals import parse_when, screenshot_reference
from tests.conftest import amr_bytes, png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*parts) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


def read(name: str) -> dict:
    parsed = parse_file_name(name, SHANGHAI)
    assert parsed, f"{name} was not read"
    return parsed


def assert_read(name, when, number, extra):
    parsed = read(name)
    assert datetime.fromisoformat(parsed["time"]) == when, parsed
    assert parsed.get("number") == number, parsed
    for key, value in extra.items():
        assert parsed.get(key) == value, parsed


# --- call recorders --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,when,number,extra",
    [
        # MIUI, Chinese UI: 通话录音@{shown}({number})_yyyyMMddHHmmss (a real path in a log comment).
        (
            "通话录音@176 8831 4515(17688314515)_20180814153840.mp3",
            local(2018, 8, 14, 15, 38, 40),
            "17688314515",
            {"pattern": "miui", "name": "176 8831 4515"},
        ),
        # MIUI with a contact name, and in another UI language (Russian "Вызов").
        ("通话录音@催收(17012345678)_20241207220501.mp3", local(2024, 12, 7, 22, 5, 1), "17012345678", {}),
        (
            "Вызов@112(Экстренный номер)_20220428142049.mp3",
            local(2022, 4, 28, 14, 20, 49),
            "112",
            {"label": "Экстренный номер"},
        ),
        # HyperOS / newer MIUI: {name or number}_yyyyMMddHHmmss.
        ("17012345678_20241207220501.mp3", local(2024, 12, 7, 22, 5, 1), "17012345678", {}),
    ],
)
def test_xiaomi_miui_and_hyperos_call_recordings(name, when, number, extra):
    assert_read(name, when, number, extra)


@pytest.mark.parametrize(
    "name,when,number,extra",
    [
        # CallREC-Scribe's documented Huawei form: 联系人@手机号_录制时间.
        (
            "联系人@13800138000_20230828123000.mp3",
            local(2023, 8, 28, 12, 30),
            "13800138000",
            {"pattern": "huawei", "name": "联系人"},
        ),
        # Honor MagicOS 10 (ShizuCallRecorder #70), without and with a contact.
        ("+8613800138000_20260719101530.m4a", local(2026, 7, 19, 10, 15, 30), "+8613800138000", {}),
        ("Li Si@+8613800138000_20260719101530.m4a", local(2026, 7, 19, 10, 15, 30), "+8613800138000", {}),
        # EMUI's older AMR files.
        ("13800138000_20170315143022.amr", local(2017, 3, 15, 14, 30, 22), "13800138000", {}),
        # HarmonyOS 4 design note: 通话录音 {number} yyyyMMddHHmmss.
        (
            "通话录音 13800138000 20260525143020.m4a",
            local(2026, 5, 25, 14, 30, 20),
            "13800138000",
            {"pattern": "harmonyos"},
        ),
    ],
)
def test_huawei_and_honor_call_recordings(name, when, number, extra):
    assert_read(name, when, number, extra)


@pytest.mark.parametrize(
    "name,when,number,extra",
    [
        # ColorOS call recorder: {name or number}-yyMMddHHmm (no seconds in the name).
        ("+918328633433-2511071507.m4a", local(2025, 11, 7, 15, 7), "+918328633433", {"pattern": "oppo"}),
        ("张三-2412072205.m4a", local(2024, 12, 7, 22, 5), None, {"name": "张三"}),
        # OnePlus / ColorOS voice recorder (Recordings): Record_yyyy-MM-dd-HH-mm-ss.
        (
            "Record_2023-07-06-11-59-42.m4a",
            local(2023, 7, 6, 11, 59, 42),
            None,
            {"pattern": "oneplus_recorder"},
        ),
    ],
)
def test_oppo_oneplus_realme_coloros_recordings(name, when, number, extra):
    assert_read(name, when, number, extra)


@pytest.mark.parametrize(
    "name,when,number,extra",
    [
        # vivo Record/Call: "{number} yyyy-MM-dd HH-mm-ss".
        (
            "19145520861 2019-05-16 10-06-40.amr",
            local(2019, 5, 16, 10, 6, 40),
            "19145520861",
            {"pattern": "vivo"},
        ),
        # The same with a contact's name in its place.
        ("催收公司 2024-12-07 22-05-01.m4a", local(2024, 12, 7, 22, 5, 1), None, {"name": "催收公司"}),
    ],
)
def test_vivo_call_recordings(name, when, number, extra):
    assert_read(name, when, number, extra)


@pytest.mark.parametrize(
    "name,when,number,extra",
    [
        # The miss named in issue 27: "_6900" was taken for a contact's name.
        (
            "Call recording _6900_190317_190817.m4a",
            local(2019, 3, 17, 19, 8, 17),
            "6900",
            {"pattern": "samsung"},
        ),
        ("Call recording +15551234567_200605_114902.m4a", local(2020, 6, 5, 11, 49, 2), "+15551234567", {}),
        ("Call recording 037111121_200827_141229.m4a", local(2020, 8, 27, 14, 12, 29), "037111121", {}),
        (
            "Call recording John Doe_200605_114902.m4a",
            local(2020, 6, 5, 11, 49, 2),
            None,
            {"name": "John Doe"},
        ),
        ("Call recording Mom 2_200605_114902.m4a", local(2020, 6, 5, 11, 49, 2), None, {"name": "Mom 2"}),
        ("Call recording 12345678_220101_120000.wav", local(2022, 1, 1, 12), "12345678", {}),
    ],
)
def test_samsung_one_ui_call_recordings(name, when, number, extra):
    assert_read(name, when, number, extra)


@pytest.mark.parametrize(
    "name,when,number",
    [
        # The miss named in issue 27: {number}_{0 in | 1 out}_{epoch ms}; the time is UTC.
        (
            "36305566778_0_1418396598000.mp4",
            datetime.fromisoformat("2014-12-12T16:03:18+01:00"),
            "36305566778",
        ),
        ("3630556677_1_1416923124000.mp4", datetime.fromisoformat("2014-11-25T14:45:24+01:00"), "3630556677"),
        ("180_1_1417985638000.mp4", datetime.fromisoformat("2014-12-07T21:53:58+01:00"), "180"),
        # A hidden caller: "null", the time still read.
        ("null_0_1416989560000.mp4", datetime.fromisoformat("2014-11-26T09:12:40+01:00"), None),
    ],
)
def test_direction_digit_and_epoch_millisecond_names(name, when, number):
    parsed = read(name)
    assert datetime.fromisoformat(parsed["time"]) == when
    assert parsed.get("number") == number and parsed["pattern"] == "epoch"


# --- screenshots and photos ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,when,app",
    [
        # MIUI / HyperOS: Screenshot_yyyy-MM-dd-HH-mm-ss-SSS_{package}.
        (
            "Screenshot_2026-12-07-11-05-09-312_com.android.mms.png",
            local(2026, 12, 7, 11, 5, 9),
            "com.android.mms",
        ),
        (
            "Screenshot_2019-10-09-12-28-08-606_com.android.mms.png",
            local(2019, 10, 9, 12, 28, 8),
            "com.android.mms",
        ),
        (
            "Screenshot_2025-10-28-19-07-16-918_com.tencent.mm.jpg",
            local(2025, 10, 28, 19, 7, 16),
            "com.tencent.mm",
        ),
        # ColorOS / OnePlus (older): Screenshot_yyyy-MM-dd-HH-mm-ss-SS.
        ("Screenshot_2022-04-19-22-28-42-33.jpg", local(2022, 4, 19, 22, 28, 42), None),
    ],
)
def test_miui_and_coloros_screenshot_names(name, when, app):
    parsed = read(name)
    assert datetime.fromisoformat(parsed["time"]) == when
    assert parsed.get("app") == app and parsed["pattern"] == "screenshot_miui"
    assert "number" not in parsed


@pytest.mark.parametrize(
    "name,when,app",
    [
        # EMUI / HarmonyOS / MagicOS, newer OnePlus: Screenshot_yyyyMMdd_HHmmss_{package}.
        (
            "Screenshot_20261207_091244_com.huawei.contacts.png",
            local(2026, 12, 7, 9, 12, 44),
            "com.huawei.contacts",
        ),
        (
            "Screenshot_20250913_162524_com.huawei.browser.jpg",
            local(2025, 9, 13, 16, 25, 24),
            "com.huawei.browser",
        ),
        (
            "Screenshot_20200613_150114_com.huawei.android.launcher.jpg",
            local(2020, 6, 13, 15, 1, 14),
            "com.huawei.android.launcher",
        ),
        # An edited copy keeps the original's time; "_edit" is not part of the package.
        (
            "Screenshot_20250311_144719_com.huawei.photos_edit.jpg",
            local(2025, 3, 11, 14, 47, 19),
            "com.huawei.photos",
        ),
        (
            "Screenshot_20220103_211852_com.ss.android.ugc.aweme.jpg",
            local(2022, 1, 3, 21, 18, 52),
            "com.ss.android.ugc.aweme",
        ),
    ],
)
def test_emui_harmonyos_magicos_screenshot_names(name, when, app):
    parsed = read(name)
    assert datetime.fromisoformat(parsed["time"]) == when
    assert parsed["app"] == app and parsed["pattern"] == "screenshot_huawei"


@pytest.mark.parametrize(
    "name,when,pattern",
    [
        # AOSP SystemUI and Samsung (with the app's label), and an edited copy ("~2").
        ("Screenshot_20240315-143022.png", local(2024, 3, 15, 14, 30, 22), "screenshot"),
        ("Screenshot_20240315-143022_Chrome.jpg", local(2024, 3, 15, 14, 30, 22), "screenshot"),
        ("Screenshot_20180218-084248~2.png", local(2018, 2, 18, 8, 42, 48), "screenshot"),
        # Camera: IMG_yyyyMMdd_HHmmss (the example, AOSP, MIUI, EMUI), IMGyyyyMMddHHmmss (ColorOS).
        ("IMG_20261205_093500.jpg", local(2026, 12, 5, 9, 35), "camera"),
        ("IMG_20220614_200928.jpg", local(2022, 6, 14, 20, 9, 28), "camera"),
        ("IMG_20251215_142210.jpg", local(2025, 12, 15, 14, 22, 10), "camera"),
        ("IMG20220702195627.jpg", local(2022, 7, 2, 19, 56, 27), "camera"),
        ("VID_20220614_200928.mp4", local(2022, 6, 14, 20, 9, 28), "camera"),
    ],
)
def test_aosp_samsung_screenshots_and_camera_names(name, when, pattern):
    parsed = read(name)
    assert datetime.fromisoformat(parsed["time"]) == when and parsed["pattern"] == pattern


# --- what must not be read -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        # Lenovo's recorder writes no year ("05月13日_15点26分"): a time without a year is no time.
        "19145520861_通话_05月13日_15点26分.amr",
        # WeChat's mmexport is when the image was saved from WeChat, not when it was taken.
        "mmexport1688368200515.jpg",
        # Recorders that name files by a counter.
        "Voice 001.m4a",
        "新录音 1.m4a",
        "IMG_0001.JPG",
        # Impossible dates in otherwise well-formed names.
        "Screenshot_2026-13-07-11-05-09-312_com.android.mms.png",
        "Screenshot_20261232_091244_com.huawei.contacts.png",
        "19145520861 2019-02-30 10-06-40.amr",
        "Call recording _6900_190332_190817.m4a",
        # A lone digit is a direction only as {number}_{digit}_{epoch ms}; "2" is no direction.
        "36305566778_2_1418396598000.mp4",
        "1418396598000_0_36305566778.mp4",
        # Before 2000, or more than a day ahead of the server's clock.
        "Screenshot_1999-12-31-23-59-59-000_com.android.mms.png",
        "IMG_20991205_093500.jpg",
    ],
)
def test_names_that_must_not_give_a_time(name):
    assert parse_file_name(name, SHANGHAI) == {}


# --- what the app does with them -------------------------------------------------------------------


def upload(api, incident, name, data) -> EvidenceFile:
    response = api.post(
        f"/api/v1/incidents/{incident.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return EvidenceFile.objects.get(pk=response.json()["id"])


def test_a_screenshot_name_dates_yesterday_in_its_ocr(alice_api, alice_incident):
    # No EXIF: the name alone says when the screenshot was taken, and "昨天 22:05" is the day before.
    evidence = upload(
        alice_api, alice_incident, "Screenshot_2026-12-07-11-05-09-312_com.android.mms.png", png_bytes()
    )
    reference, source = screenshot_reference(evidence, SHANGHAI)
    assert (reference, source) == (local(2026, 12, 7, 11, 5, 9), "name")
    when = parse_when("昨天 22:05", reference)
    assert when == {"at": local(2026, 12, 6, 22, 5), "date": date(2026, 12, 6), "uncertain": ""}


def test_a_huawei_screenshot_name_comes_before_its_exif(alice_api, alice_incident):
    data = png_bytes(exif_time="2026:12:01 08:00:00")
    evidence = upload(alice_api, alice_incident, "Screenshot_20261207_091244_com.huawei.contacts.png", data)
    assert screenshot_reference(evidence, SHANGHAI) == (local(2026, 12, 7, 9, 12, 44), "name")
    assert parse_when("前天 23:59", screenshot_reference(evidence, SHANGHAI)[0])["at"] == local(
        2026, 12, 5, 23, 59
    )


def test_a_screenshot_kept_before_its_name_was_read_is_read_as_it_was(alice_api, alice_incident):
    # Stored metadata is what was read on arrival: a file kept without "from_name" stays dated by
    # its EXIF (or not at all), whatever its name says today.
    evidence = upload(
        alice_api, alice_incident, "Screenshot_20261207_091244_com.huawei.contacts.png", png_bytes()
    )
    EvidenceFile.objects.filter(pk=evidence.pk).update(metadata={"width": 60, "height": 40})
    evidence.refresh_from_db()
    assert screenshot_reference(evidence, SHANGHAI) == (None, "")
    assert parse_when("昨天 22:05", None)["at"] is None


def test_a_samsung_service_number_recording_is_filed_with_its_number(alice_api, alice_case):
    response = alice_api.post(
        "/api/v1/evidence/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("Call recording _6900_190317_190817.m4a", amr_bytes(frames=100)),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(pk=response.json()["incident"])
    assert incident.occurred_at == local(2019, 3, 17, 19, 8, 17)
    assert incident.counterpart_number == "6900" and incident.counterpart_name == ""


def test_a_vivo_recording_joins_the_call_it_records(alice_api, alice_case, alice_incident):
    # alice_incident: a call at 2024-03-15 23:05 Shanghai lasting 120 s, from 17012345678.
    response = alice_api.post(
        "/api/v1/evidence/",
        {
            "case": alice_case.pk,
            "file": SimpleUploadedFile("17012345678 2024-03-15 23-05-30.amr", amr_bytes()),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["incident"] == alice_incident.pk
