"""Start again the dossier builds that stopped (a worker killed part way) or lost their queue entry.

The same sweep `manage.py worker` runs by itself every DOSSIER_SWEEP_SECONDS; this command runs it
now. It never queues a build twice: a dossier already queued, or being built (its heartbeat fresh),
is left alone, so running it twice, or beside a worker, is harmless."""

from django.core.management.base import BaseCommand

from complaints.services import dossier_sweep


class Command(BaseCommand):
    help = (
        "Queue again dossier builds whose heartbeat stopped (after DOSSIER_STALL_SECONDS, or at once "
        "when their worker is down), and pending ones whose queue entry is lost."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stall-seconds",
            type=float,
            default=None,
            help="a running build whose heartbeat has not moved this long has stopped "
            "(default: DOSSIER_STALL_SECONDS)",
        )
        parser.add_argument(
            "--minutes",
            type=float,
            default=None,
            help="the same in minutes (kept for existing cron lines)",
        )
        parser.add_argument(
            "--include-failed",
            action="store_true",
            help="also queue failed builds again (with a fresh count of attempts)",
        )

    def handle(self, *args, stall_seconds, minutes, include_failed, **options):
        if stall_seconds is None and minutes is not None:
            stall_seconds = minutes * 60
        report = dossier_sweep(stall_seconds=stall_seconds, include_failed=include_failed)
        for number in report.requeued:
            self.stdout.write(f"re-enqueued {number}")
        for number in report.failed:
            self.stdout.write(f"failed {number}: the build stopped too often")
        if report.orphaned_tasks:
            self.stdout.write(f"{report.orphaned_tasks} task(s) left running by a dead worker marked failed")
        if report.duplicates:
            self.stdout.write(f"{report.duplicates} duplicate queue entr(y/ies) marked failed")
        self.stdout.write(f"{len(report.requeued)} dossier build(s) re-enqueued")
