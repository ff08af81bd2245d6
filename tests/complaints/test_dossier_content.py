"""What a dossier states is sealed, and any text the app accepts prints.

The counts the PDF prints come from the sealed manifest, computed with the case's own rule pack;
long or unusual text never fails a build and never disappears silently."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage

from accounts.services import profile_for, profile_update
from complaints.services import dossier_create
from evidence.services import case_create, incident_create

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
PDF_PACKAGE = Path(__file__).resolve().parents[2] / "complaints" / "pdf"


def built(owner, case, **options):
    options.setdefault("addressee", "custom")
    options.setdefault("addressee_name", "Consumer Financial Protection Bureau")
    dossier = dossier_create(owner=owner, case=case, **options)
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    return dossier


def pdf_text(dossier, tmp_path) -> str:
    path = tmp_path / "d.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_a_us_dossiers_night_count_is_its_quiet_hours_findings(alice, tmp_path):
    profile_update(profile=profile_for(alice), time_zone="America/New_York")
    case = case_create(owner=alice, title="Card debt", creditor="bank_card", rule_pack="us")
    # 21:00 sharp is allowed under FDCPA, 21:30 and 07:30 are not; 22:30 would be "night" in China too.
    day = datetime(2026, 3, 2, tzinfo=NEW_YORK)
    for hour, minute in ((21, 0), (21, 30), (7, 30), (12, 0), (22, 30)):
        incident_create(
            case=case,
            kind="call",
            occurred_at=day.replace(hour=hour, minute=minute),
            counterpart_number="2125550100",
        )
    dossier = built(alice, case, language="en")
    manifest = json.loads(dossier.manifest)
    stats = manifest["statistics"]
    quiet = [v for v in manifest["violations"] if v["rule"] == "US-TIME-1"][0]
    assert stats["quiet_hours"]["rule"] == "US-TIME-1"
    assert (stats["quiet_hours"]["from"], stats["quiet_hours"]["until"]) == ("21:00", "08:00")
    assert stats["night"] == len(quiet["incidents"]) == 3
    assert stats["calls"] == 5 and sum(stats["calls_per_hour"]) == 5
    text = re.sub(r"\s+", " ", pdf_text(dossier, tmp_path))
    assert re.search(
        r"Contacts in quiet 3 hours \(21:00–08:00\)|Contacts in quiet hours \(21:00–08:00\) 3", text
    )
    assert "3 of the calls fell in the quiet hours from 21:00 to 08:00" in text


def test_the_renderer_reads_no_models():
    for path in PDF_PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
        imported |= {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        assert not any(
            name.split(".")[0] in ("evidence", "accounts", "ledger", "django")
            and "models" in name
            or name.startswith("django.db")
            for name in imported
        ), (path.name, imported)


LONG_CHINESE = "催收员说明天去你单位找你领导，" * 200  # 3,000 characters
LONG_ENGLISH = "They said they would come to my workplace tomorrow and tell my manager. " * 42
UNBROKEN = "x" * 3000


@pytest.mark.parametrize("description", [LONG_CHINESE, LONG_ENGLISH, UNBROKEN], ids=["zh", "en", "unbroken"])
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_any_description_the_app_accepts_builds(alice, alice_case, tmp_path, description, language):
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        description=description,
    )
    dossier = built(alice, alice_case, addressee="alipay", language=language)
    text = re.sub(r"\s+", "", pdf_text(dossier, tmp_path))
    # The whole text is printed (its last words too), not only the shortened timeline cell.
    assert re.sub(r"\s+", "", description)[-60:] in text


def test_characters_the_font_lacks_show_as_a_placeholder_and_stay_in_the_manifest(
    alice, alice_case, tmp_path
):
    incident_create(
        case=alice_case,
        kind="sms",
        occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI),
        counterpart_number="10690000123",
        description="再不还钱就😡🔪上门 ☠",
    )
    dossier = built(alice, alice_case, addressee="alipay", language="zh-hans")
    text = pdf_text(dossier, tmp_path)
    assert "再不还钱就□□上门" in text
    assert "😡" in json.loads(dossier.manifest)["incidents"][0]["description"]


def test_a_long_collectors_list_builds(alice, tmp_path):
    case = case_create(
        owner=alice,
        title="花呗",
        creditor="huabei",
        collectors="\n".join(f"某某催收服务有限公司第{n}分公司" for n in range(300)),
    )
    incident_create(
        case=case,
        kind="call",
        occurred_at=datetime.now(SHANGHAI) - timedelta(days=1),
        counterpart_number="17012345678",
    )
    built(alice, case, addressee="alipay", language="zh-hans")


def test_the_bundle_carries_calls_csv_and_short_summaries_derived_from_the_manifest(
    alice, filled_case, tmp_path
):
    import csv
    import hashlib
    import io
    import zipfile

    from complaints.verification import bundle_file, verify_upload

    dossier = built(alice, filled_case, addressee="alipay", language="zh-hans")
    manifest = json.loads(dossier.manifest)
    summary = manifest["summary"]
    stats = manifest["statistics"]
    assert len(summary["long"]) <= 500 and len(summary["short"]) <= 200
    # Contacts with the person and with others are counted apart (issue 26).
    to_me = stats["total"] - stats["third"]
    assert f"联系我本人{to_me}次" in summary["long"] and f"电话{stats['calls']}次" in summary["long"]
    assert dossier.number in summary["short"]
    with bundle_file(dossier) as spool:
        data = spool.read()
    bundle = zipfile.ZipFile(io.BytesIO(data))
    rows = list(csv.DictReader(io.StringIO(bundle.read("calls.csv").decode("utf-8-sig"))))
    calls = [i for i in manifest["incidents"] if i["kind"] == "call"]
    assert [r["ref"] for r in rows] == [c["ref"] for c in calls]
    assert [r["number"] for r in rows] == [c["counterpart_number"] for c in calls]
    assert rows[0]["local_time"] == "2026-03-15 23:10:00" and rows[0]["duration_seconds"] == "95"
    sums = bundle.read("SHA256SUMS").decode()
    assert f"{hashlib.sha256(bundle.read('calls.csv')).hexdigest()}  calls.csv" in sums
    assert summary["long"] in bundle.read("summary.txt").decode()
    # Intact, it verifies; a changed calls.csv is named.
    intact = tmp_path / "b.zip"
    intact.write_bytes(data)
    with intact.open("rb") as handle:
        assert verify_upload(handle).valid
    forged = tmp_path / "f.zip"
    with zipfile.ZipFile(forged, "w") as out:
        for item in bundle.infolist():
            content = bundle.read(item.filename)
            if item.filename == "calls.csv":
                content = content.replace(b"17012345678", b"17000000000")
            out.writestr(item.filename, content)
    with forged.open("rb") as handle:
        verdict = verify_upload(handle)
    assert not verdict.valid and any("calls.csv" in p for p in verdict.problems)


# --- issue 12: what a handler reads --------------------------------------------------------------


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_path(dossier, tmp_path) -> Path:
    path = tmp_path / f"{dossier.number}.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    return path


def test_2026_incidents_cite_the_revised_law_and_a_huabei_case_no_card_documents(alice, alice_case, tmp_path):
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 14, 0, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        flags=["threat"],
        description="说要去单位闹",
    )
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
    )
    text = pdf_text(built(alice, alice_case, addressee="alipay", language="zh-hans"), tmp_path)
    flat = squash(text)
    assert "2012年修正" not in flat and "（2025年修订）第五十条" in flat
    assert "信用卡" not in flat
    assert "花呗" in flat and "重庆蚂蚁消费金融有限公司" in flat
    # Binding law and non-binding standards under separate headings.
    assert "涉嫌违反以下法律法规" in flat and "不符合以下国家标准或行业自律规范的要求" in flat
    assert "此致" in flat and "敬礼" in flat and flat.index("此致") < flat.index("敬礼")
    assert "北京时间" in flat and "Asia/Shanghai时间" not in flat


def test_incidents_before_2026_cite_the_2012_text(alice, alice_case, tmp_path):
    incident_create(
        case=alice_case,
        kind="sms",
        occurred_at=datetime(2025, 6, 2, 14, 0, tzinfo=SHANGHAI),
        counterpart_number="10690000123",
        flags=["threat"],
    )
    flat = squash(pdf_text(built(alice, alice_case, addressee="alipay", language="zh-hans"), tmp_path))
    assert "（2012年修正）第四十二条" in flat and "2025年修订" not in flat


def test_family_present_at_a_visit_is_not_third_party_collection(alice, alice_case):
    visit = incident_create(
        case=alice_case,
        kind="visit",
        occurred_at=datetime(2026, 3, 2, 15, 0, tzinfo=SHANGHAI),
        visitors=2,
        contacted=["family"],
    )
    call = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 16, 0, tzinfo=SHANGHAI),
        contacted=["employer"],
    )
    assert "CN-3P-1" not in [v["rule"] for v in visit.violations]
    assert "CN-3P-1" in [v["rule"] for v in call.violations]


def test_posing_as_a_lawyer_is_its_own_rule(alice, alice_case):
    lawyer = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 15, 0, tzinfo=SHANGHAI),
        flags=["impersonated_lawyer"],
    )
    rules = [v["rule"] for v in lawyer.violations]
    assert "CN-IMP-3" in rules and "CN-IMP-1" not in rules


def test_a_police_report_asks_for_a_receipt_and_cites_only_police_grounds(alice, alice_case, tmp_path):
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        flags=["threat", "impersonation"],
    )
    dossier = dossier_create(
        owner=alice,
        case=alice_case,
        addressee="police",
        language="zh-hans",
        requests=["file_case", "case_receipt"],
    )
    dossier.refresh_from_db()
    flat = squash(pdf_text(dossier, tmp_path))
    assert "受案回执" in flat and "依法受案调查" in flat
    for consumer in ("停止违规催收", "书面答复", "协商", "民法典", "GB/T45251", "消费金融公司管理办法"):
        assert consumer not in flat, consumer
    assert "治安管理处罚法" in flat


def test_consumer_requests_are_refused_for_the_police(alice, alice_case):
    from django.core.exceptions import ValidationError

    incident_create(case=alice_case, kind="call", occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI))
    with pytest.raises(ValidationError) as refused:
        dossier_create(owner=alice, case=alice_case, addressee="police", requests=["repayment_plan"])
    assert "requests" in refused.value.message_dict


def test_no_letter_page_holds_only_the_closing(alice, tmp_path):
    # Lengths that push the closing over a page boundary one way or another.
    for extra in range(0, 9):
        case = case_create(owner=alice, title=f"c{extra}", creditor="huabei")
        for n in range(extra):
            incident_create(
                case=case,
                kind="call",
                counterpart_number=f"1701234{n:04d}",
                flags=["threat"],
                occurred_at=datetime(2026, 3, 2, 9 + n, 0, tzinfo=SHANGHAI),
                description="x" * 40,
            )
        if extra == 0:
            incident_create(case=case, kind="call", occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
        dossier = built(
            alice, case, addressee="alipay", language="zh-hans", request_text="请求协商还款。" * (extra * 12)
        )
        path = pdf_path(dossier, tmp_path)
        pages = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout.split("\f")
        letter = []
        for page in pages:
            letter.append(page)
            if "敬礼" in page:
                break
        if len(letter) > 1:
            body = [
                line
                for line in letter[-1].splitlines()
                if line.strip() and dossier.number not in line and "封印" not in line
            ]
            assert len(body) >= 4 + 4, (extra, body)  # four lines of body besides the closing block


def test_screenshots_print_full_page_at_150_dpi_or_more(alice, alice_case, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evidence.services import evidence_store
    from tests.conftest import png_bytes

    incidents = [
        incident_create(
            case=alice_case,
            kind="sms",
            counterpart_number="10690000123",
            occurred_at=datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI) + timedelta(hours=n),
        )
        for n in range(20)
    ]
    for n in range(5):
        evidence_store(
            incident=incidents[n],
            upload=SimpleUploadedFile(f"Screenshot_{n}.png", png_bytes(size=(1080, 2400))),
        )
    dossier = built(alice, alice_case, addressee="alipay", language="zh-hans")
    path = pdf_path(dossier, tmp_path)
    listing = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    full = [
        line.split() for line in listing.splitlines()[2:] if line.split() and int(line.split()[3]) >= 1000
    ]
    assert len(full) == 5, listing
    assert len({row[0] for row in full}) == 5  # one per page
    assert all(int(row[12]) >= 150 for row in full), listing  # x-ppi


def test_pdf_dates_are_real_and_the_qr_opens_the_verify_page_with_the_seal(
    alice, filled_case, tmp_path, client
):
    dossier = built(alice, filled_case, addressee="alipay", language="zh-hans")
    path = pdf_path(dossier, tmp_path)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    created = re.search(r"CreationDate:\s+(.+)", info).group(1)
    assert str(datetime.now().year) in created and "2000" not in created
    if shutil.which("zbarimg") is None:
        pytest.skip("zbar-tools is not installed")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")], check=True
    )
    png = next(tmp_path.glob("p*.png"))
    decoded = subprocess.run(
        ["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True
    ).stdout.strip()
    assert decoded.endswith(f"/verify/?seal={dossier.seal}"), decoded
    page = client.get(decoded[decoded.index("/verify/") :]).content.decode()
    assert dossier.number in page


def test_the_letter_says_how_many_incidents_have_more_than_the_users_word(alice, filled_case, tmp_path):
    dossier = built(alice, filled_case, addressee="alipay", language="zh-hans")
    stats = json.loads(dossier.manifest)["statistics"]
    flat = squash(pdf_text(dossier, tmp_path))
    assert f"上述{stats['total']}起事件中，{stats['backed']}起有手机自身的通话" in flat
    assert "任何改动均可被发现" not in flat and "材料内容是本人对所发生事件的记录和陈述" in flat


def test_a_12378_letter_states_the_earlier_complaint_and_that_it_is_overdue(alice, alice_case, tmp_path):
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        contacted=["employer"],
    )
    dossier = dossier_create(
        owner=alice,
        case=alice_case,
        addressee="nfra",
        language="zh-hans",
        requests=["investigate", "supervise_reply"],
        earlier_complaint={
            "date": "2026-03-05",
            "channel": "95188 电话",
            "ticket": "GD20260305-7781",
            "reply": "",
        },
    )
    dossier.refresh_from_db()
    flat = squash(pdf_text(dossier, tmp_path))
    assert "GD20260305-7781" in flat and "2026-03-05" in flat and "逾期未答复" in flat and "95188电话" in flat


def test_an_earlier_complaint_with_an_impossible_date_is_refused(alice, alice_case):
    from django.core.exceptions import ValidationError

    incident_create(case=alice_case, kind="call", occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI))
    for bad in ("2026-02-30", "2999-01-01", "yesterday"):
        with pytest.raises(ValidationError) as refused:
            dossier_create(
                owner=alice,
                case=alice_case,
                addressee="nfra",
                earlier_complaint={"date": bad, "channel": "95188"},
            )
        assert "earlier_complaint_date" in refused.value.message_dict, bad


def test_the_full_id_number_only_for_recipients_that_need_it_and_only_when_asked(alice, alice_case, tmp_path):
    from django.core.exceptions import ValidationError

    profile_update(profile=profile_for(alice), display_name="王小红", id_number="440301199203154321")
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        flags=["threat"],
    )
    masked = dossier_create(owner=alice, case=alice_case, addressee="police", requests=["file_case"])
    full = dossier_create(
        owner=alice, case=alice_case, addressee="police", requests=["file_case"], full_id_number=True
    )
    for dossier in (masked, full):
        dossier.refresh_from_db()
    assert "440301199203154321" not in pdf_text(masked, tmp_path)
    assert "440301199203154321" in pdf_text(full, tmp_path)
    with pytest.raises(ValidationError):
        dossier_create(owner=alice, case=alice_case, addressee="alipay", full_id_number=True)


def test_the_builder_warns_of_12363_scope_and_lists_what_would_strengthen_the_case(client, alice, alice_case):
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        flags=["threat"],
    )
    client.force_login(alice)
    page = client.get(f"/cases/{alice_case.pk}/dossiers/new/").content.decode()
    assert "12363 主要受理征信" in page and 'data-for-addressee="pboc"' in page
    assert "运营商通话详单" in page and "没有录音" in page
    assert 'data-kind="police"' in page and 'data-for="police"' in page


def test_verbatim_quotes_print_with_their_offset_in_the_timeline_and_under_the_violation(
    client, alice, alice_case, tmp_path
):
    client.force_login(alice)
    response = client.post(
        f"/cases/{alice_case.pk}/log/call/",
        {
            "occurred_at": "2026-03-02T23:10:00",
            "counterpart_number": "17012345678",
            "flags": ["threat"],
            "quotes": "02:13 明天去你单位\n「再不还就上门」",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    incident = alice_case.incidents.get()
    assert incident.quotes == [{"at": 133, "text": "明天去你单位"}, {"at": None, "text": "再不还就上门"}]
    assert "02:13" in client.get(f"/incidents/{incident.pk}/").content.decode()
    text = squash(pdf_text(built(alice, alice_case, addressee="alipay", language="zh-hans"), tmp_path))
    assert text.count("02:13「明天去你单位」") >= 2  # the timeline, and under the threat it supports


def test_quotes_are_checked_by_the_service(alice_api, alice_case):
    bad = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "call",
            "occurred_at": "2026-03-02T23:10:00+08:00",
            "quotes": [{"at": -5, "text": "x"}],
        },
        format="json",
    )
    assert bad.status_code == 400 and "quotes" in bad.json()["error"]["fields"]
    good = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "call",
            "occurred_at": "2026-03-02T23:10:00+08:00",
            "quotes": [{"at": 133, "text": "明天去你单位"}],
        },
        format="json",
    )
    assert good.status_code == 201 and good.json()["quotes"] == [{"at": 133, "text": "明天去你单位"}]


def test_the_ready_page_shows_next_steps_and_the_summary_to_copy(client, alice, filled_case):
    alipay = built(alice, filled_case, addressee="alipay", language="zh-hans")
    nfra = built(alice, filled_case, addressee="nfra", language="zh-hans")
    client.force_login(alice)
    page = client.get(f"/dossiers/{alipay.pk}/").content.decode()
    summary = json.loads(alipay.manifest)["summary"]
    assert 'href="tel:95188"' in page and summary["short"] in page and 'data-copy="#summary-long"' in page
    assert 'href="tel:12378"' in client.get(f"/dossiers/{nfra.pk}/").content.decode()


def test_a_letter_without_chosen_requests_asks_what_that_recipient_is_usually_asked(
    alice, alice_case, tmp_path
):
    incident_create(case=alice_case, kind="call", occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI))
    dossier = dossier_create(owner=alice, case=alice_case, addressee="nfra", language="zh-hans")
    dossier.refresh_from_db()
    assert {"investigate", "supervise_reply"} <= set(
        dossier.requests
    ) and "reply_in_writing" not in dossier.requests
    assert "对上述涉嫌违规行为依法调查处理" in squash(pdf_text(dossier, tmp_path))


def test_the_recipient_letters_in_english(alice, alice_case, tmp_path):
    incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        flags=["threat"],
        contacted=["employer"],
    )
    police = dossier_create(
        owner=alice,
        case=alice_case,
        addressee="police",
        language="en",
        requests=["file_case", "case_receipt"],
    )
    nfra = dossier_create(
        owner=alice,
        case=alice_case,
        addressee="nfra",
        language="en",
        earlier_complaint={"date": "2026-03-05", "channel": "95188 phone", "ticket": "GD-7781"},
    )
    alipay = dossier_create(owner=alice, case=alice_case, addressee="alipay", language="en")
    for dossier in (police, nfra, alipay):
        dossier.refresh_from_db()
        assert dossier.status == "ready", dossier.error
    police_text = re.sub(r"\s+", " ", pdf_text(police, tmp_path))
    assert "case acceptance receipt" in police_text and "Register the case" in police_text
    assert "Reply in writing" not in police_text and "Civil Code" not in police_text
    nfra_text = re.sub(r"\s+", " ", pdf_text(nfra, tmp_path))
    assert "GD-7781" in nfra_text and "2026-03-05" in nfra_text and "without a reply" in nfra_text
    alipay_text = re.sub(r"\s+", " ", pdf_text(alipay, tmp_path))
    assert "Beijing time, UTC+8" in alipay_text and "Yours faithfully" in alipay_text
    assert "Huabei" in alipay_text and "重庆蚂蚁消费金融有限公司" in alipay_text
    assert "2012 amendment" not in alipay_text and "Credit Card" not in alipay_text
    assert (
        "Suspected breach of these laws and regulations" in alipay_text
        or "laws and regulations" in alipay_text
    )
    summary = json.loads(alipay.manifest)["summary"]
    assert len(summary["long"]) <= 500 and len(summary["short"]) <= 200 and alipay.number in summary["short"]


def test_an_incident_whose_time_is_unknown_is_printed_as_such_and_counted_in_no_time_rule(alice, tmp_path):
    case = case_create(owner=alice, title="花呗", creditor="huabei")
    night = datetime(2026, 3, 2, 23, 15, tzinfo=SHANGHAI)
    incident_create(case=case, kind="call", occurred_at=night, counterpart_number="17012345678")
    unknown = incident_create(
        case=case,
        kind="call",
        occurred_at=None,
        time_unknown_ok=True,
        counterpart_number="17012345678",
        description="录音文件名里没有时间",
    )
    dossier = built(alice, case, language="zh-hans", addressee="alipay")
    manifest = json.loads(dossier.manifest)
    stats = manifest["statistics"]
    # Listed, but not counted: the collection events counted are those whose time is known.
    assert stats["total"] == 1 and stats["time_unknown"] == 1 and stats["listed"] == 2
    assert stats["night_calls"] == 1  # only the call whose time is known
    entry = next(i for i in manifest["incidents"] if i["id"] == unknown.pk)
    assert entry["occurred_at"] is None and entry["time_status"] == "unknown"
    text = pdf_text(dossier, tmp_path)
    assert "时间不详" in text


def test_the_persons_own_calls_and_family_at_a_visit_are_not_counted_as_collection_contacts(alice, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evidence.imports import phone_import_prepare, phone_import_run
    from evidence.models import Incident
    from tests.conftest import calls_xml

    case = case_create(owner=alice, title="花呗", creditor="huabei")
    day = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    # Four answered calls from the collector on one day, and one call the person made back to them.
    calls = [("17012345678", day + timedelta(hours=h), 1, 60, "") for h in (0, 1, 2, 3)]
    calls.append(("17012345678", day + timedelta(hours=4), 2, 120, ""))
    upload = SimpleUploadedFile("calls.xml", calls_xml(calls))
    phone_import = phone_import_prepare(case=case, upload=upload, preview=False)
    phone_import_run(phone_import=phone_import, kinds=["incoming", "outgoing"])
    dialled = Incident.objects.get(case=case, source_ref__endswith="(outgoing)")
    assert dialled.violations == []  # no rule judges the person's own call
    incident_create(
        case=case,
        kind="visit",
        occurred_at=day + timedelta(days=1),
        contacted=["self", "family"],
        visitors=2,
    )
    dossier = built(alice, case, language="zh-hans", addressee="nfra")
    stats = json.loads(dossier.manifest)["statistics"]
    assert stats["calls"] == 4 and stats["own"] == 1 and stats["listed"] == 6
    assert (
        stats["third"] == 0 and stats["visits"] == 1
    )  # family present at a visit is not a third-party contact
    text = "".join(pdf_text(dossier, tmp_path).split())
    assert "本人拨出的电话" in text


def test_a_number_written_two_ways_is_listed_once(alice):
    case = case_create(owner=alice, title="花呗", creditor="huabei")
    day = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    incident_create(case=case, kind="call", occurred_at=day, counterpart_number="17198765432")
    incident_create(
        case=case, kind="call", occurred_at=day.replace(hour=11), counterpart_number="+8617198765432"
    )
    dossier = built(alice, case, language="zh-hans", addressee="nfra")
    assert json.loads(dossier.manifest)["respondent"]["numbers_seen"] == ["17198765432"]
