"""The notice's printed texts (notice_texts.toml, both languages) and its sealed number."""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path

from .models import StopNotice

TEXTS_FILE = Path(__file__).resolve().parent / "notice_texts.toml"


@cache
def notice_texts() -> dict:
    return tomllib.loads(TEXTS_FILE.read_text(encoding="utf-8"))


def notice_number(notice: StopNotice) -> str:
    """The number sealed in the notice's manifest (TZ-<local date>-<id>)."""
    if not notice.manifest:  # not built yet: the number it will be sealed with
        return notice.number
    try:
        return json.loads(notice.manifest)["notice"]["number"]
    except (ValueError, KeyError, TypeError):  # a manifest without a sealed number: the row's own
        return notice.number
