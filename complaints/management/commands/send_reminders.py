"""Send the reply-deadline reminders that are due, each exactly once (complaints/followup.py). Every
`manage.py worker` already runs this every FOLLOWUP_REMINDER_SECONDS; run it from cron where no
worker runs. Safe to run from several places at once and as often as you like.

    */10 * * * *  cd /srv/app && .venv/bin/python manage.py send_reminders

`--now` measures the deadlines against another time (a demonstration, or a test moving the clock).
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from complaints.followup import reminders_send


class Command(BaseCommand):
    help = "Send the complaint reply-deadline reminders that are due (each once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--now", help="ISO time to measure deadlines against instead of the real time")

    def handle(self, *args, **options):
        at = None
        if options["now"]:
            at = parse_datetime(options["now"])
            if at is None:
                raise CommandError("--now: give an ISO time such as 2026-04-01T09:00:00+08:00")
            if timezone.is_naive(at):
                at = timezone.make_aware(at)
        run = reminders_send(at=at)
        self.stdout.write(f"reminders sent: {len(run.sent)}; already sent: {run.skipped}")
        for complaint, kind, reason in run.failed:
            self.stderr.write(
                f"reminder {kind} for complaint {complaint} not sent (tried again next run): {reason}"
            )
