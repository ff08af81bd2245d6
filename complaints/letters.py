"""Addressees and requests of complaint letters, read from letters.toml."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LETTERS_FILE = Path(__file__).resolve().parent / "letters.toml"


@cache
def _data() -> dict:
    return tomllib.loads(LETTERS_FILE.read_text(encoding="utf-8"))


def addressee(code: str, language: str, custom_name: str = "") -> dict:
    entry = _data()["addressees"][code]
    name = custom_name.strip()
    return {key: entry[key][language].format(name=name) for key in ("name", "channel", "salutation")} | {
        "form": entry["form"],
        "code": code,
        "kind": entry.get("kind", "other"),
        "grounds": entry.get("grounds", "all"),
        "id_number": entry.get("id_number", "masked"),
    }


def addressee_kind(code: str) -> str:
    return _data()["addressees"].get(code, {}).get("kind", "other")


def full_id_allowed(code: str) -> bool:
    """Whether this recipient may receive the full ID number (when the complainant ticks it)."""
    return _data()["addressees"].get(code, {}).get("id_number") == "optional"


def scope_warning(code: str, language: str) -> str:
    return _data()["addressees"].get(code, {}).get("scope", {}).get(language, "")


def scope_warnings(language: str) -> dict[str, str]:
    return {
        code: entry["scope"][language] for code, entry in _data()["addressees"].items() if "scope" in entry
    }


def request_choices(language: str, kind: str | None = None) -> list[tuple[str, str]]:
    """(code, text) of the requests offered to an addressee kind (all of them when kind is None)."""
    return [
        (code, item["text"][language])
        for code, item in _data()["requests"].items()
        if kind is None or kind in item.get("for", [kind])
    ]


def default_requests(kind: str) -> list[str]:
    return [
        code
        for code, item in _data()["requests"].items()
        if kind in item.get("for", [])
        and (item.get("default") is True or kind in (item.get("default") or []))
    ]


def requests_for(kind: str) -> set[str]:
    return {code for code, item in _data()["requests"].items() if kind in item.get("for", [kind])}


def request_text(code: str, language: str) -> str:
    return _data()["requests"][code]["text"][language]


def escalation() -> dict:
    """The escalation data: {"default", "also", "police", "police_flags"}."""
    data = _data().get("escalation", {})
    return {
        "default": data.get("default", "nfra"),
        "also": list(data.get("also", [])),
        "police": data.get("police", "police"),
        "police_flags": list(data.get("police_flags", [])),
    }
