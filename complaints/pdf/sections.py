"""Render a dossier's manifest as a PDF with reportlab: letter, summary with charts, violations by
rule, timeline, evidence index with thumbnails, and a verification appendix.

Every page carries the dossier number in the header, and in the footer the seal's start, page X of
Y and a QR code holding the full seal. Chinese text uses an embedded TrueType CJK font when one is
found (DOSSIER_FONT_PATH, or WenQuanYi Zen Hei from fonts-wqy-zenhei), else reportlab's built-in
CID font, with a warning.
"""

from __future__ import annotations

import io
import zoneinfo
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from ..dossier_texts import mask_phone, texts
from .cells import cell_table
from .furniture import (
    MARGIN,
    PAGE_W,
    Styles,
    draw_furniture,
    font_status,
    human_size,
    numbered_canvas,
    printable,
)
from .furniture import para as _p

# A table row cannot break across pages, so a long description is shortened in the timeline and
# printed whole, as ordinary paragraphs that do break, in its own section.
CELL_TEXT_LIMIT = 500
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic")


# The height of the page's frame (A4 less the document's margins and the frame's own padding).
FRAME_H = A4[1] - 40 * mm - 14


def _height(flowables: list, width: float) -> float:
    """How tall these flowables are, one under another, at this width."""
    total = 0.0
    for flowable in flowables:
        total += flowable.wrap(width, FRAME_H)[1] + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    return total


class Renderer:
    """Draws the PDF from the sealed manifest alone, plus the labels of the dossier's language and
    the screenshot thumbnails handed to it: it reads no database and no storage."""

    def __init__(
        self,
        manifest: dict,
        *,
        seal: str,
        labels: dict[str, dict[str, str]] | None = None,
        images: dict[str, bytes] | None = None,
        page_images: dict | None = None,
        verify_url: str = "",
        progress=None,
        signer_fingerprint: str = "",
        timestamped: bool = False,
    ):
        self.m = manifest
        self.labels_of = labels or {}
        self.images = images or {}
        # Full-page renditions of screenshots (paths of JPEG files), and the address a phone camera
        # opens from the QR code to check the seal.
        self.page_images = page_images or {}
        self.verify_url = verify_url
        self.seal = seal
        self.language = manifest["dossier"]["language"]
        self.t = texts()[self.language]
        self.tz = zoneinfo.ZoneInfo(manifest["dossier"]["time_zone"])
        self.font, self.font_warning = font_status()
        self.s = Styles(self.font, self.language)
        self.progress = progress or (lambda percent, note: None)
        self.signer_fingerprint = signer_fingerprint
        self.timestamped = timestamped
        self.report = manifest["addressee"]["form"] == "report"
        self.incidents = manifest["incidents"]
        self.evidence = manifest["evidence"]
        self.pages = 0

    # --- helpers ----------------------------------------------------------------------------------

    def tr(self, key: str, **values) -> str:
        return self.t[key].format(**values)

    def local(self, iso: str | None) -> datetime | None:
        return datetime.fromisoformat(iso).astimezone(self.tz) if iso else None

    def when(self, iso: str | None) -> str:
        moment = self.local(iso)
        # An incident whose time could not be read is printed as such, never with a guessed time.
        return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else self.tr("time_unknown")

    def delay(self, seconds: float) -> str:
        seconds = max(int(seconds), 0)
        if seconds < 60:
            return self.tr("seconds", n=seconds)
        if seconds < 3600:
            return self.tr("minutes", m=seconds // 60, s=seconds % 60)
        if seconds < 86400:
            return self.tr("hours", h=seconds // 3600, m=(seconds % 3600) // 60)
        return self.tr("days", d=seconds // 86400, h=(seconds % 86400) // 3600)

    def stamps_shown(self) -> bool:
        """Whether the evidence was stamped at arrival by a TSA (configured, or some file stamped)."""
        stamped = self.stats().get("timestamps") or {}
        return bool(stamped.get("configured") or stamped.get("stamped"))

    @staticmethod
    def tsa_name(stamp: dict) -> str:
        """Who vouches for a timestamp: the subject of the TSA's certificate as sealed (manifests
        sealed before it was recorded name the host of the TSA's address instead)."""
        return stamp.get("tsa_subject") or urlsplit(stamp["tsa"]).netloc or stamp["tsa"]

    def stamp_line(self, entry: dict) -> str:
        """可信时间戳：2026-11-30 06:12:31（北京时间），由 TSA 证书主体 — or why there is none."""
        stamp = entry.get("timestamp")
        if stamp:
            return self.tr(
                "stamped_at_upgrade" if stamp.get("at_upgrade") else "stamped_at",
                time=self.when(stamp["time"]),
                zone=self.tz_label(),
                tsa=self.tsa_name(stamp),
            )
        return self.tr("stamp_pending" if self.stamps_shown() else "stamp_none")

    def stamp_meaning(self) -> list:
        """Who issued the timestamps (by certificate subject) and what a timestamp proves and what
        it does not: a reader must not take a file's timestamp for the time of the event."""
        issuers = []
        for entry in self.evidence:
            if entry.get("timestamp") and self.tsa_name(entry["timestamp"]) not in issuers:
                issuers.append(self.tsa_name(entry["timestamp"]))
        out = []
        if issuers:
            out.append(_p(self.tr("stamp_issuers", tsa=self.t["sep"].join(issuers)), self.s.body))
        return out + [_p(self.tr("stamp_meaning"), self.s.body)]

    def label(self, group: str, value: str) -> str:
        return self.labels_of.get(group, {}).get(value, value)

    def labels(self, group: str, values) -> str:
        return self.t["sep"].join(self.label(group, v) for v in values)

    # --- statistics -------------------------------------------------------------------------------

    def stats(self) -> dict:
        return self.m["statistics"]

    def tz_label(self) -> str:
        """北京时间 for China's zone, else the zone with its UTC offset ("America/New_York, UTC−05:00")."""
        name = self.m["dossier"]["time_zone"]
        if name in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Urumqi", "PRC"):
            return self.tr("beijing_time")
        offset = datetime.now(self.tz).strftime("%z")
        return f"{name}, UTC{offset[:3]}:{offset[3:]}"

    def period(self) -> tuple[str, str]:
        period = self.m["dossier"]["period"]
        times = [self.local(i["occurred_at"]).date() for i in self.incidents if i["occurred_at"]]
        start = period["from"] or (min(times).isoformat() if times else "-")
        end = period["to"] or (max(times).isoformat() if times else "-")
        return start, end

    # --- sections ---------------------------------------------------------------------------------

    def letter(self, stats) -> list:
        s, m = self.s, self.m
        out = [
            _p(self.tr("title_report" if self.report else "title_complaint"), s.title),
            _p(self.tr("to", name=m["addressee"]["name"]), s.body),
        ]
        office = m["addressee"].get("office")
        if office:
            # Addressed to the office for the lender's registered place, and why there.
            out.append(_p(self.tr("office_place", lender=office["lender"], place=office["place"]), s.small))
        if m["addressee"]["channel"]:
            out.append(_p(self.tr("channel", channel=m["addressee"]["channel"]), s.small))
        out += [Spacer(1, 4 * mm), _p(m["addressee"]["salutation"], s.body), Spacer(1, 2 * mm)]
        # A police report opens with the person's own account (报案陈述), then the details.
        out += self.report_statement(stats)

        person = m["complainant"]
        out.append(_p(self.tr("complainant_report" if self.report else "complainant"), s.h2))
        rows = [
            [_p(self.tr("name"), s.cell), _p(person["name"], s.cell)],
            [_p(self.tr("id_number"), s.cell), _p(person["id_number"] or "—", s.cell)],
            [_p(self.tr("phone"), s.cell), _p(person["phone"] or "—", s.cell)],
        ]
        if person.get("address"):
            rows.append([_p(self.tr("address"), s.cell), _p(person["address"], s.cell)])
        out.append(self.kv_table(rows))
        agent = m.get("agent")
        if agent:
            # A helper the complainant named as their agent, with their contact.
            out.append(_p(self.tr("agent"), s.h2))
            out.append(
                self.kv_table(
                    [
                        [_p(self.tr("agent_name"), s.cell), _p(agent["name"], s.cell)],
                        [_p(self.tr("phone"), s.cell), _p(agent["phone"] or "—", s.cell)],
                    ]
                )
            )

        respondent = m["respondent"]
        out.append(_p(self.tr("respondent_report" if self.report else "respondent"), s.h2))
        agencies = self.agencies()
        numbers = respondent["numbers_seen"]
        shown_numbers = self.t["sep"].join(numbers[:20])
        if len(numbers) > 20:
            shown_numbers += " " + self.tr("numbers_more", count=len(numbers) - 20)
        rows = [[_p(self.tr("lender"), s.cell), _p(respondent["lender_name"] or "—", s.cell)]]
        if respondent.get("product"):
            rows.append([_p(self.tr("product"), s.cell), _p(respondent["product"], s.cell)])
        if m["complainant"].get("phone") and not self.report:
            # The account is found by its login phone; masked, as the lender already knows it.
            rows.append(
                [_p(self.tr("login_phone"), s.cell), _p(mask_phone(m["complainant"]["phone"]), s.cell)]
            )
        hint = (respondent["account_hint"] or "").strip()
        if hint:
            # "账户尾号 1234" only for a few trailing digits; a loan or account reference as given.
            short = hint.isdigit() and len(hint) <= 6
            rows.append([_p(self.tr("account" if short else "account_ref"), s.cell), _p(hint, s.cell)])
        rows.append(
            [_p(self.tr("agencies"), s.cell), _p(self.clip(self.t["sep"].join(agencies)) or "—", s.cell)]
        )
        rows.append([_p(self.tr("numbers"), s.cell), _p(shown_numbers or "—", s.cell)])
        out.append(self.kv_table(rows))

        out.append(_p(self.tr("requests_report" if self.report else "requests"), s.h2))
        requests = [r["text"] for r in m["requests"]] + (
            [m["request_text"]] if m["request_text"].strip() else []
        )
        for number, text in enumerate(requests, start=1):
            out.append(_p(f"{number}. {text}", s.body))
        if person.get("address") and not self.report:
            # Where the written reply asked for goes.
            out.append(
                _p(
                    self.tr(
                        "reply_address",
                        address=person["address"],
                        name=person["name"],
                        phone=person["phone"] or "—",
                    ),
                    s.body,
                )
            )
        out += self.competence()

        earlier = (m.get("letter") or {}).get("earlier_complaint")
        if earlier and earlier.get("date"):
            out.append(_p(self.tr("earlier"), s.h2))
            out.append(_p(self.earlier_text(earlier), s.body))
        out += self.follow_up()
        out.append(_p(self.tr("facts"), s.h2))
        start, end = self.period()
        facts = [self.tr("facts_period", start=start, end=end, tz=self.tz_label(), total=stats["total"])]
        if stats["calls"]:
            facts.append(
                self.tr(
                    "facts_calls",
                    calls=stats["calls"],
                    connected=stats["connected"],
                    max_day=stats["max_day"],
                    max_date=stats["max_date"] or "-",
                )
            )
            window = stats["quiet_hours"]
            if window and stats["night_calls"]:
                # Worded by the force of what the night count rests on (the whole record's sources):
                # "涉嫌违反" only for binding law, "不符合…的要求" for standards, never "forbidden".
                basis = (m.get("letter") or {}).get("night_basis")
                key = "facts_night"
                if basis:
                    key = "facts_night_binding" if basis["binding"] else "facts_night_standards"
                facts.append(
                    self.tr(
                        key,
                        night=stats["night_calls"],
                        start=window["from"],
                        end=window["until"],
                        sources=self.night_sources(basis, stats["night_calls"]) if basis else "",
                    )
                )
        for key in ("sms", "third", "visits", "threats"):
            if stats[key]:
                facts.append(self.tr(f"facts_{key}", **{key: stats[key]}))
        out.append(_p("".join(facts) if self.language == "zh-hans" else " ".join(facts), s.body))
        if not m["rules_evaluated"]:
            out.append(_p(self.tr("facts_no_rules"), s.body))
        elif not m["violations"]:
            out.append(_p(self.tr("facts_no_findings"), s.body))
        else:
            # Binding law and regulation ("涉嫌违反") apart from standards and self-regulation
            # ("不符合…的要求"): a recommended standard is not a law, and the letter says so.
            for key, intro in (("binding_sources", "facts_rules"), ("standard_sources", "facts_standards")):
                groups = [g for g in m["violations"] if g.get(key)]
                if not groups:
                    continue
                out.append(_p(self.tr(intro), s.body))
                for group in groups:
                    sets = self.cited_sets(group, key)
                    for refs, citation in sets:
                        line = (
                            self.tr(
                                "facts_rule_line",
                                title=group["title"],
                                count=len(group["incidents"]),
                                citation=citation,
                            )
                            if len(sets) == 1 and len(refs) == len(group["incidents"])
                            else self.tr(
                                "facts_rule_line_refs",
                                title=group["title"],
                                refs=self.t["sep"].join(refs),
                                citation=citation,
                            )
                        )
                        out.append(_p(self.t["bullet"] + " " + line, s.small))
        backed, total = stats.get("backed"), stats["total"]
        if backed is not None:
            out.append(_p(self.tr("facts_backed", backed=backed, total=total, rest=total - backed), s.body))
        out.append(_p(self.tr("facts_closing"), s.body))

        out.append(_p(self.tr("evidence_list"), s.h2))
        out.append(_p(self.tr("evidence_count", count=len(self.evidence)), s.body))
        for entry in self.evidence[:15]:
            out.append(
                _p(
                    self.tr(
                        "evidence_line",
                        ref=entry["ref"],
                        name=entry["original_name"],
                        type=entry["content_type"],
                        size=human_size(entry["size"]),
                        sha=entry["sha256"][:16] + "…",
                    ),
                    s.small,
                )
            )
        if len(self.evidence) > 15:
            out.append(_p("…", s.small))
        issued = datetime.fromisoformat(m["dossier"]["created_at"]).astimezone(self.tz).date()
        closing = [Spacer(1, 5 * mm)]
        if self.language == "zh-hans":
            # 此致 on its own line, indented; 敬礼 at the margin on the next.
            closing += [_p(self.tr("closing_1"), s.closing_indent), _p(self.tr("closing_2"), s.body)]
        else:
            closing.append(_p(self.tr("closing_1"), s.body))
        closing += [
            Spacer(1, 8 * mm),
            _p(self.tr("signature_report" if self.report else "signature"), s.body),
            _p(self.tr("signature_name", name=m["complainant"]["name"]), s.body),
            _p(self.tr("date", date=issued.isoformat()), s.body),
        ]
        # The closing never stands alone on a page: it takes the last lines of the letter with it.
        tail = max(len(out) - 4, 0)
        return out[:tail] + [KeepTogether(out[tail:] + closing), PageBreak()]

    def agencies(self) -> list[str]:
        """The collection agencies, each once: one named on the case and seen on an incident (or
        named once with and once without spaces or a suffix) is listed once, by its longer name."""
        respondent = self.m["respondent"]
        names = [
            " ".join(n.split())
            for n in list(respondent["agencies_seen"])
            + [c for c in respondent["collectors"] if not any(ch.isdigit() for ch in c)]
        ]
        kept: list[str] = []
        for name in sorted(set(names), key=len, reverse=True):
            squashed = name.replace(" ", "")
            if not any(squashed in other.replace(" ", "") for other in kept):
                kept.append(name)
        return sorted(kept)

    def channel_words(self, code: str, sealed_label: str) -> str:
        """How a letter names a channel ("电话"), never the app's own label for it."""
        return self.t.get(f"letter_channel_{code}", sealed_label or "—")

    def report_statement(self, stats) -> list:
        """The police report's first-person statement: who, what, when, where, the most serious
        events with their quotes and evidence numbers, the harm, the suspects, and the request."""
        facts = (self.m.get("letter") or {}).get("statement")
        if not self.report or facts is None:
            return []
        s, m, t = self.s, self.m, self.t
        zh = self.language == "zh-hans"
        person, respondent = m["complainant"], m["respondent"]
        sep = t["sep"]
        numbers = respondent["numbers_seen"]
        shown_numbers = sep.join(numbers[:5]) or t["ev_number_unknown"]
        agencies = sep.join(self.agencies()) or t["st_agencies_unknown"]
        lender = respondent["lender_name"] or respondent.get("product") or "—"
        start, end = self.period()
        window = stats["quiet_hours"]
        night = (
            self.tr("st_night", start=window["from"], end=window["until"], n=stats["night_calls"])
            if window and stats.get("night_calls")
            else ""
        )
        opening = self.tr(
            "st_who",
            name=person["name"],
            id_number=person["id_number"] or "—",
            phone=person["phone"] or "—",
            address=self.tr("st_address", address=person["address"]) if person.get("address") else "",
        )
        opening += self.tr("st_debt", lender=lender, product=respondent.get("product") or "—")
        opening += self.tr(
            "st_overall",
            start=start,
            end=end,
            agencies=agencies,
            numbers=shown_numbers,
            total=stats["total"],
            to_me=stats["total"] - stats["third"],
            third=stats["third"],
            night=night,
            visits=self.tr("st_visits", n=stats["visits"]) if stats["visits"] else "",
        )
        out = [_p(self.tr("statement"), s.h2), _p(opening, s.body)]
        by_id = {i["id"]: i for i in self.incidents}
        serious = [by_id[pk] for pk in facts["serious"] if pk in by_id]
        if serious:
            out.append(_p(self.tr("st_serious", count=len(serious)), s.body))
            ordinals = t["st_ordinals"]
            for index, incident in enumerate(serious):
                out.append(_p(self.event_told(incident, ordinals[index % len(ordinals)]), s.body))
        # No sentence about which of the person's numbers was called: the record does not say, and
        # some contacts went to family or the employer (issue 26 review). Places of visits already
        # told above are not repeated without their date.
        told_places = {(i.get("place") or "").strip() for i in serious if i["kind"] == "visit"}
        places = [place for place in facts["places"] if place not in told_places]
        where = self.tr("st_places", places=sep.join(places)) if places else ""
        notice = (m.get("letter") or {}).get("notice")
        after = (m.get("letter") or {}).get("after_notice") or []
        if notice and after:
            where += self.tr("st_notice", date=notice["date"], number=notice["number"], count=len(after))
        pattern = [i["ref"] for i in self.incidents if i["id"] in set(facts.get("pattern") or [])]
        if pattern:
            where += self.tr("st_pattern", count=len(pattern), refs=sep.join(pattern))
        # Only the harm the person wrote: the app never puts words of harm in their mouth.
        harm = self.tr("st_harm_own", text=facts["harm"].strip()) if (facts.get("harm") or "").strip() else ""
        suspects = self.tr(
            "st_suspects",
            agencies=agencies,
            lender=lender,
            numbers=sep.join(numbers[:10]) or t["ev_number_unknown"],
            names=self.tr("st_names", names=sep.join(facts["names"])) if facts["names"] else "",
        )
        request = self.tr("st_request", station=facts["station"] or t["st_station_default"])
        joiner = "" if zh else " "
        for text in (where, harm, suspects + joiner + request):
            if text.strip():
                out.append(_p(text.strip(), s.body))
        return out

    def event_told(self, incident: dict, ordinal: str) -> str:
        """One event in the statement: when, who did what to whom, the person's own account, the
        collectors' words quoted, and the evidence numbers."""
        t = self.t
        number = incident["counterpart_number"] or t["ev_number_unknown"]
        others = [c for c in incident["contacted"] if c != "self"]
        kind = incident["kind"]
        if kind == "visit":
            people = (
                self.tr("ev_visit_people", n=incident["visitors"])
                if incident["visitors"]
                else t["ev_visit_someone"]
            )
            what = self.tr("ev_visit", people=people, place=incident.get("place") or t["ev_visit_place"])
        elif kind == "call":
            what = (
                self.tr("ev_call_others", number=number, who=self.labels("contacted", others))
                if others
                else self.tr("ev_call", number=number)
            )
        elif kind in ("sms", "app_message"):
            what = self.tr("ev_sms", number=number)
        elif kind == "third_party":
            what = self.tr("ev_third", who=self.labels("contacted", others) or "—")
        else:
            what = t["ev_other"]
        description = " ".join(incident["description"].split())
        # "给我发短信：短信：“…”" reads as a stutter: the kind is already told.
        for prefix in t["ev_prefixes"]:
            if description.startswith(prefix):
                description = description[len(prefix) :].strip()
                break
        description = description.rstrip("。；，,.; ")
        quotes = self.quote_lines(incident).replace("\n", t["sep"])
        files = self.tr("ev_files", refs=t["sep"].join(incident["evidence"])) if incident["evidence"] else ""
        return self.tr(
            "st_item",
            n=ordinal,
            time=self.when(incident["occurred_at"])[:16],
            what=what,
            text=self.tr("ev_text", text=self.clip(description, 300)) if description else "",
            said=self.tr("ev_said", quotes=quotes) if quotes else "",
            refs=self.tr("ev_refs", ref=incident["ref"], files=files),
        )

    def competence(self) -> list:
        """A 12363 letter says why the central bank is competent: the personal financial information
        that went to others, with the events' numbers (or that none is recorded)."""
        if self.m["addressee"].get("code") != "pboc":
            return []
        ids = (self.m.get("letter") or {}).get("information_provided")
        if ids is None:
            return []
        refs = [i["ref"] for i in self.incidents if i["id"] in set(ids)]
        text = (
            self.tr("competence_text", count=len(refs), refs=self.t["sep"].join(refs))
            if refs
            else self.tr("competence_none")
        )
        return [_p(self.tr("competence"), self.s.h2), _p(text, self.s.body)]

    def after_notice_table(self) -> list:
        """Every contact after the written notice, one row each (the letter states only the count)."""
        s = self.s
        contacts = (self.m.get("letter") or {}).get("after_notice") or []
        if not contacts:
            return []
        rows = [[self.tr(k) for k in ("col_no", "col_time", "col_kind", "col_what")]]
        for item in contacts:
            rows.append(
                [
                    item["ref"],
                    self.when(item["occurred_at"])[:16],
                    self.label("kind", item["kind"]),
                    item["explanation"],
                ]
            )
        table = cell_table(rows, style=s.cell, total=PAGE_W - 2 * MARGIN, flexible=3)
        return [_p(self.tr("notice_after_table"), s.h2), table, Spacer(1, 5 * mm)]

    def night_sources(self, basis: dict, night: int) -> str:
        """The sources the night calls fall short of, each with how many of the calls it applies to
        when that is fewer than all (a source in force from 2026-01-30 for one call of nine)."""
        rules = basis.get("rules")
        if rules is None:  # sealed before the per-date count existed
            return self.t["sep"].join(basis["sources"])
        counts: dict[str, int] = {}
        for group in self.m["violations"]:
            if group["rule"] not in rules:
                continue
            texts = {c["id"]: c["text"] for c in group["binding_sources"] + group["standard_sources"]}
            for item in group["incidents"]:
                for cited in item.get("cites") or texts:
                    if cited in texts:
                        counts[texts[cited]] = counts.get(texts[cited], 0) + 1
        parts = []
        for text in basis["sources"]:
            n = counts.get(text, night)
            parts.append(text if n >= night else self.tr("night_source_some", source=text, n=n))
        return self.t["sep"].join(parts)

    def cited_sets(self, group: dict, key: str) -> list[tuple[list[str], str]]:
        """A finding's sources of one force, per incident: [(refs, citation)], one entry per set of
        sources in force on the incidents' dates (a 2025 event cites the 2012 text, a 2026 event
        the 2025 one). Manifests sealed before "cites" existed give the rule's sources at once."""
        texts = {c["id"]: c["text"] for c in group.get(key) or []}
        refs = {i["id"]: i["ref"] for i in self.incidents}
        sets: dict[tuple, list[str]] = {}
        for item in group["incidents"]:
            cites = item.get("cites")
            chosen = tuple(texts) if cites is None else tuple(c for c in cites if c in texts)
            if chosen:
                sets.setdefault(chosen, []).append(refs.get(item["incident"], "?"))
        return [
            (shown, self.t["sep_citation"].join(texts[c] for c in chosen)) for chosen, shown in sets.items()
        ]

    def earlier_text(self, earlier: dict) -> str:
        """The complaint this one follows, and why it is escalated: no reply within the deadline, or
        a reply that did not settle it."""
        sent = date.fromisoformat(earlier["date"])
        issued = datetime.fromisoformat(self.m["dossier"]["created_at"]).astimezone(self.tz).date()
        ticket = self.tr("earlier_ticket", ticket=earlier["ticket"]) if earlier.get("ticket") else ""
        text = self.tr(
            "earlier_sent", date=sent.isoformat(), channel=earlier.get("channel") or "—", ticket=ticket
        )
        if earlier.get("reply"):
            text += self.tr("earlier_replied", reply=earlier["reply"])
        elif (issued - sent).days > 15:
            text += self.tr("earlier_overdue", days=(issued - sent).days)
        else:
            text += self.tr("earlier_waiting")
        return text

    def follow_up(self) -> list:
        """The written notice and the contacts after it, then the earlier complaints this letter
        follows: dates, channels, ticket numbers, deadlines and replies (or the missed deadline)."""
        s, letter = self.s, self.m.get("letter") or {}
        out = []
        notice = letter.get("notice")
        if notice:
            out.append(_p(self.tr("notice"), s.h2))
            out.append(
                _p(
                    self.tr(
                        "notice_sent",
                        date=notice["date"],
                        channel=self.channel_words(notice.get("channel", ""), notice["channel_label"]),
                        number=notice["number"],
                        allowed=notice["allowed_text"],
                        start=notice["hours"]["from"],
                        end=notice["hours"]["until"],
                    ),
                    s.body,
                )
            )
            contacts = letter.get("after_notice") or []
            if contacts:
                # One sentence here; the contacts themselves are listed in a table (after_notice_table).
                third = sum(
                    1
                    for item in contacts
                    if item["kind"] == "third_party"
                    or (item["kind"] != "visit" and set(item["contacted"]) - {"self"})
                )
                out.append(_p(self.tr("notice_after", count=len(contacts), third=third), s.body))
            else:
                out.append(_p(self.tr("notice_none_after"), s.body))
        follows = letter.get("follows") or []
        if follows:
            out.append(_p(self.tr("follows"), s.h2))
            for entry in follows:
                out.append(_p(self.follows_text(entry), s.body))
            out.append(_p(self.tr("follows_closing"), s.body))
        return out

    def follows_text(self, entry: dict) -> str:
        ticket = self.tr("earlier_ticket", ticket=entry["ticket"]) if entry.get("ticket") else ""
        lender = self.m["respondent"].get("lender_name") or ""
        # Alipay's customer service (95188) takes complaints for the lender behind 花呗/借呗: the
        # complaint was lodged with the lender, whom the complaint-handling measures bind.
        to = (
            self.tr("follows_to_via", lender=lender, channel=entry["to"])
            if entry.get("addressee") == "alipay" and lender
            else entry["to"]
        )
        parts = [
            self.tr(
                "follows_sent",
                date=entry["date"],
                channel=self.channel_words(entry.get("channel", ""), entry["channel_label"]),
                to=to,
                ticket=ticket,
            )
        ]
        if entry.get("dossier"):
            parts.append(self.tr("follows_dossier", number=entry["dossier"]))
        if entry.get("statutory") and entry.get("deadline_source"):
            source = entry["deadline_source"][self.language]
            parts.append(
                self.tr(
                    "follows_deadline",
                    source=source,
                    due=entry["due"],
                    option=entry["deadline_label"],
                    days=entry.get("deadline_days") or "",
                )
            )
        else:
            parts.append(self.tr("follows_followup", due=entry["due"], option=entry["deadline_label"]))
        for reply in entry.get("replies") or []:
            parts.append(
                self.tr(
                    "follows_reply", date=reply["date"], outcome=reply["outcome_label"], text=reply["text"]
                )
            )
        if entry.get("overdue_days") is not None:
            parts.append(self.tr("follows_overdue", today=entry["as_of"], days=entry["overdue_days"]))
        elif not entry.get("replies"):
            parts.append(self.tr("follows_waiting"))
        return ("" if self.language == "zh-hans" else " ").join(parts)

    def kv_table(self, rows):
        """Label and value, the label column as wide as its longest label (no label broken)."""
        texts = [[c.getPlainText() if isinstance(c, Paragraph) else str(c) for c in row] for row in rows]
        return cell_table(
            texts,
            style=self.s.cell,
            total=PAGE_W - 2 * MARGIN,
            flexible=1,
            caps={0: 60 * mm},
            header=False,
            lines=False,
            commands=[
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b8c0cc")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef1f5")),
            ],
        )

    def quote_lines(self, incident: dict) -> str:
        """02:13 「明天去你单位」: each verbatim quote, with where it is in the recording."""
        lines = []
        for quote in incident.get("quotes") or []:
            at = quote.get("at")
            place = f"{at // 60:02d}:{at % 60:02d} " if at is not None else ""
            lines.append(self.tr("quote", place=place, text=self.clip(quote["text"], 300)))
        return "\n".join(lines)

    def clip(self, text: str, limit: int = CELL_TEXT_LIMIT) -> str:
        return text if len(text) <= limit else text[:limit] + "…"

    def summary(self, stats) -> list:
        s = self.s
        out = [_p(self.tr("summary"), s.h1)]
        hold = self.m["dossier"].get("on_hold")
        if hold:  # a lawsuit or other proceedings: nothing in the case can be deleted meanwhile
            out.append(
                _p(
                    self.tr("on_hold", since=self.when(hold["since"])[:10], reason=hold["reason"] or "—"),
                    s.body,
                )
            )
        window = stats["quiet_hours"]
        rows = [
            [_p(self.tr(f"stat_{key}"), s.cell), _p(str(stats[key]), s.cell)]
            for key in ("total", "calls", "connected")
        ]
        if window:
            rows.append(
                [
                    _p(self.tr("stat_night", start=window["from"], end=window["until"]), s.cell),
                    _p(str(stats["night"]), s.cell),
                ]
            )
        rows += [
            [_p(self.tr(f"stat_{key}"), s.cell), _p(str(stats[key]), s.cell)]
            for key in ("sms", "third", "visits", "threats")
        ]
        if stats.get("time_unknown"):
            rows.append([_p(self.tr("stat_time_unknown"), s.cell), _p(str(stats["time_unknown"]), s.cell)])
        if stats.get("own"):
            rows.append([_p(self.tr("stat_own"), s.cell), _p(str(stats["own"]), s.cell)])
        rows.append([_p(self.tr("stat_evidence"), s.cell), _p(str(len(self.evidence)), s.cell)])
        stamped = stats.get("timestamps")
        if self.evidence and self.stamps_shown():
            rows.append(
                [
                    _p(self.tr("stat_stamped", minutes=stamped["within_minutes"]), s.cell),
                    _p(f"{stamped['stamped_within']} / {stamped['files']}", s.cell),
                ]
            )
        out += [self.kv_table(rows), Spacer(1, 5 * mm)]
        out += self.after_notice_table()
        if self.evidence and not self.stamps_shown():
            out += [_p(self.tr("not_timestamped"), s.body), Spacer(1, 3 * mm)]
        out.append(self.per_day_chart(stats["calls_per_day"]))
        out.append(Spacer(1, 4 * mm))
        out.append(self.by_hour_chart(stats["calls_per_hour"], window["hours"] if window else []))
        out.append(PageBreak())
        return out

    def _bar_chart(
        self, title: str, values: list[int], labels: list[str], colours: list | None = None
    ) -> Drawing:
        width, height = PAGE_W - 2 * MARGIN, 70 * mm
        drawing = Drawing(width, height)
        drawing.add(String(0, height - 10, printable(title, self.font), fontName=self.font, fontSize=9.5))
        chart = VerticalBarChart()
        chart.x, chart.y, chart.width, chart.height = 24, 28, width - 34, height - 50
        chart.data = [values or [0]]
        chart.categoryAxis.categoryNames = labels or [""]
        chart.categoryAxis.labels.fontName = self.font
        chart.categoryAxis.labels.fontSize = 6.5
        chart.categoryAxis.labels.angle = 60 if len(labels) > 24 else 0
        chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 24 else "n"
        chart.valueAxis.valueMin = 0
        top = max(values or [1])
        chart.valueAxis.valueMax = max(top + 1, 4)
        chart.valueAxis.valueStep = max(1, round(top / 5)) if top > 5 else 1
        chart.valueAxis.labels.fontSize = 7
        chart.bars[0].fillColor = colors.HexColor("#6f9bd1")
        chart.bars[0].strokeColor = None
        chart.barSpacing = 0.5
        for index, colour in enumerate(colours or []):
            chart.bars[(0, index)].fillColor = colour
        drawing.add(chart)
        return drawing

    def per_day_chart(self, calls_per_day: dict[str, int]) -> Drawing:
        per_day = {date.fromisoformat(day): count for day, count in calls_per_day.items()}
        if not per_day:
            return self._bar_chart(self.tr("chart_per_day"), [], [])
        first, last = min(per_day), max(per_day)
        days = (last - first).days + 1
        if days > 92:  # too many bars to read: weeks instead
            weeks: dict[date, int] = {}
            for day, count in per_day.items():
                monday = day - timedelta(days=day.weekday())
                weeks[monday] = weeks.get(monday, 0) + count
            start = first - timedelta(days=first.weekday())
            keys = [start + timedelta(weeks=w) for w in range(((last - start).days // 7) + 1)]
            values = [weeks.get(k, 0) for k in keys]
            step = max(1, len(keys) // 26)
            labels = [k.strftime("%m-%d") if n % step == 0 else "" for n, k in enumerate(keys)]
            return self._bar_chart(self.tr("chart_per_week"), values, labels)
        keys = [first + timedelta(days=d) for d in range(days)]
        step = max(1, days // 31)
        labels = [k.strftime("%m-%d") if n % step == 0 else "" for n, k in enumerate(keys)]
        return self._bar_chart(self.tr("chart_per_day"), [per_day.get(k, 0) for k in keys], labels)

    def by_hour_chart(self, per_hour: list[int], night_hours: list[int]) -> Drawing:
        night = colors.HexColor("#33305e")
        day = colors.HexColor("#9fc0e8")
        colours = [night if h in night_hours else day for h in range(24)]
        return self._bar_chart(self.tr("chart_by_hour"), per_hour, [f"{h:02d}" for h in range(24)], colours)

    def violations(self) -> list:
        s = self.s
        out = [_p(self.tr("violations"), s.h1)]
        if not self.m["rules_evaluated"]:
            return out + [_p(self.tr("violations_none_evaluated"), s.body), PageBreak()]
        if not self.m["violations"]:
            return out + [_p(self.tr("violations_none"), s.body), PageBreak()]
        refs = {i["id"]: i for i in self.incidents}
        for group in self.m["violations"]:
            block = [
                _p(
                    self.tr(
                        "violation_heading",
                        wording=group["wording"],
                        title=group["title"],
                        rule=group["rule"],
                    ),
                    s.h2,
                )
            ]
            for key, label in (
                ("binding_sources", "violation_citation"),
                ("standard_sources", "violation_standards"),
            ):
                if group.get(key):
                    sets = self.cited_sets(group, key)
                    for cited_refs, citation in sets:
                        if len(sets) == 1 and len(cited_refs) == len(group["incidents"]):
                            block.append(_p(self.tr(label, citation=citation), s.small))
                        else:
                            joined = self.t["sep"].join(cited_refs)
                            text = self.tr(f"{label}_refs", refs=joined, citation=citation)
                            block.append(_p(text, s.small))
            block.append(_p(self.tr("violation_count", count=len(group["incidents"])), s.small))
            rows = []
            for item in group["incidents"]:
                incident = refs[item["incident"]]
                # The words that support the finding, quoted with their place in the recording.
                supported = "\n".join(x for x in (item["explanation"], self.quote_lines(incident)) if x)
                rows.append([incident["ref"], self.when(incident["occurred_at"]), self.clip(supported)])
            table = cell_table(rows, style=s.cell, total=PAGE_W - 2 * MARGIN, flexible=2, header=False)
            out += [KeepTogether(block), table, Spacer(1, 3 * mm)]
        return out + [PageBreak()]

    def timeline(self) -> list:

        s = self.s
        header = [
            self.tr(k)
            for k in (
                "col_no",
                "col_time",
                "col_kind",
                "col_counterpart",
                "col_what",
                "col_evidence",
                "col_logged",
            )
        ]
        rows = [header]
        long_texts: list[dict] = []
        total = max(len(self.incidents), 1)
        for position, incident in enumerate(self.incidents):
            who = " ".join(
                x
                for x in (incident["counterpart_number"], incident["counterpart_name"], incident["agency"])
                if x
            )
            details = []
            if incident["kind"] == "call" and (
                incident["answered"] is not None or incident["duration_seconds"]
            ):
                connected = (
                    incident["answered"]
                    if incident["answered"] is not None
                    else bool(incident["duration_seconds"])
                )
                details.append(
                    self.tr("answered" if connected else "unanswered")
                    + (f" {self.delay(incident['duration_seconds'])}" if incident["duration_seconds"] else "")
                )
            if incident["visitors"] is not None:
                details.append(self.tr("visitors", n=incident["visitors"]))
            # Where a visit happened: the typed address, and the phone's position with its accuracy.
            if incident.get("place"):
                details.append(self.tr("place", place=incident["place"]))
            where = incident.get("location")
            if where:
                text = self.tr("location", lat=f"{where['lat']:.6f}", lon=f"{where['lon']:.6f}")
                if where.get("accuracy_m") is not None:
                    text += self.tr("location_accuracy", metres=round(where["accuracy_m"]))
                details.append(text)
            if incident["contacted"]:
                details.append(self.tr("contacted", who=self.labels("contacted", incident["contacted"])))
            if incident["flags"]:
                # A caller can only claim a document: "forged" is said where one was shown or sent.
                names = [
                    self.t["flag_claimed_document"]
                    if flag == "fake_legal_document" and incident["kind"] == "call"
                    else self.label("flag", flag)
                    for flag in incident["flags"]
                ]
                details.append(self.tr("flags", flags=self.t["sep"].join(names)))
            # Where the record comes from: the phone's own log, a recording or screenshot, or the
            # person's own entry.
            source = self.provenance(incident)
            if incident.get("source_evidence"):
                source += f" ({incident['source_evidence']})"
            if incident["evidence"]:
                source += self.tr("source_files", refs=" ".join(incident["evidence"]))
            if source:
                details.append(source)
            if incident["amended_at"]:
                details.append(self.tr("amended", date=self.when(incident["amended_at"])[:16]))
            joiner = "；" if self.language == "zh-hans" else "; "
            description = incident["description"]
            if len(description) > CELL_TEXT_LIMIT:
                long_texts.append(incident)
                description = self.clip(description) + self.tr("see_full_text", ref=incident["ref"])
            what = "\n".join(x for x in (description, self.quote_lines(incident), joiner.join(details)) if x)
            delay = (
                (
                    datetime.fromisoformat(incident["logged_at"])
                    - datetime.fromisoformat(incident["occurred_at"])
                ).total_seconds()
                if incident["occurred_at"]
                else None
            )
            rows.append(
                [
                    incident["ref"],
                    self.when(incident["occurred_at"]).replace(" ", "\n"),
                    self.label("kind", incident["kind"]),
                    who,
                    what,
                    " ".join(incident["evidence"]),
                    self.tr("logged_same", delay=self.delay(delay))
                    if delay is not None
                    else self.tr("logged_unknown"),
                ]
            )
            if position % 200 == 0:
                self.progress(20 + int(45 * position / total), "timeline")
        # Columns as wide as their content needs (the "what" column takes the rest): no label,
        # number or name is broken inside (complaints/pdf/cells.py).
        table = cell_table(
            rows,
            style=s.cell,
            total=PAGE_W - 2 * MARGIN,
            flexible=4,
            caps={2: 20 * mm, 3: 36 * mm, 5: 18 * mm, 6: 26 * mm},
        )
        out = [_p(self.tr("timeline"), self.s.h1), table]
        if long_texts:
            out += [Spacer(1, 6 * mm), _p(self.tr("full_texts"), s.h2)]
            for incident in long_texts:
                out += [
                    _p(f"{incident['ref']}  {self.when(incident['occurred_at'])}", s.small),
                    _p(incident["description"], s.body),
                    Spacer(1, 3 * mm),
                ]
        return out + [PageBreak()]

    def provenance(self, incident: dict) -> str:
        """Where the row comes from, read from the incident's sealed sources: the person's own entry
        (or a helper's), the phone's log, a recording, a screenshot, the carrier's record; "sent by
        phone automation" only for a file a phone shortcut filed by itself."""
        kinds = [src.get("kind") for src in incident.get("sources") or []] or [
            "import" if incident["source"] == "import" else "manual"
        ]
        labels: list[str] = []
        for kind in kinds:
            if kind == "manual":
                key = "prov_helper" if incident.get("entered_by") == "helper" else "prov_manual"
            elif kind == "import":
                key = "prov_import_sms" if incident["kind"] in ("sms", "app_message") else "prov_import_call"
            else:
                key = f"prov_{kind}"
            label = self.t.get(key, "")
            if label and label not in labels:
                labels.append(label)
        if incident["source"] == "api" and any(k in ("recording", "screenshot") for k in kinds):
            labels.append(self.t["prov_api"])
        return self.tr("provenance", sources=self.t["prov_sep"].join(labels)) if labels else ""

    def evidence_index(self) -> list:
        s = self.s
        out = [_p(self.tr("evidence_index"), s.h1)]
        if self.evidence and not self.stamps_shown():
            out.append(_p(self.tr("not_timestamped"), s.body))
        elif self.evidence:
            out += self.stamp_meaning()
        if any(e.get("carrier_record") for e in self.evidence) or any(
            src.get("kind") == "carrier" for i in self.incidents for src in i.get("sources") or []
        ):
            out.append(_p(self.tr("carrier_note"), s.body))
        if not self.evidence:
            return out + [_p(self.tr("no_evidence"), s.body), PageBreak()]
        refs = {i["id"]: i["ref"] for i in self.incidents}
        header = [
            self.tr(k)
            for k in (
                "col_ref",
                "col_name",
                "col_type",
                "col_size",
                "col_duration",
                "col_received",
                "col_incident",
            )
        ]
        rows = [header]
        for entry in self.evidence:
            duration = entry["duration_seconds"]
            rows.append(
                [
                    entry["ref"],
                    entry["original_name"],
                    entry["content_type"],
                    human_size(entry["size"]),
                    self.delay(duration) if duration else "—",
                    self.when(entry["received_at"]),
                    refs.get(entry["incident"], ""),
                ]
            )
            facts = [_p(f"SHA-256 {entry['sha256']}", s.mono), _p(self.stamp_line(entry), s.small)]
            rows.append(["", facts, "", "", "", "", ""])
        style = []
        for row in range(2, len(rows), 2):
            style += [
                ("SPAN", (1, row), (-1, row)),
                ("LINEBELOW", (0, row), (-1, row), 0.25, colors.HexColor("#d5dae1")),
                # A file's row and its hash never part across pages.
                ("NOSPLIT", (0, row - 1), (-1, row)),
            ]
        table = cell_table(
            rows,
            style=s.cell,
            total=PAGE_W - 2 * MARGIN,
            flexible=1,
            caps={2: 26 * mm, 5: 30 * mm},
            lines=False,
            commands=style,
        )
        out.append(table)
        out += self.thumbnails()
        return out + [PageBreak()]

    def thumbnails(self) -> list:
        images = [e for e in self.evidence if e["content_type"] in IMAGE_TYPES]
        if not images:
            return []
        s = self.s
        cells = []
        for index, entry in enumerate(images):
            picture = self.thumbnail(entry)
            caption = _p(f"{entry['ref']} {entry['original_name']}\n{entry['sha256'][:16]}…", s.small)
            cells.append([picture or _p("—", s.small), caption])
            if index % 10 == 0:
                self.progress(65 + int(15 * index / len(images)), "thumbnails")
        columns = 3
        rows = []
        # A thumbnail and its caption share one cell, so a page never parts them.
        for start in range(0, len(cells), columns):
            group = cells[start : start + columns]
            group += [""] * (columns - len(group))
            rows.append(group)
        width = (PAGE_W - 2 * MARGIN) / columns
        table = LongTable(rows, colWidths=[width] * columns)
        table.setStyle(
            TableStyle(
                [
                    ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ]
            )
        )
        return [CondPageBreak(80 * mm), _p(self.tr("screenshots"), s.h2), table]

    def appendix(self) -> list:
        s = self.s
        seal = self.seal
        grouped = " ".join(seal[i : i + 16] for i in range(0, 64, 16))
        head = self.m["audit_chain_head"]
        out = [
            _p(self.tr("appendix"), s.h1),
            _p(self.tr("seal"), s.h2),
            _p(grouped, s.mono),
            _p(self.tr("chain_head"), s.h2),
            _p(f"seq {head['seq']}  {head['hash']}", s.mono),
        ]
        if self.signer_fingerprint:
            out += [_p(self.tr("signer"), s.h2), _p(self.signer_fingerprint, s.mono)]
        checker = ((self.m.get("bundle") or {}).get("files") or {}).get("verify.py")
        if checker:
            # A stranger's first step: the verify.py in the bundle must be the one sealed here.
            out += [_p(self.tr("verify_py_hash"), s.h2), _p(checker, s.mono)]
        out.append(_p(self.tr("timestamp_yes" if self.timestamped else "timestamp_no"), s.small))
        if self.verify_url:
            out += [_p(self.tr("verify_at"), s.h2), _p(self.verify_url, s.mono)]
        out.append(Spacer(1, 4 * mm))
        verify_style = ParagraphStyle("verify", parent=s.small, wordWrap="CJK")
        steps = "verify_sealed" if self.m.get("bundle") else "verify"
        out.append(_p(texts()[steps]["text"].strip(), verify_style))
        return out

    def full_page_images(self) -> list:
        """Each screenshot on a page of its own, at least 150 dots per inch: readable, not a thumbnail."""
        shown = [e for e in self.evidence if e["ref"] in self.page_images]
        if not shown:
            return []
        s = self.s
        title = _p(self.tr("screenshots_full"), s.h1)
        out = [PageBreak(), title]
        frame_w = PAGE_W - 2 * MARGIN
        first = True
        for index, entry in enumerate(shown):
            path = self.page_images[entry["ref"]]
            try:
                width_px, height_px = ImageReader(str(path)).getSize()
            except Exception:  # unreadable rendition: the file is still in the index and the bundle
                continue
            if not first:
                out.append(PageBreak())
            head = [
                _p(f"{entry['ref']}  {entry['original_name']}", s.h2),
                _p(f"SHA-256 {entry['sha256']}", s.mono),
                Spacer(1, 3 * mm),
            ]
            recognized = self.recognized_text(entry)
            # The heading, the image and the recognised text share one page: the image is scaled
            # to the room the text leaves (the title too, on the first page). Text too long for
            # that keeps its caveat with the image and flows on below it.
            room = FRAME_H - _height(head, frame_w) - (_height([title], frame_w) if first else 0)
            kept, rest = recognized, []
            if room - _height(recognized, frame_w) < 100 * mm:
                kept, rest = recognized[:2], recognized[2:]
            room -= _height(kept, frame_w) + 2 * mm
            # Never wider than 150 dpi allows (72 points per inch), never larger than the room.
            scale = min(72 / 150, frame_w / width_px, max(room, 60 * mm) / height_px)
            image = Image(str(path), width=width_px * scale, height=height_px * scale)
            out += [KeepTogether(head + [image] + kept)] + rest
            first = False
            if index % 5 == 0:
                self.progress(80 + int(5 * index / len(shown)), "screenshots")
        return out

    def recognized_text(self, entry: dict) -> list:
        """The text read from a screenshot (OCR), under it, marked as for reference only."""
        recognized = entry.get("recognized_text")
        if not recognized:
            return []
        s = self.s
        style = ParagraphStyle("ocr", parent=s.small, wordWrap="CJK")
        return [
            Spacer(1, 2 * mm),
            _p(self.tr("recognized_caveat"), s.small),
            _p(self.clip(recognized["text"], 4000), style),
        ]

    def thumbnail(self, entry: dict) -> Image | None:
        """A legible screenshot thumbnail, about 5 cm wide (made when the image arrived)."""
        data = self.images.get(entry["ref"])
        if data is None:
            return None
        try:
            reader = ImageReader(io.BytesIO(data))
            width, height = reader.getSize()
        except Exception:  # a thumbnail that cannot be read is left out, the file is still listed
            return None
        shown_width = 52 * mm
        return Image(io.BytesIO(data), width=shown_width, height=shown_width * height / width)

    # --- page furniture ---------------------------------------------------------------------------

    def draw_page(self, canvas, number: int, total: int) -> None:
        draw_furniture(
            canvas,
            font=self.font,
            header=self.tr(
                "header", number=self.m["dossier"]["number"], addressee=self.m["addressee"]["name"]
            ),
            footer=self.tr("footer", seal=self.seal[:16], page=number, pages=total),
        )

    def set_pages(self, total: int) -> None:
        self.pages = total

    # --- whole document ---------------------------------------------------------------------------

    def render(self) -> bytes:
        buffer = io.BytesIO()
        title = self.tr("title_report" if self.report else "title_complaint")
        document = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=16 * mm,
            bottomMargin=24 * mm,
            title=f"{title} {self.m['dossier']['number']}",
            author=self.m["complainant"]["name"],
            subject=self.seal,
            creator="Collection Evidence Keeper",
            # Real creation dates: a PDF dated 2000-01-01 reads as tampering to its reader.
            invariant=0,
        )
        stats = self.stats()
        self.progress(18, "letter")
        story = self.letter(stats) + self.summary(stats) + self.violations()
        story += self.timeline()
        story += self.evidence_index()
        story += self.appendix()
        story += self.full_page_images()
        self.progress(80, "layout")
        document.build(
            story,
            canvasmaker=numbered_canvas(
                qr_payload=self.verify_url or self.seal, draw_page=self.draw_page, on_total=self.set_pages
            ),
        )
        return buffer.getvalue()


def render_pdf(
    manifest: dict,
    *,
    seal: str,
    labels: dict | None = None,
    images: dict | None = None,
    page_images: dict | None = None,
    verify_url: str = "",
    progress=None,
    signer_fingerprint: str = "",
    timestamped: bool = False,
) -> tuple[bytes, int, str]:
    """(PDF bytes, page count, font warning)."""
    renderer = Renderer(
        manifest,
        seal=seal,
        labels=labels,
        images=images,
        page_images=page_images,
        verify_url=verify_url,
        progress=progress,
        signer_fingerprint=signer_fingerprint,
        timestamped=timestamped,
    )
    data = renderer.render()
    return data, renderer.pages, renderer.font_warning
