"""The regulator's office for a lender's registered place (regulators.toml): a complaint to 12378 or
12363 is handled where the lender is registered (重庆 for 重庆蚂蚁消费金融有限公司), so the letter is
addressed there, not to the headquarters."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

REGULATORS_FILE = Path(__file__).resolve().parent / "regulators.toml"
# The addressees that have a local office per place.
LOCAL_OFFICES = ("nfra", "pboc")


@cache
def _data() -> dict:
    return tomllib.loads(REGULATORS_FILE.read_text(encoding="utf-8"))


def _squash(name: str) -> str:
    return "".join(name.split()).replace("（", "(").replace("）", ")")


def lender_entry(lender_name: str, creditor: str = "") -> tuple[str, dict] | None:
    """(legal name, entry) for the lender named on the case, else for the product's usual lender
    (花呗/借呗: 重庆蚂蚁消费金融有限公司) when the case names none."""
    lenders = _data()["lenders"]
    wanted = _squash(lender_name or "")
    if wanted:
        for name, entry in lenders.items():
            if wanted == _squash(name) or wanted in {_squash(a) for a in entry.get("aliases", [])}:
                return name, entry
        return None
    for name, entry in lenders.items():
        if creditor and creditor in entry.get("creditors", []):
            return name, entry
    return None


def local_office(code: str, lender_name: str, creditor: str, language: str) -> dict | None:
    """The office of addressee `code` for the lender's registered place, as sealed in a manifest:
    {"name", "place", "lender", "confidence"} (the sources stay in the data file); None when unknown or not a local office."""
    if code not in LOCAL_OFFICES:
        return None
    found = lender_entry(lender_name, creditor)
    if found is None:
        return None
    lender, entry = found
    place = _data()["places"].get(entry["place"])
    if place is None or code not in place:
        return None
    # The weaker of the two marks: the lender's place and the office's name.
    order = "VSR"
    confidence = max(entry.get("confidence", "R"), place.get("confidence", "R"), key=order.index)
    return {
        "name": place[code][language],
        "place": entry["place"],
        "lender": lender,
        "confidence": confidence,
    }
