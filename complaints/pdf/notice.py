"""The stop-contact notice as a PDF: one or two A4 pages with a dossier's page furniture.

Drawn from the notice's sealed facts alone (complaints.notices builds them, seals and signs the
result); imported by notices only when a notice is drawn, so reportlab stays out of web processes
that never draw one.
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer

from ..notice_data import notice_texts
from .furniture import MARGIN, Styles, draw_furniture, font_status, numbered_canvas
from .furniture import para as _p


def render_notice_pdf(facts: dict, *, seal: str, verify_url: str) -> bytes:
    """One or two A4 pages, with the page furniture of a dossier (number, seal, QR code)."""
    language = facts["notice"]["language"]
    t = notice_texts()[language]
    font, _warning = font_status()
    s = Styles(font, language)
    paragraphs = facts["paragraphs"]
    story = [_p(paragraphs[0], s.title), Spacer(1, 4 * mm), _p(paragraphs[1], s.body), Spacer(1, 3 * mm)]
    for text in paragraphs[2:9]:
        story += [_p(text, s.body), Spacer(1, 2 * mm)]
    story.append(Spacer(1, 10 * mm))
    story += [_p(text, s.body) for text in paragraphs[9:]]
    story += [Spacer(1, 12 * mm), _p(t["seal_note"].format(seal=seal, verify=verify_url), s.small)]
    buffer = io.BytesIO()
    number = facts["notice"]["number"]
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=16 * mm,
        bottomMargin=24 * mm,
        title=f"{paragraphs[0]} {number}",
        author=facts["sender"]["name"],
        subject=seal,
        creator="Collection Evidence Keeper",
        invariant=0,
    )

    def draw_page(canvas, page: int, total: int) -> None:
        draw_furniture(
            canvas,
            font=font,
            header=t["header"].format(number=number),
            footer=t["footer"].format(seal=seal[:16], page=page, pages=total),
        )

    document.build(
        story,
        canvasmaker=numbered_canvas(qr_payload=verify_url, draw_page=draw_page, on_total=lambda n: None),
    )
    return buffer.getvalue()
