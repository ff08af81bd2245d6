"""Issue 26: a dossier with no sentence a handler can refute.

Each row says where it truly comes from; an impossible quote or notice date is refused; an incident
keeps its evidence number for the life of the case."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints.services import dossier_create
from evidence.services import evidence_store, incident_create
from tests.conftest import amr_bytes, calls_xml

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
SHANGHAI = ZoneInfo("Asia/Shanghai")


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


def until_next_line(flat: str) -> str:
    """A cited line of the letter: up to the next bullet or the page footer (its seal)."""
    return re.split(r"·|封印", flat)[0]


# --- acceptance 2: true provenance, impossible quotes and notice dates refused ----------------------


def test_a_manual_row_says_entered_by_the_person_and_an_imported_call_says_imported(
    alice, alice_api, alice_case, tmp_path
):
    incident_create(
        case=alice_case,
        kind="visit",
        occurred_at=datetime(2026, 3, 2, 15, 0, tzinfo=SHANGHAI),
        visitors=2,
        description="两人上门",
    )
    data = calls_xml([("17012345678", datetime(2026, 3, 3, 23, 5, tzinfo=SHANGHAI), 1, 40, "")])
    response = alice_api.post(
        "/api/v1/imports/",
        {"case": alice_case.pk, "file": SimpleUploadedFile("calls.xml", data)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    flat = squash(pdf_text(built(alice, alice_case, addressee="alipay"), tmp_path))
    assert "来源：本人登记" in flat and "来源：手机通话记录导入" in flat
    assert "手机自动上传" not in flat


def test_a_quote_beyond_the_recordings_end_is_refused(alice_api, alice_case):
    incident = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 2, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
    )
    # 250 AMR frames of 20 ms: a 5-second recording.
    evidence_store(incident=incident, upload=SimpleUploadedFile("rec.amr", amr_bytes(frames=250)))
    late = alice_api.patch(
        f"/api/v1/incidents/{incident.pk}/", {"quotes": [{"at": 48, "text": "公安会上门"}]}, format="json"
    )
    assert late.status_code == 400, late.content
    message = " ".join(late.json()["error"]["fields"]["quotes"])
    assert "00:48" in message and "00:06" in message
    incident.refresh_from_db()
    assert incident.quotes == []
    inside = alice_api.patch(
        f"/api/v1/incidents/{incident.pk}/", {"quotes": [{"at": 4, "text": "公安会上门"}]}, format="json"
    )
    assert inside.status_code == 200, inside.content
    # Without a recording, the call's stated duration bounds the quote.
    short = alice_api.post(
        "/api/v1/incidents/",
        {
            "case": alice_case.pk,
            "kind": "call",
            "occurred_at": "2026-03-03T10:00:00+08:00",
            "duration_seconds": 5,
            "quotes": [{"at": 48, "text": "x"}],
        },
        format="json",
    )
    assert short.status_code == 400 and "quotes" in short.json()["error"]["fields"]


def test_a_notice_cannot_be_sent_before_it_was_created(alice_api, alice_case):
    from complaints.models import StopNotice

    notice = alice_api.post("/api/v1/notices/", {"case": alice_case.pk}, format="json").json()
    created = StopNotice.objects.get(pk=notice["id"]).created_at
    early = (created - timedelta(days=49)).isoformat()
    response = alice_api.post(
        f"/api/v1/notices/{notice['id']}/sent", {"sent_at": early, "channel": "letter"}, format="json"
    )
    assert response.status_code == 400
    assert "sent_at" in response.json()["error"]["fields"]
    assert StopNotice.objects.get(pk=notice["id"]).sent_at is None


# --- acceptance 4: stable evidence numbers ----------------------------------------------------------


def test_an_incident_added_before_others_leaves_every_earlier_number_unchanged(
    alice, alice_api, alice_case, tmp_path
):
    first = [
        incident_create(
            case=alice_case,
            kind="call",
            occurred_at=datetime(2026, 3, day, 23, 0, tzinfo=SHANGHAI),
            counterpart_number="17012345678",
        )
        for day in (5, 6, 7)
    ]
    refs = {i.pk: i.ref for i in first}
    assert sorted(refs.values()) == ["E-0001", "E-0002", "E-0003"]
    before = squash(pdf_text(built(alice, alice_case, addressee="alipay"), tmp_path))
    earliest = incident_create(
        case=alice_case,
        kind="sms",
        occurred_at=datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI),
        counterpart_number="10690000123",
    )
    assert earliest.ref == "E-0004"
    after = squash(pdf_text(built(alice, alice_case, addressee="alipay"), tmp_path))
    for ref in refs.values():
        # The same event under the same number, at the same time, in both dossiers.
        assert re.search(ref + r"2026-03-0\d", before) and re.search(ref + r"2026-03-0\d", after)
    for incident in first:
        assert re.search(f"{incident.ref}{incident.occurred_at.astimezone(SHANGHAI):%Y-%m-%d}", after)
    assert "E-0004" in after and "E-0004" not in before
    listed = alice_api.get(f"/api/v1/incidents/?case={alice_case.pk}").json()["results"]
    assert {i["id"]: i["ref"] for i in listed} == {**refs, earliest.pk: "E-0004"}


# --- acceptance 1: one fact base, wording by force, citations per event --------------------------

RECIPIENTS = ("alipay", "ant_consumer_finance", "nfra", "pboc", "police")


@pytest.fixture
def harassed(alice, alice_case):
    """A 花呗 case across 2025-12-31: night calls, a threat SMS, calls to the mother and the employer,
    a written notice on 2026-01-05 and 12 contacts after it, a caller claiming a lawyer's letter."""
    from accounts.services import profile_for, profile_update
    from complaints.notices import notice_create, notice_mark_sent
    from tests.clock import written_on

    profile_update(
        profile=profile_for(alice), display_name="王小红", phone="13900001111", id_number="440301199203154321"
    )
    at = lambda *args: datetime(*args, tzinfo=SHANGHAI)  # noqa: E731
    collector = {"counterpart_number": "17012345678", "agency": "某某催收公司"}
    made = {}
    made["night_2025"] = [
        incident_create(case=alice_case, kind="call", occurred_at=at(2025, 12, 29, 23, m), **collector)
        for m in (15, 40)
    ]
    made["sms_2025"] = incident_create(
        case=alice_case,
        kind="sms",
        occurred_at=at(2025, 12, 30, 14, 0),
        flags=["threat"],
        description="短信：再不还款就上门找你家人",
        **collector,
    )
    made["mother_2025"] = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=at(2025, 12, 31, 10, 0),
        contacted=["family"],
        flags=["disclosure"],
        description="打给我母亲，告诉她我欠款",
        **collector,
    )
    with written_on(at(2026, 1, 4, 20, 0)):
        notice = notice_create(owner=alice, case=alice_case, allowed_channel="app_message")
    notice_mark_sent(notice=notice, sent_at=at(2026, 1, 5, 10, 0), channel="online_chat")
    after = [
        incident_create(case=alice_case, kind="call", occurred_at=at(2026, 2, day, 14, 0), **collector)
        for day in range(2, 10)
    ]
    after.append(
        incident_create(case=alice_case, kind="call", occurred_at=at(2026, 2, 10, 23, 30), **collector)
    )
    after.append(
        incident_create(
            case=alice_case,
            kind="call",
            occurred_at=at(2026, 2, 11, 15, 0),
            contacted=["family"],
            flags=["disclosure"],
            description="又打给我母亲",
            **collector,
        )
    )
    after.append(
        incident_create(
            case=alice_case,
            kind="call",
            occurred_at=at(2026, 2, 12, 11, 0),
            contacted=["employer"],
            **collector,
        )
    )
    after.append(
        incident_create(
            case=alice_case,
            kind="call",
            occurred_at=at(2026, 2, 13, 20, 0),
            flags=["threat", "impersonated_lawyer", "fake_legal_document"],
            description="自称张律师，说律师函已经发出，公安会上门",
            quotes=[{"at": None, "text": "我是张律师，律师函已经发出，公安会上门"}],
            **collector,
        )
    )
    made["after"] = after
    return made


def test_every_recipients_dossier_states_the_whole_record_by_force_and_by_date(
    alice, alice_case, harassed, tmp_path
):
    ref = lambda incident: incident.ref  # noqa: E731
    night_2025 = "、".join(ref(i) for i in harassed["night_2025"])
    for addressee in RECIPIENTS:
        dossier = built(alice, alice_case, addressee=addressee)
        flat = squash(pdf_text(dossier, tmp_path))
        # summary.txt is the sealed summary, long then short (bundle_files.py).
        sealed = json.loads(dossier.manifest)["summary"]
        summary = squash(sealed["long"] + sealed["short"])
        for text in (flat, summary):
            # 12 contacts after the notice: no sentence denies them, whatever grounds are cited.
            assert "未记录到超出告知范围的联系" not in text, addressee
            # Night-time calls rest on standards only: nothing is "forbidden".
            assert "禁止" not in text, addressee
            # No forgery without a document; no publication article for telling the mother.
            assert "伪造法律文书" not in text and "第二百八十条" not in text, addressee
            assert "个人信息保护法》第二十五条" not in text, addressee
        assert "书面告知后，仍有12次超出告知范围的联系（其中联系第三方2次）" in flat, addressee
        # Contacts with me and with others counted apart: 16 contacts, 3 of them with others.
        assert "联系我本人13次" in summary and "联系第三方3次" in summary, addressee
        if addressee != "police":
            # The 2025 night calls cite the standard in force then, never the 2026 guideline.
            chunk = until_next_line(flat[flat.index(f"（{night_2025}）：") :])
            assert "GB/T45251-2025" in chunk and "2026" not in chunk, addressee
        # The threats of 2025 and 2026 each cite their own text of the 治安管理处罚法.
        sms, call = harassed["sms_2025"].ref, harassed["after"][-1].ref
        old = until_next_line(flat[flat.index(sms + "）：") :])
        new = until_next_line(flat[flat.index(call + "）：") :])
        assert "（2012年修正）第四十二条" in old and "2025年修订" not in old, addressee
        assert "（2025年修订）第五十条" in new and "2012年修正" not in new, addressee
