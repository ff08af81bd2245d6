"""Issue 26, the four-reader review: the police report states only what the record holds and cites
the item that fits; the 12378 letter counts its sources per date and says the complaint went to the
lender; the 12363 count comes from the same facts as the disclosure findings; summaries name the
earlier complaint and never print an insult that was not recorded."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from evidence.services import incident_create
from tests.complaints.test_dossier_record import built, pdf_text, squash

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
SHANGHAI = ZoneInfo("Asia/Shanghai")
PLACE = "重庆市渝北区龙溪街道某某小区3栋2单元门口"
HARM = "长期深夜来电导致我严重失眠"


@pytest.fixture
def reviewed(alice, alice_case):
    from accounts.services import profile_for, profile_update
    from complaints.followup import complaint_log
    from complaints.notices import notice_create, notice_mark_sent
    from tests.clock import written_on

    profile_update(
        profile=profile_for(alice), display_name="李静", phone="13812345678", id_number="500103199005123426"
    )
    alice_case.lender_name = "重庆蚂蚁消费金融有限公司"
    alice_case.save(update_fields=["lender_name"])
    at = lambda *args: datetime(*args, tzinfo=SHANGHAI)  # noqa: E731
    collector = {"counterpart_number": "02388886666", "agency": "某某信息咨询有限公司"}
    made = {
        "night_2025": incident_create(
            case=alice_case, kind="call", occurred_at=at(2025, 12, 10, 23, 20), **collector
        ),
        "sms": incident_create(
            case=alice_case,
            kind="sms",
            occurred_at=at(2025, 12, 18, 14, 3),
            flags=["threat"],
            description="短信：“明天就去你家和你单位”",
            **collector,
        ),
        "mother": incident_create(
            case=alice_case,
            kind="call",
            occurred_at=at(2025, 12, 22, 10, 15),
            contacted=["family"],
            flags=["disclosure"],
            description="打给我母亲，说我欠钱不还",
            **collector,
        ),
        "lawyer": incident_create(
            case=alice_case,
            kind="call",
            occurred_at=at(2026, 1, 9, 16, 20),
            counterpart_number="17100002222",
            counterpart_name="张律师",
            flags=["threat", "impersonated_lawyer"],
            description="对方自称张律师，称律师函已经发出。未出示任何文书。",
            quotes=[{"at": None, "text": "你再不还，公安会上门找你"}],
        ),
    }
    with written_on(at(2026, 1, 12, 20, 0)):
        notice = notice_create(owner=alice, case=alice_case, allowed_channel="app_message")
    notice_mark_sent(notice=notice, sent_at=at(2026, 1, 12, 20, 20), channel="online_chat")
    made["night_2026"] = [
        incident_create(case=alice_case, kind="call", occurred_at=at(2026, 1, day, 23, 40), **collector)
        for day in (15, 24)
    ] + [incident_create(case=alice_case, kind="call", occurred_at=at(2026, 2, 4, 0, 20), **collector)]
    made["employer"] = incident_create(
        case=alice_case, kind="call", occurred_at=at(2026, 1, 27, 15, 0), contacted=["employer"], **collector
    )
    made["visit"] = incident_create(
        case=alice_case,
        kind="visit",
        occurred_at=at(2026, 2, 6, 19, 30),
        visitors=2,
        place=PLACE,
        agency="某某信息咨询有限公司",
        description="两名男子上门，在我家门口大声说我欠钱不还，停留约十分钟。",
    )
    made["complaint"] = complaint_log(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=at(2026, 2, 8, 9, 40),
        ticket_number="GD20260208000123",
    )
    return made


def summary_of(dossier) -> str:
    sealed = json.loads(dossier.manifest)["summary"]
    return squash(sealed["long"] + sealed["short"])


def test_the_police_statement_says_only_what_the_record_holds_and_cites_the_fitting_items(
    alice, alice_case, reviewed, tmp_path
):
    dossier = built(alice, alice_case, addressee="police", police_station="龙溪派出所", harm=HARM)
    flat = squash(pdf_text(dossier, tmp_path))
    statement = flat[flat.index("报案陈述") : flat.index("请求事项")]
    # Some contacts went to the mother and the employer: no sentence puts them all on her phone.
    assert "都打到我本人" not in flat
    # The only in-person event is told with its date, the number of people, place and number.
    visit = reviewed["visit"].ref
    told = statement[statement.index("2026-02-0619:30") :]
    assert told.index("2名") < told.index(PLACE) < told.index(f"证据编号{visit}")
    # No stutter, no doubled stop; the agency is not said to collect for the lender as a fact.
    assert "发短信：“明天就去你家和你单位”" in statement and "短信：短信" not in statement
    assert "。。" not in flat and "（为重庆蚂蚁消费金融有限公司催收）" not in statement
    # Only the harm she wrote, no harm the app wrote for her.
    assert HARM in statement and "深夜来电影响我和家人休息" not in flat and "损害了我的名誉" not in flat
    # A threat cites the threat item; no insult was recorded, so no insult article nor title; no
    # 寻衅滋事 for single messages; the night calls and after-notice contacts from 2026 are the
    # 滋扰、纠缠 pattern of the 2025 law's 第五十条第一款第（五）项.
    assert "第五十条第一款第（一）项" in flat and "第四十二条第（一）项" in flat
    assert "第二百四十六条" not in flat and "第二百九十三条" not in flat
    assert "辱骂" not in flat
    assert "第五十条第一款第（五）项" in statement
    pattern = statement[statement.index("2026-01-01以后") :]
    assert reviewed["night_2026"][0].ref in pattern and reviewed["night_2025"].ref not in pattern
    # The caller only claimed to be a lawyer: the title says so.
    assert "以律师等虚假身份催收" not in flat and "自称律师催收（身份待核实）" in flat
    summary = summary_of(dossier)
    assert summary.startswith("李静报案") and "0项" not in summary and "辱骂" not in summary


def test_the_12378_letter_counts_sources_per_date_and_names_the_lender_and_overdue_complaint(
    alice, alice_case, reviewed, tmp_path
):
    dossier = built(alice, alice_case, addressee="nfra", follows=[reviewed["complaint"].pk])
    flat = squash(pdf_text(dossier, tmp_path))
    facts = flat[flat.index("事实与理由") :]
    night = facts[facts.index("其中4次电话在22:00至08:00之间") :]
    night = night[: night.index("。")]
    # The 2026 guideline is in force from 2026-01-30: it applies to one of the four night calls.
    assert re.search(r"（2026）（仅适用于其中1次", night), night
    # The complaint went to the lender through 95188; the deadline is read without nested brackets.
    assert "向重庆蚂蚁消费金融有限公司（由支付宝客服95188受理）投诉" in flat
    assert "（15日（一般情况））" not in flat and "15日内作出处理决定，即最迟于2026-02-23（含当日）" in flat
    summary = summary_of(dossier)
    assert "GD20260208000123" in summary and "已逾期" in summary


def test_the_12363_letter_counts_the_same_disclosures_as_its_findings(alice, alice_case, reviewed, tmp_path):
    flat = squash(pdf_text(built(alice, alice_case, addressee="pboc"), tmp_path))
    competence = flat[flat.index("向贵行投诉的理由") :]
    competence = competence[: competence.index("请贵行")]
    # The call to the employer was not marked as telling the debt: not counted as a disclosure.
    assert f"在1起事件中（{reviewed['mother'].ref}）" in competence
    assert reviewed["employer"].ref not in competence
