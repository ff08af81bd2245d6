"""OCR of phone screens (issues 15, 27, 28): the project's realistic screen set
(tests/evidence/ocr_screens.py, realistic_set: SMS threads, call logs with and without contact names
and two-row logs, chats, other screens, dark mode, photos of a screen, a 1080×12000 scrolling
screenshot, each drawn with the WenQuanYi CJK font with the truth known), read by the engine the
worker uses (evidence/ocr.py) and proposed as entries (evidence/proposals.py).

Prints, with the targets of issue 27 (printed, not asserted):
- character accuracy (1 − CER): every drawn text (bodies, numbers, names, times, durations) found in
  the recognized text of its screen (approximate substring match), for 1080×2400 screens and for the
  tall screenshot separately — targets >= 99 % and >= 95 %;
- screens classified right (SMS thread, call log, chat, other);
- proposed entries right: an entry is right when its time, number (or name), kind and direction
  and text (an SMS's or chat's body within 3 % of its characters; a call's duration where the log
  shows it) are; entries proposed that were never drawn count against it — target >= 95 %;
- seconds per screenshot (wall clock, and this process's CPU time: the machine may be shared).

`python bench/ocr.py [count] [max width] [-v]` reads the first `count` screens of the set (0 or none:
all), detecting at `max width` (OCR_MAX_WIDTH); -v names every miss.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from evidence import ocr, proposals  # noqa: E402
from evidence.metadata import normalise_number  # noqa: E402
from evidence.rules import available_packs  # noqa: E402
from tests.evidence.ocr_screens import duration_text, font_available, realistic_set  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The screens' own time: the labels they show ("昨天", "星期二") are read against it.
TAKEN = datetime(2024, 3, 22, 10, 32, tzinfo=SHANGHAI)
BODY_TOLERANCE = 0.03


def distance(a: str, b: str) -> int:
    """Levenshtein distance, two rows at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def found_in(needle: str, haystack: str) -> int:
    """The fewest edits that turn `needle` into some part of `haystack` (Sellers' algorithm)."""
    previous = list(range(len(needle) + 1))
    best = len(needle)
    for char in haystack:
        current = [0]
        for i, wanted in enumerate(needle, start=1):
            current.append(min(previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (wanted != char)))
        best = min(best, current[-1])
        previous = current
    return best


def squash(text: str) -> str:
    return "".join(proposals.normalise_text(text).split())


def digits(text: str) -> str:
    return normalise_number(text).lstrip("+").removeprefix("86")


def expected_time(label: str):
    found = proposals.parse_when(label, TAKEN)
    return found["at"] if found else None


def drawn_texts(screen) -> list[str]:
    texts = []
    for message in screen.messages:
        texts += [message["body"], message.get("label", "")]
    for row in screen.rows:
        texts += [row["who"], row.get("number", ""), row["when"], row.get("second", "")]
        if screen.style in ("emui", "contacts"):  # the styles that write durations
            texts.append(duration_text(row, screen.lang))
    return [squash(text) for text in texts if text]


def truth_entries(screen) -> list[dict]:
    if screen.kind in ("sms", "chat"):
        who = screen.sender
        return [
            {
                "at": expected_time(message["label"]),
                "who": digits(who) if screen.kind == "sms" else who,
                "direction": "sent" if message.get("sent") else "received",
                "body": squash(message["body"]),
            }
            for message in screen.messages
        ]
    entries = []
    words = screen.rows and any(row.get("direction_word") for row in screen.rows)
    for row in screen.rows:
        number = row.get("number") or (row["who"] if any(c.isdigit() for c in row["who"]) else "")
        shows_words = words and screen.style in ("emui", "contacts")
        direction = row["direction"] if shows_words else ("missed" if row.get("missed") else "unknown")
        entries.append(
            {
                "at": expected_time(row["when"]),
                "who": digits(number) if number else row["who"],
                "direction": direction,
                "duration": row.get("duration") if shows_words and direction != "missed" else None,
                "count": row.get("count", 1),
            }
        )
    return entries


def entry_right(item: dict, entry: dict, kind: str) -> bool:
    who = digits(item["number"]) if item["number"] else item["name"]
    if item["at"] != entry["at"] or who != entry["who"] or item["direction"] != entry["direction"]:
        return False
    if kind in ("sms", "chat"):
        return distance(entry["body"], squash(item["body"])) <= BODY_TOLERANCE * len(entry["body"])
    return item.get("duration") == entry["duration"] and item["count"] == entry["count"]


def main(count: int | None) -> None:
    if not font_available():
        print("ocr: skipped (fonts-wqy-zenhei is not installed)")
        return
    screens = realistic_set()[: count or None]
    t0 = time.perf_counter()
    ocr.engine()
    print(f"engine loaded in {time.perf_counter() - t0:.2f} s ({ocr.ENGINE_NAME})")
    keywords = available_packs()["cn"].keywords
    totals = {
        group: {"chars": 0, "errors": 0, "wall": 0.0, "cpu": 0.0, "screens": 0}
        for group in ("screen", "tall")
    }
    kinds_right = entries = right = spurious = 0
    for screen in screens:
        width, height = screen.image.size
        w0, c0 = time.perf_counter(), time.process_time()
        lines = ocr.recognize(screen.image)
        group = totals["tall" if screen.variant == "tall" else "screen"]
        group["wall"] += time.perf_counter() - w0
        group["cpu"] += time.process_time() - c0
        group["screens"] += 1
        read = squash("".join(line["text"] for line in lines))
        for text in drawn_texts(screen):
            group["chars"] += len(text)
            edits = found_in(text, read)
            group["errors"] += edits
            if edits and "-v" in sys.argv:
                print(f"  {edits} edits: {text}")
        kind = proposals.screen_kind(lines, width, height)
        kinds_right += kind == screen.kind
        if kind in ("sms", "chat"):
            items = proposals.read_sms(lines, width, height, TAKEN, keywords, kind=kind)["items"]
        elif kind == "calls":
            items = proposals.read_call_log(lines, width, height, TAKEN)["items"]
        else:
            items = []
        truth = truth_entries(screen)
        entries += len(truth)
        left = list(items)
        missed = []
        for entry in truth:
            hit = next((item for item in left if entry_right(item, entry, screen.kind)), None)
            if hit is None:
                missed.append(entry)
            else:
                right += 1
                left.remove(hit)
        # A proposal that is a drawn entry read wrong is already counted as a miss.
        spurious += max(0, len(left) - len(missed))
        if "-v" in sys.argv and (missed or left or kind != screen.kind):
            print(
                f"  {screen.kind}/{screen.variant}/{screen.theme}: read as {kind}; missed {missed}; got {left}"
            )
    n = len(screens)
    print(
        f"screens: {n} ({', '.join(f'{sum(s.kind == k for s in screens)} {k}' for k in ('sms', 'calls', 'chat', 'other'))}; "
        f"{sum(s.variant == 'photo' for s in screens)} photos of a screen, "
        f"{sum(s.variant == 'tall' for s in screens)} tall 1080x12000; light and dark, zh and en)"
    )
    for name, label, goal in (("screen", "screenshots", 99), ("tall", "tall screenshots", 95)):
        group = totals[name]
        if not group["screens"]:
            continue
        accuracy = 100 * (1 - group["errors"] / max(group["chars"], 1))
        print(
            f"{label}: character accuracy {accuracy:.2f} % ({group['chars']} characters, "
            f"{group['errors']} edits) — target >= {goal} %; "
            f"{group['wall'] / group['screens']:.2f} s wall, {group['cpu'] / group['screens']:.2f} s CPU "
            f"per screenshot"
        )
    print(f"screens classified right: {kinds_right}/{n}")
    share = 100 * right / max(entries + spurious, 1)
    print(
        f"proposed entries right: {share:.1f} % ({right} of {entries} drawn entries, {spurious} "
        f"proposed that were never drawn) — target >= 95 %"
    )


if __name__ == "__main__":
    from django.conf import settings

    # `python bench/ocr.py [count] [max width]`: the width screenshots are reduced to (OCR_MAX_WIDTH).
    arguments = [a for a in sys.argv[1:] if not a.startswith("-")]
    if len(arguments) > 1:
        settings.OCR_MAX_WIDTH = int(arguments[1])
    print(f"OCR_MAX_WIDTH {ocr.setting('OCR_MAX_WIDTH', 720)}")
    main(int(arguments[0]) if arguments else None)
