"""The dossier's printed texts (dossier_texts.toml, both languages), and phone numbers as printed.

Kept apart from the PDF renderer (complaints.pdf): the summaries, VERIFY.txt, the verify page and
the stop-contact notice's facts use them too, and loading them must not load reportlab.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

TEXTS_FILE = Path(__file__).resolve().parent / "dossier_texts.toml"


@cache
def texts() -> dict:
    return tomllib.loads(TEXTS_FILE.read_text(encoding="utf-8"))


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    return digits[:3] + "*" * max(len(digits) - 7, 0) + digits[-4:] if len(digits) >= 8 else digits
