from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import profile_for, profile_update
from evidence.services import evidence_store, incident_create
from tests.conftest import amr_bytes, png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def filled_case(alice, alice_case):
    """A case with calls (one at night, with a recording), an SMS with a screenshot, a visit."""
    profile_update(
        profile=profile_for(alice), display_name="王小红", phone="13900001111", id_number="440301199203154321"
    )
    night = incident_create(
        case=alice_case,
        kind="call",
        occurred_at=datetime(2026, 3, 15, 23, 10, tzinfo=SHANGHAI),
        counterpart_number="17012345678",
        answered=True,
        duration_seconds=95,
        agency="某某催收公司",
        flags=["threat"],
        description="深夜来电威胁要上门",
    )
    evidence_store(
        incident=night,
        upload=SimpleUploadedFile("通话录音@催收(17012345678)_20260315231000.amr", amr_bytes(frames=4750)),
    )
    sms = incident_create(
        case=alice_case,
        kind="sms",
        occurred_at=datetime(2026, 3, 16, 9, 5, tzinfo=SHANGHAI),
        counterpart_number="10690000123",
        flags=["fake_legal_document"],
        description="短信称已立案并附律师函",
    )
    evidence_store(
        incident=sms, upload=SimpleUploadedFile("Screenshot_20260316-090500.png", png_bytes(size=(540, 1200)))
    )
    incident_create(
        case=alice_case,
        kind="visit",
        occurred_at=datetime(2026, 3, 17, 20, 0, tzinfo=SHANGHAI),
        visitors=1,
        flags=["posted_notice"],
        contacted=["family"],
        description="一人上门贴告知书",
    )
    return alice_case
