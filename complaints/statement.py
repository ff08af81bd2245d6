"""What a police report's first-person statement (报案陈述) and a 12363 letter rest on, chosen from
the whole record when the manifest is built and sealed with it: the most serious events (told with
their quotes and evidence numbers), the places, the names the collectors gave, and the contacts in
which personal financial information went to others.

Pure functions over the manifest's incident entries: no database, so a reader can re-derive them.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

THIRD_PARTIES = {"family", "employer", "colleague", "friend", "contacts_list"}
# How serious each kind of conduct is for a police officer deciding whether to accept a report:
# violence and entering the home first, then threats and false identities, then disclosure.
FLAG_WEIGHT = {
    "violence": 100,
    "entered_home": 90,
    "threat": 80,
    "impersonation": 70,
    "impersonated_lawyer": 60,
    "fake_legal_document": 55,
    "posted_notice": 50,
    "disclosure": 40,
    "insult": 35,
}
KIND_WEIGHT = {"visit": 85, "third_party": 30}
STATEMENT_EVENTS = 3


def reaches_others(entry: dict) -> bool:
    """A contact with someone other than the person (family at a home visit is not one)."""
    return entry["kind"] == "third_party" or (
        entry["kind"] != "visit" and bool(THIRD_PARTIES & set(entry.get("contacted") or []))
    )


def severity(entry: dict, night: set[int]) -> int:
    score = sum(FLAG_WEIGHT.get(flag, 0) for flag in entry.get("flags") or [])
    score += KIND_WEIGHT.get(entry["kind"], 0)
    score += 20 if reaches_others(entry) else 0
    score += 15 if entry["id"] in night else 0
    # An event a reader can check (a quote, a recording or screenshot) is told before one that cannot.
    score += 10 if entry.get("quotes") else 0
    score += 5 if entry.get("evidence") else 0
    return score


def serious_events(entries: list[dict], night: set[int], limit: int = STATEMENT_EVENTS) -> list[int]:
    """The ids of the `limit` most serious events (ties: the earlier first), in time order, and
    every home visit besides: an in-person event is what a police officer reads first, never left
    to a bare place name (issue 26 review)."""
    timed = [e for e in entries if e["occurred_at"] and e.get("direction", "") not in _OWN]
    visits = [e for e in timed if e["kind"] == "visit"][:2]
    ranked = sorted(
        (e for e in timed if severity(e, night) >= 40 and e not in visits),
        key=lambda e: (-severity(e, night), e["occurred_at"], e["id"]),
    )[:limit]
    return [e["id"] for e in sorted(ranked + visits, key=lambda e: (e["occurred_at"], e["id"]))]


# The day the 2025 治安管理处罚法 came into force: its 第五十条第一款第（五）项 (多次…采取滋扰、纠缠…
# 干扰他人正常生活) is cited for the pattern of night calls and contacts after a written notice from then.
PSAPL_2025 = "2026-01-01"
PATTERN_MIN = 3


def harassment_pattern(entries: list[dict], night: set[int], after: set[int]) -> list[int]:
    """The night calls and after-notice contacts dated (Beijing time) on or after 2026-01-01, when
    there are at least PATTERN_MIN of them ("多次"); else none."""
    beijing = ZoneInfo("Asia/Shanghai")
    ids = [
        e["id"]
        for e in entries
        if e["occurred_at"]
        and (e["id"] in night or e["id"] in after)
        and datetime.fromisoformat(e["occurred_at"]).astimezone(beijing).date().isoformat() >= PSAPL_2025
    ]
    return ids if len(ids) >= PATTERN_MIN else []


# Directions of the person's own calls and messages (evidence.models.OWN_DIRECTIONS, repeated here
# so this module stays free of the database layer's imports).
_OWN = {"outgoing", "sent", "outbox", "queued", "failed", "draft"}


def information_provided(entries: list[dict]) -> list[int]:
    """Events in which the debt (personal financial information) went to others: those the person
    marked as telling the debt to others, or a notice posted in public. What a 12363 letter reports,
    from the same facts as the disclosure findings (a call to the employer not marked as telling the
    debt is a contact with a third party, not a disclosure; issue 26 review)."""
    return [
        e["id"]
        for e in entries
        if e["occurred_at"]
        and ("disclosure" in (e.get("flags") or []) or "posted_notice" in (e.get("flags") or []))
    ]


def statement_facts(
    entries: list[dict], *, night: set[int], station: str, harm: str, after: set[int] | None = None
) -> dict:
    """The sealed basis of a police report's statement."""
    names: list[str] = []
    places: list[str] = []
    for entry in entries:
        name = (entry.get("counterpart_name") or "").strip()
        if name and name not in names:
            names.append(name)
        place = (entry.get("place") or "").strip()
        if place and place not in places:
            places.append(place)
    return {
        "station": station,
        "harm": harm,
        "serious": serious_events(entries, night),
        "names": names,
        "places": places,
        "pattern": harassment_pattern(entries, night, after or set()),
    }
