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
