"""Issue 26, acceptance 5: a dossier's tables never break a word, and a screenshot is never parted
from its heading.

The cells are checked as reportlab lays them out: every line of every table cell, at the width its
column got, and no line ends inside a Latin word or a number that the next line continues."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from reportlab.platypus import KeepTogether, Paragraph, Table

from complaints.pdf.cells import min_width, wrap_text
from complaints.pdf.furniture import font_status
from complaints.pdf.sections import Renderer
from complaints.services import dossier_create
from evidence.services import evidence_store, incident_create
from tests.conftest import png_bytes

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORD = re.compile(r"[A-Za-z0-9]")


def breaks_inside_a_word(lines: list[str], original: str) -> list[str]:
    """The line ends that split a run of letters or digits the original text has unbroken."""
    flat = re.sub(r"\s+", " ", original)
    bad = []
    for before, after in zip(lines, lines[1:], strict=False):
        if not (before and after and WORD.match(before[-1]) and WORD.match(after[0])):
            continue
        # A break at a space is a break between words; one where the text runs on is inside one.
        tail, head = before.split()[-1] if before.split() else before, after.split()[0]
        if (tail + head) in flat.replace(" ", "") and f"{tail} {head}" not in flat:
            bad.append(f"{tail}|{head}")
    return bad


def laid_out_lines(paragraph: Paragraph, width: float) -> list[str]:
    paragraph.wrap(width, 10_000)
    block = paragraph.blPara
    if block.kind == 0:
        return [" ".join(words) for _space, words in block.lines]
    return ["".join(frag.text for frag in line.words) for line in block.lines]


def tables_in(flowables) -> list[Table]:
    found = []
    for flowable in flowables:
        if isinstance(flowable, Table):
            found.append(flowable)
        elif isinstance(flowable, KeepTogether):
            found += tables_in(flowable._content)
    return found


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("通话录音@催收(17012345678)_20260315231000.amr 和 Screenshot_20260316-090500.png", 150),
        ("发生后343天16小时", 40),
        ("对方称订单号HB2025123100012345678已逾期，联系第三方共计12次，E-0007", 70),
        ("17012345678 Collection-Agency-International-Limited 某某催收公司", 60),
    ],
)
def test_wrapped_lines_never_split_a_latin_word_or_a_number(text, width):
    font, _warning = font_status()
    # Columns are never narrower than their longest run (cells.fit_widths); at that width or more,
    # no run is split.
    width = max(width, min_width(text, font, 7.6) + 1)
    lines = wrap_text(text, width, font, 7.6)
    assert len(lines) > 1
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert breaks_inside_a_word(lines, text) == []
    # Closing punctuation never opens a line.
    assert not any(line[:1] in "，。、；：）」" for line in lines[1:])


def test_no_table_cell_of_a_dossier_breaks_inside_a_word_or_number(alice, alice_case):
    at = lambda *args: datetime(*args, tzinfo=SHANGHAI)  # noqa: E731
    for day in range(2, 9):
        incident_create(
            case=alice_case,
            kind="call" if day % 2 else "third_party",
            occurred_at=at(2026, 3, day, 23, 15),
            counterpart_number="+8617012345678",
            counterpart_name="Manager-Zhang",
            agency="Collection-Agency-International-Limited",
            contacted=["family", "employer"],
            flags=["disclosure", "threat"],
            description="对方称订单号HB2025123100012345678已逾期，说要联系我的单位 Shenzhen-Tech-Company-Ltd",
            quotes=[{"at": None, "text": "reference HB2025123100012345678 overdue"}],
        )
    incident = alice_case.incidents.first()
    evidence_store(
        incident=incident,
        upload=SimpleUploadedFile("通话录音@催收(17012345678)_20260315231000_long-name.png", png_bytes()),
    )
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay", language="zh-hans")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    renderer = Renderer(json.loads(dossier.manifest), seal=dossier.seal)
    stats = renderer.stats()
    story = renderer.letter(stats) + renderer.summary(stats) + renderer.violations()
    story += renderer.timeline() + renderer.evidence_index()
    tables = tables_in(story)
    assert len(tables) >= 5
    checked = 0
    for table in tables:
        widths = table._colWidths
        for row in table._cellvalues:
            for column, cell in enumerate(row):
                if not isinstance(cell, Paragraph) or not cell.getPlainText().strip():
                    continue
                width = widths[column] - 2 * 2.5
                lines = laid_out_lines(cell, width)
                # The cell's own text, its explicit line breaks as spaces.
                original = html.unescape(cell.text.replace("<br/>", " "))
                assert breaks_inside_a_word(lines, original) == [], lines
                checked += 1
    assert checked > 100
    # The long number and the agency's name are each on one line somewhere in the timeline.
    text = " ".join(
        c.getPlainText() for t in tables for r in t._cellvalues for c in r if isinstance(c, Paragraph)
    )
    assert "HB2025123100012345678" in text and "Collection-Agency-International-Limited" in text


@pytest.mark.skipif(shutil.which("pdfimages") is None, reason="poppler-utils is not installed")
def test_each_screenshot_is_on_the_page_of_its_heading(alice, alice_case, tmp_path):
    at = lambda *args: datetime(*args, tzinfo=SHANGHAI)  # noqa: E731
    names = []
    for day, size in ((2, (1080, 2400)), (3, (540, 1200)), (4, (1440, 3200))):
        incident = incident_create(case=alice_case, kind="sms", occurred_at=at(2026, 3, day, 9, 0))
        name = f"Screenshot_2026030{day}-090000.png"
        evidence_store(incident=incident, upload=SimpleUploadedFile(name, png_bytes(size=size)))
        names.append(name)
    dossier = dossier_create(owner=alice, case=alice_case, addressee="alipay", language="zh-hans")
    dossier.refresh_from_db()
    assert dossier.status == "ready", dossier.error
    path = tmp_path / "d.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        path.write_bytes(handle.read())
    listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True)
    # Pages that hold a full-size image (more than 500 pixels high; the thumbnails are smaller).
    image_pages = {
        int(line.split()[0]) for line in listing.stdout.splitlines()[2:] if int(line.split()[4]) > 500
    }
    for name in names:
        pages = [
            page
            for page in range(1, dossier.pages + 1)
            if f"  {name}"
            in subprocess.run(
                ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(path), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        ]
        headed = [page for page in pages if page in image_pages]
        assert headed, (name, pages, image_pages)
