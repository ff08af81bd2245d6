"""Addressees and requests of complaint letters, read from letters.toml."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LETTERS_FILE = Path(__file__).resolve().parent / "letters.toml"


@cache
def _data() -> dict:
    return tomllib.loads(LETTERS_FILE.read_text(encoding="utf-8"))


def addressee(code: str, language: str, custom_name: str = "") -> dict[str, str]:
    entry = _data()["addressees"][code]
    name = custom_name.strip()
    return {key: entry[key][language].format(name=name) for key in ("name", "channel", "salutation")} | {
        "form": entry["form"],
        "code": code,
    }


def request_choices(language: str) -> list[tuple[str, str]]:
    return [(code, item["text"][language]) for code, item in _data()["requests"].items()]


def request_text(code: str, language: str) -> str:
    return _data()["requests"][code]["text"][language]
