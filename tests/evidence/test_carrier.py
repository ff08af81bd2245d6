"""Carriers' call-detail records (通话详单) as .xlsx and .csv: columns detected, or mapped once and
remembered; merged with what the phone logged (issue 15)."""

from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

SHANGHAI = ZoneInfo("Asia/Shanghai")

MOBILE_HEADER = [
    "序号",
    "起始时间",
    "通信地点",
    "通信方式",
    "对方号码",
    "通信时长",
    "通信类型",
    "实收通信费(元)",
]
ROWS = [
    (1, "2024-03-15 23:05:10", "广东深圳", "被叫", "17012345678", "2分3秒", "本地", 0),
    (2, "2024-03-16 08:01:00", "广东深圳", "被叫", "17012345678", "00:00:45", "本地", 0),
    (3, "2024-03-16 09:30:00", "广东深圳", "主叫", "95188", "1分0秒", "本地", 0),
]


def xlsx(header, rows, title=True) -> bytes:
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append(["中国移动通话详单"])
        sheet.append(["手机号码：138****0000", "查询月份：2024年03月"])
        sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def post(client, case, data: bytes, name: str, **fields):
    upload = SimpleUploadedFile(name, data)
    return client.post("/api/v1/imports/", {"file": upload, "case": case.pk, **fields}, format="multipart")


def test_a_carrier_spreadsheet_with_chinese_headers_imports_with_detected_columns(alice_api, alice_case):
    response = post(alice_api, alice_case, xlsx(MOBILE_HEADER, ROWS), "通话详单-202403.xlsx")
    assert response.status_code == 201, response.json()
    assert response.json()["format"] == "carrier_xlsx"
    assert response.json()["created"] == 2  # the outgoing call is the person's own: not imported by default
    night = alice_case.incidents.get(occurred_at=datetime(2024, 3, 15, 23, 5, 10, tzinfo=SHANGHAI))
    assert night.kind == "call" and night.counterpart_number == "17012345678"
    assert night.duration_seconds == 123 and night.answered is True
    assert "本地" in night.description
    # Importing it again creates nothing twice.
    again = post(alice_api, alice_case, xlsx(MOBILE_HEADER, ROWS), "通话详单-202403.xlsx")
    assert again.json()["created"] == 0 and again.json()["duplicates"] == 2


def test_a_carrier_csv_in_gb18030_imports(alice_api, alice_case):
    lines = ["通话起始时间,通话时长,呼叫类型,对方号码,本机通话地,通话类型,费用"]
    lines += ["2024/03/15 23:05:10,123,被叫,17012345678,深圳,本地,0.00"]
    response = post(alice_api, alice_case, "\n".join(lines).encode("gb18030"), "详单.csv")
    assert response.status_code == 201, response.json()
    assert response.json()["format"] == "carrier_csv" and response.json()["created"] == 1


def test_unknown_headers_are_mapped_once_and_the_mapping_is_remembered(alice_api, alice, alice_case):
    from evidence.models import CarrierMapping

    header = ["日期时间", "号码", "秒数", "方向"]
    first = [("2024-03-15 23:05:10", "17012345678", 123, "被叫")]
    refused = post(alice_api, alice_case, xlsx(header, first, title=False), "bill.xlsx")
    assert refused.status_code == 400
    assert refused.json()["error"]["headers"] == header
    assert "mapping" in refused.json()["error"]["fields"]
    mapping = {"日期时间": "start", "号码": "number", "秒数": "duration", "方向": "direction"}
    mapped = post(
        alice_api, alice_case, xlsx(header, first, title=False), "bill.xlsx", mapping=json.dumps(mapping)
    )
    assert mapped.status_code == 201, mapped.json()
    assert mapped.json()["created"] == 1
    assert CarrierMapping.objects.get(owner=alice).mapping == mapping
    # Next month's file with the same columns imports without a mapping.
    second = [("2024-04-02 22:15:00", "17012345678", 30, "被叫")]
    remembered = post(alice_api, alice_case, xlsx(header, second, title=False), "bill-04.xlsx")
    assert remembered.status_code == 201, remembered.json()
    assert remembered.json()["created"] == 1


def test_a_mapping_to_an_unknown_field_is_refused(alice_api, alice_case):
    header = ["日期时间", "号码"]
    data = xlsx(header, [("2024-03-15 23:05:10", "17012345678")], title=False)
    response = post(alice_api, alice_case, data, "bill.xlsx", mapping=json.dumps({"号码": "phone"}))
    assert response.status_code == 400
    assert "mapping" in response.json()["error"]["fields"]


def test_the_same_call_in_the_carrier_record_and_calls_xml_is_one_incident(alice_api, alice_case):
    from tests.conftest import calls_xml

    at = datetime(2024, 3, 15, 23, 5, 10, 400000, tzinfo=SHANGHAI)
    phone = post(alice_api, alice_case, calls_xml([("17012345678", at, 1, 123, "")]), "calls.xml")
    assert phone.json()["created"] == 1
    carrier = post(alice_api, alice_case, xlsx(MOBILE_HEADER, ROWS[:1]), "详单.xlsx")
    assert carrier.json()["created"] == 0 and carrier.json()["linked"] == 1
    assert alice_case.incidents.filter(kind="call").count() == 1


def test_the_upload_page_asks_for_a_mapping_and_remembers_it(client, alice, alice_case):
    from evidence.models import CarrierMapping

    client.force_login(alice)
    header = ["日期时间", "号码", "秒数", "方向"]
    data = xlsx(header, [("2024-03-15 23:05:10", "17012345678", 123, "被叫")], title=False)
    page = client.post(f"/cases/{alice_case.pk}/import/", {"file": SimpleUploadedFile("bill.xlsx", data)})
    assert page.status_code == 200 and page.context["mapping_form"] is not None
    choices = {"column_0": "start", "column_1": "number", "column_2": "duration", "column_3": "direction"}
    response = client.post(
        f"/cases/{alice_case.pk}/import/", {"file": SimpleUploadedFile("bill.xlsx", data), **choices}
    )
    assert response.status_code == 302
    assert CarrierMapping.objects.filter(owner=alice).count() == 1
    preview = client.get(response["Location"])
    assert preview.context["summary"]["calls"] == 1
