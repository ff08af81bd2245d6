"""Page furniture of a dossier PDF: the embedded CJK font, paragraph styles, and a
canvas that numbers pages "X of Y" and draws the header, footer, seal and QR code on each.

Nothing here knows about the database: a dossier is drawn from its sealed manifest alone.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab import rl_config
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import Paragraph

logger = logging.getLogger(__name__)

# Streams are Flate-compressed only, not also ASCII85-encoded (reportlab's default, for 7-bit mail
# transports nobody uses for PDFs now): ASCII85 made every stream 25% larger and, in pure Python,
# took a third of a dossier's drawing time. Set once, for every PDF this process draws (dossiers and
# notices); a PDF already issued is stored as it was signed and never redrawn, and readers
# (verify.py's stream reader included) take either form.
rl_config.useA85 = 0

FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
]
FONT_NAME = "DossierCJK"
MONO = "Courier"
PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
# Printed in place of a character the embedded font cannot draw (an emoji, a rare symbol), so a
# reader sees that something is there; the manifest keeps the original text.
MISSING_GLYPH = "□"


def font_path() -> str | None:
    configured = getattr(settings, "DOSSIER_FONT_PATH", "")
    for candidate in ([configured] if configured else []) + FONT_CANDIDATES:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@cache
def _register_font(path: str | None) -> tuple[str, str]:
    """(font name, warning). TrueType is embedded and extractable; the CID fallback is not embedded."""
    if path:
        try:
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
            return FONT_NAME, ""
        except Exception as exc:  # a broken or unsupported font file
            logger.warning("CJK font %s unusable: %s", path, exc)
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light", (
        "No TrueType CJK font was found (install fonts-wqy-zenhei or set DOSSIER_FONT_PATH); "
        "Chinese uses the PDF viewer's built-in font and may not display everywhere."
    )


def font_status() -> tuple[str, str]:
    return _register_font(font_path())


@cache
def _drawable(font_name: str) -> frozenset[int] | None:
    """The code points the embedded font has glyphs for (None: unknown, draw everything)."""
    font = pdfmetrics.getFont(font_name)
    char_to_glyph = getattr(getattr(font, "face", None), "charToGlyph", None)
    return frozenset(char_to_glyph) if char_to_glyph else None


def printable(text: str, font_name: str) -> str:
    """The text with every character the font lacks replaced by a visible placeholder."""
    drawable = _drawable(font_name)
    if drawable is None:
        return text
    return "".join(ch if (ord(ch) in drawable or ch in "\n\t") else MISSING_GLYPH for ch in text)


class Styles:
    def __init__(self, font: str, language: str):
        wrap = "CJK" if language == "zh-hans" else None
        self.font = font
        self.body = ParagraphStyle(
            "body", fontName=font, fontSize=9.5, leading=14, wordWrap=wrap, splitLongWords=1
        )
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8, leading=10.5)
        # "此致" stands indented by two characters on its own line.
        self.closing_indent = ParagraphStyle("closing", parent=self.body, leftIndent=19)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=7.6, leading=9.6, wordWrap="CJK")
        self.mono = ParagraphStyle(
            "mono", parent=self.body, fontName=MONO, fontSize=7, leading=9, wordWrap="CJK"
        )
        self.title = ParagraphStyle(
            "title", parent=self.body, fontSize=18, leading=24, alignment=TA_CENTER, spaceAfter=8
        )
        self.h1 = ParagraphStyle("h1", parent=self.body, fontSize=13, leading=18, spaceBefore=6, spaceAfter=6)
        self.h2 = ParagraphStyle(
            "h2", parent=self.body, fontSize=10.5, leading=15, spaceBefore=6, spaceAfter=3
        )


def para(text, style) -> Paragraph:
    """A paragraph of plain text: escaped, line breaks kept, missing glyphs made visible."""
    shown = str(text) if style.fontName == MONO else printable(str(text), style.fontName)
    return Paragraph(escape(shown).replace("\n", "<br/>"), style)


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def numbered_canvas(*, qr_payload: str, draw_page, on_total):
    """A canvas class that defers each page until the total is known, then calls
    draw_page(canvas, number, total) on every page; the QR code is defined once as a form."""

    class NumberedCanvas(pdfcanvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            on_total(total)
            self._define_qr()
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                draw_page(self, number, total)
                super().showPage()
            super().save()

        def _define_qr(self):
            widget = QrCodeWidget(qr_payload, barLevel="M")
            x0, y0, x1, y1 = widget.getBounds()
            size = 17 * mm
            drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
            drawing.add(widget)
            self.beginForm("seal_qr")
            renderPDF.draw(drawing, self, 0, 0)
            self.endForm()

    return NumberedCanvas


def draw_furniture(canvas, *, font: str, header: str, footer: str) -> None:
    """Header line, footer line with the seal and page numbers, and the QR code, on one page."""
    canvas.saveState()
    canvas.setFont(font, 7.5)
    canvas.setFillColor(colors.HexColor("#4a5566"))
    canvas.drawString(MARGIN, PAGE_H - 10 * mm, printable(header, font))
    canvas.setStrokeColor(colors.HexColor("#c5ccd6"))
    canvas.line(MARGIN, PAGE_H - 11.5 * mm, PAGE_W - MARGIN, PAGE_H - 11.5 * mm)
    canvas.line(MARGIN, 20 * mm, PAGE_W - MARGIN, 20 * mm)
    canvas.drawString(MARGIN, 14 * mm, footer)
    canvas.translate(PAGE_W - MARGIN - 17 * mm, 2 * mm)
    canvas.doForm("seal_qr")
    canvas.restoreState()
