"""The dossier PDF: page furniture (fonts, styles, numbered pages, seal and QR) and the sections
drawn from the sealed manifest."""

from ..dossier_texts import texts
from .furniture import font_status
from .sections import render_pdf

__all__ = ["font_status", "render_pdf", "texts"]
