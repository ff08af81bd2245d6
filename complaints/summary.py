"""What a dossier says in a few lines, for the places that take only a few lines: Alipay's
customer-service chat and the 12378 web form (at most 500 characters, or 200), and the calls a
lender can match against its dialler logs (calls.csv). Both are derived from the sealed manifest
alone, so anyone can re-derive them and compare."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from core.csv_cells import SafeWriter

from .dossier_texts import texts

LONG_LIMIT = 500
SHORT_LIMIT = 200
_DIRECTION = re.compile(r"\((\w+)\)\s*$")


def _fit(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip("，,；; ") + "…"


def _local_day(manifest: dict, iso: str | None) -> str:
    if not iso:
        return "-"
    tz = ZoneInfo(manifest["dossier"]["time_zone"])
    return datetime.fromisoformat(iso).astimezone(tz).date().isoformat()


def _rules_sentence(manifest: dict, t: dict) -> str:
    language = manifest["dossier"]["language"]
    """The findings by force ("涉嫌违反法律法规：…" apart from "不符合标准或自律规范：…"), never one list."""
    if not manifest.get("rules_evaluated", True) or not manifest["violations"]:
        return ""
    parts = []
    for binding, key in ((True, "summary_rules_binding"), (False, "summary_rules_standards")):
        titles = [v["title"] for v in manifest["violations"] if bool(v.get("binding")) is binding]
        if titles:
            # Titles hold "、" themselves: "；" between them, so the count can be read off the list.
            parts.append(
                t[key].format(rules="；".join(titles) if language == "zh-hans" else "; ".join(titles))
            )
    return "".join(parts)


def summaries(manifest: dict) -> dict[str, str]:
    """{"long": ≤500 characters, "short": ≤200} in the dossier's language, naming the counts."""
    language = manifest["dossier"]["language"]
    t = texts()[language]
    stats = manifest["statistics"]
    incidents = [i for i in manifest["incidents"] if i["occurred_at"]]
    period = manifest["dossier"]["period"]
    start = period["from"] or (_local_day(manifest, incidents[0]["occurred_at"]) if incidents else "-")
    end = period["to"] or (_local_day(manifest, incidents[-1]["occurred_at"]) if incidents else "-")
    respondent = manifest["respondent"]
    values = {
        "name": manifest["complainant"]["name"],
        "product": respondent.get("product") or "",
        "lender": respondent["lender_name"] or respondent.get("product") or "",
        "start": start,
        "end": end,
        "total": stats["total"],
        "calls": stats["calls"],
        "night": stats["night"] or 0,
        "third": stats["third"],
        "threats": stats["threats"],
        "backed": stats.get("backed", 0),
        "files": len(manifest["evidence"]),
        "number": manifest["dossier"]["number"],
        # Contacts with the person and with others counted apart (a call to the mother is not a
        # call to me); findings backed by law apart from those backed only by standards.
        "to_me": stats["total"] - stats["third"],
        "night_from": (stats.get("quiet_hours") or {}).get("from", "22:00"),
        "night_until": (stats.get("quiet_hours") or {}).get("until", "08:00"),
        "rules": _rules_sentence(manifest, t),
        "count_rules": len(manifest["violations"]),
        "count_binding": sum(1 for v in manifest["violations"] if v.get("binding")),
        "count_standards": sum(1 for v in manifest["violations"] if not v.get("binding")),
        "requests": t["sep"].join(r["text"] for r in manifest["requests"][:3]),
        "verify": manifest["dossier"].get("verify_url", ""),
    }
    report = (manifest.get("letter") or {}).get("kind") == "police"
    values["what"] = t["summary_what_report" if report else "summary_what"]
    counts = ""
    if values["count_binding"]:
        counts += t["summary_count_binding"].format(n=values["count_binding"])
    if values["count_standards"]:
        counts += t["summary_count_standards"].format(n=values["count_standards"])
    values["counts"] = counts
    long_text = t["summary_long"].format(**values)
    # A regulator reads first that the lender was asked and did not answer in time.
    for entry in (manifest.get("letter") or {}).get("follows") or []:
        key = "summary_follows" if entry.get("overdue_days") is not None else "summary_follows_waiting"
        lender = respondent["lender_name"] or ""
        to = (
            t["follows_to_via"].format(lender=lender, channel=entry["to"])
            if entry.get("addressee") == "alipay" and lender
            else entry["to"]
        )
        long_text += t[key].format(
            date=entry["date"],
            channel=t.get(f"letter_channel_{entry.get('channel', '')}", entry.get("channel_label", "")),
            to=to,
            ticket=t["earlier_ticket"].format(ticket=entry["ticket"]) if entry.get("ticket") else "",
            dossier=t["summary_follows_dossier"].format(number=entry["dossier"])
            if entry.get("dossier")
            else "",
            today=entry.get("as_of", ""),
            days=entry.get("overdue_days"),
        )
    if values["requests"]:
        long_text += t["summary_requests"].format(**values)
    long_text += t["summary_check"].format(**values)
    return {
        "long": _fit(long_text, LONG_LIMIT),
        "short": _fit(t["summary_short"].format(**values), SHORT_LIMIT),
    }


def call_direction(incident: dict) -> str:
    match = _DIRECTION.search(incident.get("source_ref") or "")
    return match.group(1) if match else ""


def cells_neutralised(manifest: dict) -> bool:
    """Whether this manifest's calls.csv neutralises formula cells (core.csv_cells): from format /3
    on. A dossier sealed before keeps the calls.csv it was issued with, byte for byte, since
    verification derives the file again from the sealed manifest and compares."""
    _name, _slash, version = str(manifest.get("format") or "").rpartition("/")
    return version.isdigit() and int(version) >= 3


def calls_csv(manifest: dict) -> bytes:
    """One row per call in the manifest: number, local time, duration, direction, answered, source.

    UTF-8 with a byte-order mark, so spreadsheet programs open the Chinese columns correctly."""
    tz = ZoneInfo(manifest["dossier"]["time_zone"])
    buffer = io.StringIO()
    writer = (SafeWriter if cells_neutralised(manifest) else csv.writer)(buffer, lineterminator="\r\n")
    writer.writerow(
        [
            "ref",
            "number",
            "local_time",
            "time_zone",
            "duration_seconds",
            "direction",
            "answered",
            "source",
            "source_ref",
        ]
    )
    for incident in manifest["incidents"]:
        if incident["kind"] != "call":
            continue
        moment = (
            datetime.fromisoformat(incident["occurred_at"]).astimezone(tz)
            if incident["occurred_at"]
            else None
        )
        answered = "" if incident["answered"] is None else ("yes" if incident["answered"] else "no")
        writer.writerow(
            [
                incident["ref"],
                incident["counterpart_number"],
                moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "",
                manifest["dossier"]["time_zone"],
                "" if incident["duration_seconds"] is None else incident["duration_seconds"],
                call_direction(incident),
                answered,
                incident["source"],
                incident.get("source_ref") or "",
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
