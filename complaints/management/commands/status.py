"""The installation's health for an operator: the facts /healthz reports, with each worker's host
and pid. Exit 0 when all is well, 1 when degraded (e.g. no worker alive), 2 when the database or
the storage fails; so a monitor (or cron with mail) can run it."""

import json

from django.core.management.base import BaseCommand

from complaints.health import health_report

EXIT_CODES = {"ok": 0, "degraded": 1, "error": 2}


class Command(BaseCommand):
    help = "Report the database, storage, workers, queue, stopped builds, signing key and free disk."

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the report as one JSON object"
        )

    def handle(self, *args, as_json: bool = False, **options):
        report = health_report(details=True)
        if as_json:
            self.stdout.write(_dumps(report))
        else:
            self.stdout.write(_text(report))
        code = EXIT_CODES[report["status"]]
        if code:
            raise SystemExit(code)


def _dumps(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, sort_keys=True)


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _text(report: dict) -> str:
    lines = [
        f"status: {report['status']}",
        f"database: {report['database']}",
        f"storage: {report['storage']} ({report['storage_backend']})",
    ]
    if "worker" in report:
        lines.append(
            f"worker: {report['worker']}"
            + (f" ({report['workers_alive']} alive)" if "workers_alive" in report else "")
        )
        for worker in report.get("workers", []):
            lines.append(
                f"  {worker['id']} on {worker['host']} pid {worker['pid']}, started {worker['started_at']}, "
                f"seen {_seconds(worker['seen_seconds_ago'])} ago"
            )
    queue = report.get("queue")
    if queue:
        lines.append(
            f"queue: {queue['pending']} waiting (oldest {_seconds(queue['oldest_pending_seconds'])}), "
            f"{queue['running']} running (oldest {_seconds(queue['oldest_running_seconds'])})"
        )
    if "dossiers_stalled" in report:
        lines.append(f"dossier builds stopped: {report['dossiers_stalled']}")
    lines.append(f"signing key: {report['signing_key']}")
    free = report.get("disk_free_bytes")
    lines.append(f"disk: {report['disk']}" + ("" if free is None else f" ({free // (1024 * 1024)} MB free)"))
    lines.extend(f"problem: {problem}" for problem in report["problems"])
    return "\n".join(lines)
