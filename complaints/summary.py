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
        "rules": t["sep"].join(v["title"] for v in manifest["violations"]) or t["summary_no_rules"],
        "count_rules": len(manifest["violations"]),
        "requests": t["sep"].join(r["text"] for r in manifest["requests"][:3]),
        "verify": manifest["dossier"].get("verify_url", ""),
    }
    long_text = t["summary_long"].format(**values)
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
