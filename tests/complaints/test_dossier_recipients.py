"""Issue 26, acceptance 3: each recipient gets the letter it can act on.

The police report opens with the person's own statement (who, where, the most serious events with
their quotes and evidence numbers, the harm, the suspects, the request for a 受案回执); the 12378
letter goes to the regulator's office where the lender is registered and names the dossier sent to
95188; the 12363 letter says why the central bank is competent."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage

from complaints.services import dossier_create
from evidence.services import incident_create

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
SHANGHAI = ZoneInfo("Asia/Shanghai")
STATION = "渝北区公安分局龙溪派出所"
HOME = "重庆市渝北区龙溪街道金龙路8号3-2"
VISITED = "重庆市渝北区龙溪街道金龙路8号楼下"


def built(owner, case, **options):
    options.setdefault("language", "zh-hans")
    dossier = dossier_create(owner=owner, case=case, **options)
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return dossier


def pdf_text(dossier, tmp_path) -> str:
    path = tmp_path / f"{dossier.number}.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def reported(alice, alice_case):
    """A 花呗 case with ordinary calls, a night call, a call to the mother, a threat by a caller
    claiming to be a lawyer (quoted), a threatening SMS (quoted) and a visit by two men."""
    from accounts.services import profile_for, profile_update

    profile_update(
        profile=profile_for(alice), display_name="王小红", phone="13900001111", id_number="440301199203154321"
    )
    at = lambda *args: datetime(*args, tzinfo=SHANGHAI)  # noqa: E731
    collector = {"counterpart_number": "17012345678", "agency": "某某催收公司"}
    made = {
        "daytime": [
            incident_create(case=alice_case, kind="call", occurred_at=at(2026, 2, day, 10, 0), **collector)
            for day in (2, 3, 4)
        ],
        "night": incident_create(
            case=alice_case, kind="call", occurred_at=at(2026, 2, 4, 23, 20), **collector
        ),
        "mother": incident_create(
            case=alice_case,
            kind="call",
            occurred_at=at(2026, 2, 5, 11, 0),
            contacted=["family"],
            flags=["disclosure"],
            description="打给我母亲，告诉她我欠款不还",
            **collector,
        ),
        "lawyer": incident_create(
            case=alice_case,
            kind="call",
            occurred_at=at(2026, 2, 6, 20, 0),
            counterpart_number="17098765432",
            counterpart_name="张律师",
            flags=["threat", "impersonated_lawyer"],
            description="自称张律师，说律师函已经发出",
            quotes=[{"at": None, "text": "再不还钱公安会上门抓你"}],
        ),
        "sms": incident_create(
            case=alice_case,
            kind="sms",
            occurred_at=at(2026, 2, 7, 9, 30),
            flags=["threat"],
            description="短信威胁",
            quotes=[{"at": None, "text": "三天内不还款就去你家找你父母"}],
            **collector,
        ),
        "visit": incident_create(
            case=alice_case,
            kind="visit",
            occurred_at=at(2026, 2, 10, 19, 0),
            visitors=2,
            place=VISITED,
            flags=["threat"],
            description="两名男子在楼下堵我，大声喊我欠钱",
            quotes=[{"at": None, "text": "今天不还钱别想走"}],
        ),
    }
    return made


def test_the_police_report_opens_with_a_first_person_statement_and_asks_for_a_receipt(
    alice, alice_case, reported, tmp_path
):
    dossier = built(
        alice,
        alice_case,
        addressee="police",
        police_station=STATION,
        contact_address=HOME,
        harm="我因此失眠，母亲担心得住院",
    )
    flat = squash(pdf_text(dossier, tmp_path))
    start = flat.index("报案陈述")
    # The statement comes first: before the reporter's details, the requests and the statistics.
    assert flat.index("致：" + STATION) < start < flat.index("报案人姓名")
    assert start < flat.index("请求事项") and start < flat.index("事实与理由")
    statement = flat[start : flat.index("请求事项")]
    assert statement.startswith("报案陈述我叫王小红")
    assert HOME in statement and VISITED in statement
    # The three most serious events, each with the collectors' words and its evidence number; the
    # ordinary daytime calls are not among them.
    for key, words in (
        ("lawyer", "再不还钱公安会上门抓你"),
        ("sms", "三天内不还款就去你家找你父母"),
        ("visit", "今天不还钱别想走"),
    ):
        assert f"「{words}」" in statement, key
        assert f"证据编号{reported[key].ref}" in statement, key
    for incident in reported["daytime"]:
        assert f"证据编号{incident.ref}" not in statement
    assert statement.index(reported["lawyer"].ref) < statement.index(reported["visit"].ref)
    # The harm, the suspects with their numbers and the name given, then the request.
    assert "我因此失眠，母亲担心得住院" in statement
    assert "某某催收公司" in statement and "17098765432" in statement and "张律师" in statement
    assert f"请求{STATION}依法受案调查，并出具受案回执" in statement


def test_without_a_station_the_report_still_asks_the_police_for_a_receipt(
    alice, alice_case, reported, tmp_path
):
    flat = squash(pdf_text(built(alice, alice_case, addressee="police"), tmp_path))
    assert "致：公安机关" in flat
    statement = flat[flat.index("报案陈述") : flat.index("请求事项")]
    assert "请求贵单位依法受案调查，并出具受案回执" in statement
    assert "住" not in statement.split("。")[0]  # no address was given: none is invented


def test_the_12378_letter_goes_to_chongqing_and_names_the_dossier_sent_to_95188(
    alice, alice_case, reported, tmp_path
):
    from complaints.followup import complaint_log

    first = built(alice, alice_case, addressee="alipay", contact_address=HOME)
    alipay = squash(pdf_text(first, tmp_path))
    assert f"书面答复请寄：{HOME}" in alipay
    complaint = complaint_log(
        owner=alice,
        case=alice_case,
        addressee="alipay",
        channel="phone",
        sent_at=datetime(2026, 2, 12, 10, 0, tzinfo=SHANGHAI),
        ticket_number="HB20260212001",
        dossier=first,
    )
    letter = built(alice, alice_case, addressee="nfra", follows=[complaint.pk], full_id_number=True)
    flat = squash(pdf_text(letter, tmp_path))
    assert "致：国家金融监督管理总局重庆监管局" in flat and "国家金融监督管理总局重庆监管局：" in flat
    assert "登记注册地：重庆" in flat
    assert first.number in flat and "HB20260212001" in flat
    assert "2026-02-27（含当日）" in flat
    # The letter's own words for the channel, never the app's label; the full ID when ticked.
    # The complaint was lodged with the lender (whom the complaint-handling measures bind) through
    # Alipay's customer service (issue 26 review: not "to Alipay").
    assert (
        "如95188" not in flat
        and "本人通过电话向重庆蚂蚁消费金融有限公司（由支付宝客服95188受理）投诉" in flat
    )
    assert "440301199203154321" in flat


def test_the_12363_letter_says_why_the_central_bank_is_competent(alice, alice_case, reported, tmp_path):
    flat = squash(pdf_text(built(alice, alice_case, addressee="pboc"), tmp_path))
    assert "致：中国人民银行重庆市分行" in flat
    reason = flat[flat.index("向贵行投诉的理由") :]
    assert "个人金融信息" in reason[:300] and reported["mother"].ref in reason[:300]
