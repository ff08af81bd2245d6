"""Timeline benchmark: a case with 10,000 incidents; median time to render a timeline page and the
number of SQL queries (which must not grow with the number of incidents). Figures only."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent
COUNT = int(os.environ.get("BENCH_TIMELINE_INCIDENTS", 10_000))
ROUNDS = 21


def main() -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-timeline-"))
    # Production-like settings (templates cached, DEBUG off), on plain HTTP.
    os.environ.update(
        {
            "DATA_DIR": str(work),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE": "0",
            "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "testserver",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from evidence.models import Incident
    from evidence.services import case_create

    try:
        call_command("migrate", "--noinput", verbosity=0)
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user("bench", password="bench-pass-123")
        case = case_create(owner=user, title="bench", creditor="huabei")
        start = datetime(2024, 1, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
        kinds = ["call", "call", "call", "sms", "visit", "third_party"]

        def add(n: int, offset: int) -> None:
            Incident.objects.bulk_create(
                [
                    Incident(
                        case=case,
                        kind=kinds[i % len(kinds)],
                        occurred_at=start + timedelta(minutes=13 * (i + offset)),
                        counterpart_number="17012345678",
                        description="催收电话" * 5,
                        flags=["threat"] if i % 7 == 0 else [],
                    )
                    for i in range(n)
                ],
                batch_size=2000,
            )

        client = Client()
        client.force_login(user)
        url = f"/cases/{case.pk}/"

        def measure(path: str) -> tuple[float, int]:
            client.get(path)  # warm
            times = []
            queries = 0
            for _ in range(ROUNDS):
                with CaptureQueriesContext(connection) as ctx:
                    began = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - began)
                assert response.status_code == 200
                queries = len(ctx.captured_queries)
            return statistics.median(times), queries

        add(100, 0)
        small_time, small_queries = measure(url)
        add(COUNT - 100, 100)
        first_time, first_queries = measure(url)
        last_time, _ = measure(url + f"?page={max(COUNT // 50, 1)}")
        filtered_time, filtered_queries = measure(url + "?kind=call&date_from=2024-01-10&date_to=2024-01-20")
        return {
            "incidents": Incident.objects.filter(case=case).count(),
            "median_first_page_ms": round(first_time * 1000, 1),
            "median_last_page_ms": round(last_time * 1000, 1),
            "median_filtered_page_ms": round(filtered_time * 1000, 1),
            "queries_per_page_at_100": small_queries,
            f"queries_per_page_at_{COUNT}": first_queries,
            "queries_filtered": filtered_queries,
            "queries_constant": small_queries == first_queries,
            "median_first_page_ms_at_100": round(small_time * 1000, 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{os.environ.get('BENCH_LABEL', 'timeline')}.{key}: {value}")
