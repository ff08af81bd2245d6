"""Chinese is complete and the default; English is complete; the compiled catalogue is current."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
ZH_PO = BASE_DIR / "locale/zh_Hans/LC_MESSAGES/django.po"
ZH_MO = BASE_DIR / "locale/zh_Hans/LC_MESSAGES/django.mo"


def test_every_chinese_entry_is_translated_and_not_fuzzy():
    catalogue = polib.pofile(str(ZH_PO))
    assert len(catalogue) > 100
    assert catalogue.untranslated_entries() == []
    assert catalogue.fuzzy_entries() == []


def test_the_compiled_catalogue_matches_the_source():
    source = {(e.msgid, e.msgctxt): (e.msgstr or e.msgstr_plural.get(0)) for e in polib.pofile(str(ZH_PO))}
    compiled = {(e.msgid, e.msgctxt): (e.msgstr or e.msgstr_plural.get(0)) for e in polib.mofile(str(ZH_MO))}
    assert compiled == source, "run `make messages` to recompile"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_no_user_visible_string_is_missing_from_the_catalogue(tmp_path):
    """Extract strings from a copy of the code: nothing may be new compared to the catalogue."""
    copy = tmp_path / "project"
    shutil.copytree(
        BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "var", "staticfiles", "node_modules", "__pycache__", "bench"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-obsolete",
            "--ignore=tests",
            "--ignore=bench",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data")},
    )
    fresh = {e.msgid for e in polib.pofile(str(copy / "locale/zh_Hans/LC_MESSAGES/django.po"))}
    known = {e.msgid for e in polib.pofile(str(ZH_PO))}
    assert fresh - known == set(), "new strings: run `make messages` and translate them"


def _untranslated_phrases():
    """Longer English source phrases without placeholders: none may show on a Chinese page."""
    for entry in polib.pofile(str(ZH_PO)):
        if len(entry.msgid) >= 12 and "%(" not in entry.msgid and re.search(r"[a-z]{4}", entry.msgid):
            yield entry.msgid


@pytest.fixture
def sample_pages(client, alice, alice_case, alice_incident):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evidence.services import evidence_store
    from tests.conftest import png_bytes

    evidence_store(incident=alice_incident, upload=SimpleUploadedFile("a.png", png_bytes()))
    client.force_login(alice)
    return client, [
        f"/cases/{alice_case.pk}/",
        f"/incidents/{alice_incident.pk}/",
        "/cases/",
        f"/cases/{alice_case.pk}/log/visit/",
        "/accounts/tokens/",
        "/accounts/profile/",
    ]


def test_pages_are_chinese_by_default(sample_pages):
    client, urls = sample_pages
    phrases = list(_untranslated_phrases())
    for url in urls:
        response = client.get(url)
        html = response.content.decode()
        assert response["Content-Language"] == "zh-hans"
        assert "催收留证" in html
        leaks = [p for p in phrases if p in html]
        assert leaks == [], (url, leaks)


def test_switching_to_english_shows_english(sample_pages, alice):
    client, urls = sample_pages
    client.post("/language/", {"language": "en", "next": "/cases/"})
    for url in urls:
        response = client.get(url)
        assert response["Content-Language"] == "en"
        assert "Collection Evidence Keeper" in response.content.decode()
    alice.profile.refresh_from_db()
    assert alice.profile.language == "en"


def test_anonymous_visitors_get_chinese_whatever_the_browser_says(client, db):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "登录" in response.content.decode()
    client.post("/language/", {"language": "en", "next": "/"})
    assert "Log in" in client.get("/accounts/login/").content.decode()
