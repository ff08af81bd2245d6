"""Recording a home visit in the page, in Chromium with a fake microphone: the upload arrives, and
the evidence shows a duration and a hash."""

from __future__ import annotations

import os
import shutil

import pytest

from evidence.models import EvidenceFile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium package is not installed"
    ),
]


def test_recording_a_visit_in_the_browser(live_server, monkeypatch, django_user_model):
    from playwright.sync_api import sync_playwright

    from evidence.services import case_create

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    owner = django_user_model.objects.create_user("frank", password="frank-password-1")
    case = case_create(owner=owner, title="上门", creditor="huabei")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        context.grant_permissions(["microphone"], origin=live_server.url)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "frank")
        page.fill("#id_password", "frank-password-1")
        page.click("button[type=submit].primary")
        page.wait_for_url("**/cases/")
        page.goto(f"{live_server.url}/cases/{case.pk}/log/visit/")
        page.click("#visit-recorder .record-toggle")
        page.wait_for_selector("#visit-recorder .timer:text-matches('00:0[2-9]')")
        page.click("#visit-recorder .record-toggle")
        page.wait_for_url("**/incidents/*/edit/", timeout=30_000)
        context.close()
        browser.close()
    evidence = EvidenceFile.objects.get(owner=owner)
    assert evidence.provenance == "recorded" and evidence.content_type in ("audio/webm", "audio/mp4")
    assert len(evidence.sha256) == 64
    assert evidence.metadata["duration_seconds"] >= 1.5
    if evidence.content_type == "audio/webm":
        # Read from the file itself, not taken from the page's timer.
        assert "duration_source" not in evidence.metadata
    assert evidence.incident.kind == "visit"


def test_the_duration_comes_from_the_webm_itself():
    """MediaRecorder's WebM has no Duration element; the clusters' block times give it."""
    import io
    import struct

    from evidence.metadata import webm_duration

    def element(element_id: bytes, body: bytes) -> bytes:
        assert len(body) < 127
        return element_id + bytes([0x80 | len(body)]) + body

    def block(relative_ms: int) -> bytes:
        return element(b"\xa3", b"\x81" + struct.pack(">h", relative_ms) + b"\x80" + bytes(20))

    unknown = b"\x01\xff\xff\xff\xff\xff\xff\xff"
    clusters = b"".join(
        b"\x1f\x43\xb6\x75"
        + unknown
        + element(b"\xe7", struct.pack(">H", start))
        + b"".join(block(r) for r in range(0, 1000, 100))
        for start in (0, 1000, 2000)
    )
    data = (
        element(b"\x1a\x45\xdf\xa3", b"\x42\x82\x84webm")
        + b"\x18\x53\x80\x67"
        + unknown
        + element(b"\x15\x49\xa9\x66", element(b"\x2a\xd7\xb1", struct.pack(">I", 1_000_000)))
        + clusters
    )
    assert webm_duration(io.BytesIO(data)) == 2.9
