"""Rule evaluation benchmark: a case of 100,000 incidents against the China pack, and the ratio to
10,000 (growth must be linear: ratio <= 12; goal: 100,000 in <= 2 s). Figures only."""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent


def records(count: int):
    from evidence.rules import Record

    rng = random.Random(count)
    start = datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC"))
    flags = [(), (), (), ("threat",), ("insult",), ("impersonation",)]
    kinds = ["call"] * 8 + ["sms", "visit", "third_party"]
    out = []
    moment = start
    for i in range(count):
        moment += timedelta(seconds=rng.randint(60, 3600))
        kind = rng.choice(kinds)
        out.append(
            Record(
                i,
                kind,
                moment,
                rng.random() < 0.4,
                rng.randint(0, 300),
                ("self",) if kind != "third_party" else ("family",),
                rng.choice(flags),
                1 if kind == "visit" else None,
                rng.choice(["17012345678", "17198765432"]),
            )
        )
    return out


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from evidence.rules import evaluate, get_pack

    tz = ZoneInfo("Asia/Shanghai")
    figures = {}
    for pack_id in ("cn", "us"):
        pack = get_pack(pack_id)
        small, large = records(10_000), records(100_000)
        t_small = best_of(3, lambda small=small, pack=pack: evaluate(small, pack, tz))
        t_large = best_of(3, lambda large=large, pack=pack: evaluate(large, pack, tz))
        found = evaluate(large, pack, tz)
        figures.update(
            {
                f"{pack_id}.seconds_10000": round(t_small, 3),
                f"{pack_id}.seconds_100000": round(t_large, 3),
                f"{pack_id}.ratio_100000_to_10000": round(t_large / t_small, 2),
                f"{pack_id}.incidents_flagged_of_100000": len(found),
            }
        )
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"rules.{key}: {value}")
