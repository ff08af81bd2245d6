"""OCR proposals (issue 27): a screen is classified from its layout, a call-log row keeps its name
over its number and its duration, a tall screenshot is read in overlapping tiles with every message
once, and relative dates are read against the screenshot's own name.

Each screen is drawn and read once per module (OCR costs seconds of CPU)."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.evidence.ocr_screens import (
    TALL_LABELS,
    font_available,
    render_call_log,
    render_sms,
    tall_sms,
)

pytestmark = pytest.mark.skipif(not font_available(), reason="needs fonts-wqy-zenhei")

SHANGHAI = ZoneInfo("Asia/Shanghai")
TAKEN = datetime(2024, 3, 22, 10, 32, tzinfo=SHANGHAI)  # a Friday
WIDTH, HEIGHT = 1080, 2400


def read(screen):
    from evidence import ocr

    return ocr.recognize(screen.image)


@pytest.fixture(scope="module")
def two_row_log():
    rows = [
        {"who": "171 2345 6789", "when": "昨天 21:14", "missed": True, "second": "广东深圳 移动"},
        {"who": "138 0013 8000", "when": "星期二 09:15", "missed": False, "second": "北京 联通"},
    ]
    return read(render_call_log(rows, style="miui"))


@pytest.fixture(scope="module")
def contacts_log():
    rows = [
        {
            "who": "张经理",
            "number": "186 8922 0365",
            "when": "昨天 22:05",
            "direction": "incoming",
            "direction_word": "呼入",
            "duration": 192,
        },
        {
            "who": "催收专员王",
            "number": "150 2222 3333",
            "when": "星期二 13:05",
            "direction": "missed",
            "direction_word": "未接",
        },
        {
            "who": "133 8495 6587",
            "when": "3月15日 20:11",
            "direction": "outgoing",
            "direction_word": "呼出",
            "duration": 3725,
            "second": "上海 移动",
        },
    ]
    return read(render_call_log(rows, style="contacts"))


def test_a_two_row_call_log_is_a_call_log_not_an_sms_thread(two_row_log):
    from evidence.proposals import read_call_log, screen_kind

    assert screen_kind(two_row_log, WIDTH, HEIGHT) == "calls"
    items = read_call_log(two_row_log, WIDTH, HEIGHT, TAKEN)["items"]
    assert [(item["number"], item["at"], item["direction"]) for item in items] == [
        ("17123456789", datetime(2024, 3, 21, 21, 14, tzinfo=SHANGHAI), "missed"),
        ("13800138000", datetime(2024, 3, 19, 9, 15, tzinfo=SHANGHAI), "unknown"),
    ]


def test_a_contact_name_over_its_number_keeps_the_number_and_the_duration_is_carried(contacts_log):
    from evidence.proposals import read_call_log, screen_kind

    assert screen_kind(contacts_log, WIDTH, HEIGHT) == "calls"
    items = read_call_log(contacts_log, WIDTH, HEIGHT, TAKEN)["items"]
    found = [(i["name"], i["number"], i["direction"], i["duration"], i["at"]) for i in items]
    assert found == [
        ("张经理", "18689220365", "incoming", 192, datetime(2024, 3, 21, 22, 5, tzinfo=SHANGHAI)),
        ("催收专员王", "15022223333", "missed", None, datetime(2024, 3, 19, 13, 5, tzinfo=SHANGHAI)),
        ("", "13384956587", "outgoing", 3725, datetime(2024, 3, 15, 20, 11, tzinfo=SHANGHAI)),
    ]


def test_durations_are_read_as_call_logs_write_them_and_clocks_are_not_durations():
    from evidence.proposals import read_duration

    assert read_duration("呼入 3分12秒") == 192
    assert read_duration("1小时2分5秒") == 3725
    assert read_duration("呼出 45秒  上海 移动") == 45
    assert read_duration("Incoming 3m 12s") == 192
    assert read_duration("1 min 5 sec") == 65
    assert read_duration("10:32") is None
    assert read_duration("未接  广东深圳 移动") is None


def line(text, x0, y0, x1, y1):
    return {"text": text, "box": [x0, y0, x1, y1], "score": 0.99, "color": "#141414"}


def test_screens_are_told_apart_by_their_layout_not_by_a_word():
    from evidence.proposals import screen_kind

    status = [line("10:32", 48, 30, 150, 70), line("5G 87%", 820, 30, 960, 70)]
    # A chat: the title centred, bubbles set in from both edges by the avatars.
    chat = status + [
        line("张经理", 460, 160, 620, 214),
        line("昨天 21:14", 455, 320, 625, 356),
        line("你再不还钱，我们就去你家里找", 196, 420, 856, 466),
        line("你，后果自负。", 196, 484, 520, 530),
        line("我知道了", 700, 640, 884, 686),
    ]
    assert screen_kind(chat, WIDTH, HEIGHT) == "chat"
    # The same words against the screen's edges: an SMS thread.
    sms = status + [
        line("张经理", 110, 160, 270, 214),
        line("昨天 21:14", 455, 320, 625, 356),
        line("你再不还钱，我们就去你家里找", 84, 420, 844, 466),
        line("你，后果自负。", 84, 484, 420, 530),
        line("我知道了", 812, 640, 996, 686),
    ]
    assert screen_kind(sms, WIDTH, HEIGHT) == "sms"
    # A lender's bill: label–value rows, two values of them dates, as a call log's times are.
    bill = status + [line("账单详情", 60, 150, 320, 214)]
    for index, (label, value) in enumerate(
        [("借款日期", "2023-11-20"), ("到期日", "03-20 23:59"), ("逾期天数", "32天"), ("罚息", "123.45")]
    ):
        y = 560 + 130 * index
        bill += [line(label, 60, y, 240, y + 44), line(value, 1020 - 30 * len(value), y, 1020, y + 44)]
    assert screen_kind(bill, WIDTH, HEIGHT) == "other"


def test_tiles_cover_a_tall_screenshot_once_with_overlaps_taller_than_a_line():
    from evidence.ocr import tiles

    assert tiles(2400, 1080) == [(0, 2400, 0, 2400)]
    parts = tiles(12000, 1080)
    assert parts[0][0] == 0 and parts[-1][1] == 12000
    owned = [(own_top, own_bottom) for _top, _bottom, own_top, own_bottom in parts]
    assert owned[0][0] == 0 and owned[-1][1] == 12000
    assert all(a[1] == b[0] for a, b in zip(owned, owned[1:], strict=False))
    for top, bottom, own_top, own_bottom in parts:
        # A line of text (at most ~120 px) centred in the owned part lies whole in the tile.
        assert own_top == 0 or own_top - top >= 120
        assert own_bottom == 12000 or bottom - own_bottom >= 120


def test_a_tall_screenshot_is_read_in_tiles_and_each_message_is_found_once():
    from evidence.proposals import normalise_text, parse_when, read_sms, screen_kind

    screen = tall_sms(random.Random(27))
    assert screen.image.size == (1080, 12000) and len(screen.messages) == len(TALL_LABELS)
    lines = read(screen)
    assert screen_kind(lines, 1080, 12000) == "sms"
    found = read_sms(lines, 1080, 12000, TAKEN, {})
    assert found["sender"]["number"].removeprefix("+86") == "".join(screen.sender.split())

    def squash(text):
        return "".join(normalise_text(text).split())

    assert [squash(item["body"]) for item in found["items"]] == [
        squash(message["body"]) for message in screen.messages
    ]
    assert [item["at"] for item in found["items"]] == [
        parse_when(label, TAKEN)["at"] for label in TALL_LABELS
    ]


@pytest.mark.parametrize(
    ("name", "exif", "source", "yesterday"),
    [
        (
            "Screenshot_2026-12-07-11-05-09-312_com.android.mms.png",
            None,
            "name",
            datetime(2026, 12, 6, 22, 5),
        ),
        ("Screenshot_20261207_091244_com.huawei.contacts.png", None, "name", datetime(2026, 12, 6, 22, 5)),
        ("IMG_20261205_093500.jpg", None, "name", datetime(2026, 12, 4, 22, 5)),
        ("wechat_share.png", "2026:12:03 08:00:00", "exif", datetime(2026, 12, 2, 22, 5)),
    ],
)
def test_yesterday_is_dated_from_the_screenshots_name_else_its_exif_and_the_page_says_which(
    client, alice, alice_incident, django_capture_on_commit_callbacks, name, exif, source, yesterday
):
    from evidence.models import EvidenceFile
    from evidence.proposals import propose
    from evidence.services import evidence_store

    screen = render_sms("186 8922 0365", [{"label": "昨天 22:05", "body": "你再不还钱，后果自负。"}])
    upload = SimpleUploadedFile(name, screen.png(exif_time=exif), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        stored = evidence_store(incident=alice_incident, upload=upload)
    evidence = EvidenceFile.objects.get(pk=stored.pk)
    found = propose(evidence=evidence, tz=SHANGHAI)
    assert found["kind"] == "sms" and found["reference_source"] == source
    assert [item["at"] for item in found["items"]] == [yesterday.replace(tzinfo=SHANGHAI)]
    client.force_login(alice)
    page = client.get(f"/evidence/{evidence.pk}/read/").content.decode()
    assert {"name": "截图的文件名", "exif": "EXIF"}[source] in page


def test_a_logged_call_keeps_its_duration(alice_case, alice_incident, django_capture_on_commit_callbacks):
    from evidence.models import EvidenceFile
    from evidence.proposals import proposals_log, propose
    from evidence.services import evidence_store

    rows = [
        {
            "who": "张经理",
            "number": "186 8922 0365",
            "when": "昨天 22:05",
            "direction": "incoming",
            "direction_word": "呼入",
            "duration": 192,
        },
        {"who": "133 8495 6587", "when": "09:15", "direction": "missed", "direction_word": "未接"},
    ]
    data = render_call_log(rows, style="contacts").png()
    upload = SimpleUploadedFile("Screenshot_20240322-103200.png", data, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        stored = evidence_store(incident=alice_incident, upload=upload)
    evidence = EvidenceFile.objects.get(pk=stored.pk)
    items = propose(evidence=evidence, tz=SHANGHAI)["items"]
    assert proposals_log(evidence=evidence, case=alice_case, choices=items)["created"] == 2
    call = alice_case.incidents.get(counterpart_number="18689220365")
    assert call.duration_seconds == 192 and call.counterpart_name == "张经理"
    assert alice_case.incidents.get(counterpart_number="13384956587").answered is False


def test_a_chat_screenshot_is_proposed_as_app_messages_from_its_title(
    client, alice, alice_case, alice_incident, django_capture_on_commit_callbacks
):
    from evidence.models import EvidenceFile
    from evidence.services import evidence_store
    from tests.evidence.ocr_screens import render_chat

    screen = render_chat(
        "催收专员王",
        [
            {"label": "昨天 21:14", "body": "你单位的电话我们已经拿到了，明天直接打给你们领导。"},
            {"label": "", "body": "请不要再打给我的单位。", "sent": True},
        ],
    )
    upload = SimpleUploadedFile("Screenshot_20240322-103200.png", screen.png(), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        stored = evidence_store(incident=alice_incident, upload=upload)
    evidence = EvidenceFile.objects.get(pk=stored.pk)
    client.force_login(alice)
    page = client.get(f"/evidence/{evidence.pk}/read/")
    found = page.context["found"]
    assert found["kind"] == "chat" and "聊天对话" in page.content.decode()
    assert [(item["direction"], item["name"]) for item in found["items"]] == [
        ("received", "催收专员王"),
        ("sent", "催收专员王"),
    ]
    received = found["items"][0]
    assert received["at"] == datetime(2024, 3, 21, 21, 14, tzinfo=SHANGHAI)
    response = client.post(f"/evidence/{evidence.pk}/read/", {f"pick_{received['index']}": "on"})
    assert response.status_code == 302
    logged = alice_case.incidents.get(kind="app_message")
    assert logged.counterpart_name == "催收专员王" and "明天直接打给你们领导" in logged.description
