"""OCR of phone screenshots (issue 15): 32 screenshots at 1080×2400 drawn with the WenQuanYi CJK font
(tests/evidence/ocr_screens.py: SMS threads and call logs, light and dark, Chinese and English, MIUI,
iOS and EMUI call-log styles), read by the engine the worker uses (evidence/ocr.py).

Prints character accuracy (1 − CER) of SMS bodies against the drawn truth, the share of call-log rows
whose number is read exactly (and whose time resolves to the drawn one), the share of SMS messages
found with the right time, and seconds per screenshot (wall clock, and this process's CPU time:
the machine may be shared). Goals: >= 97 % on SMS bodies, numbers exact in >= 99 % of rows,
<= 2 s per screenshot on a 2-core machine. `python bench/ocr.py [count]`.
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
from tests.evidence.ocr_screens import HEIGHT, WIDTH, benchmark_set, font_available  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The screenshots' own time: the labels they show ("昨天", "星期二") are read against it.
TAKEN = datetime(2024, 3, 22, 10, 32, tzinfo=SHANGHAI)


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


def squash(text: str) -> str:
    return "".join(proposals.normalise_text(text).split())


def digits(text: str) -> str:
    return normalise_number(text).lstrip("+").removeprefix("86") if any(c.isdigit() for c in text) else text


def expected_time(label: str):
    found = proposals.parse_when(label, TAKEN)
    return found["at"] if found else None


def main(count: int) -> None:
    if not font_available():
        print("ocr: skipped (fonts-wqy-zenhei is not installed)")
        return
    screens = benchmark_set(count)
    t0 = time.perf_counter()
    ocr.engine()
    print(f"engine loaded in {time.perf_counter() - t0:.2f} s ({ocr.ENGINE_NAME})")
    keywords = available_packs()["cn"].keywords
    wall = cpu = 0.0
    chars = errors = 0
    messages = messages_found = 0
    rows = rows_exact = rows_timed = 0
    for screen in screens:
        w0, c0 = time.perf_counter(), time.process_time()
        lines = ocr.recognize(screen.image)
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        if screen.kind == "sms":
            read = proposals.read_sms(lines, WIDTH, HEIGHT, TAKEN, keywords)
            bodies = [item["body"] for item in read["items"]]
            for message in screen.messages:
                truth = squash(message["body"])
                best = min((squash(body) for body in bodies), key=lambda b: distance(truth, b), default="")
                chars += len(truth)
                errors += min(distance(truth, best), len(truth))
                messages += 1
                messages_found += any(
                    item["at"] == expected_time(message["label"])
                    and distance(truth, squash(item["body"])) <= 0.1 * len(truth)
                    for item in read["items"]
                )
        else:
            read = proposals.read_call_log(lines, WIDTH, HEIGHT, TAKEN)
            items = list(read["items"])
            for row in screen.rows:
                rows += 1
                want = digits(row["who"]) if any(c.isdigit() for c in row["who"]) else row["who"]
                hit = next(
                    (i for i in items if (digits(i["number"]) if i["number"] else i["name"]) == want),
                    None,
                )
                if hit is not None:
                    rows_exact += 1
                    rows_timed += hit["at"] == expected_time(row["when"])
                    items.remove(hit)
    n = len(screens)
    print(
        f"screenshots: {n} ({sum(s.kind == 'sms' for s in screens)} SMS threads, "
        f"{sum(s.kind == 'calls' for s in screens)} call logs), 1080x2400, light/dark, zh/en"
    )
    print(
        f"SMS bodies: character accuracy {100 * (1 - errors / max(chars, 1)):.2f} % "
        f"({chars} characters, {errors} edits) — goal >= 97 %"
    )
    print(f"SMS messages with the right time: {messages_found}/{messages}")
    print(
        f"call-log rows: number or name exact in {100 * rows_exact / max(rows, 1):.1f} % "
        f"({rows_exact}/{rows}) — goal >= 99 %; time resolved right in {rows_timed}/{rows}"
    )
    print(f"seconds per screenshot: {wall / n:.2f} wall, {cpu / n:.2f} CPU — goal <= 2 s")


if __name__ == "__main__":
    from django.conf import settings

    # `python bench/ocr.py [count] [max width]`: the width screenshots are reduced to (OCR_MAX_WIDTH).
    if len(sys.argv) > 2:
        settings.OCR_MAX_WIDTH = int(sys.argv[2])
    print(f"OCR_MAX_WIDTH {ocr.setting('OCR_MAX_WIDTH', 720)}")
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 32)
