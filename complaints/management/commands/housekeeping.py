"""Housekeeping in one command, for cron where no `manage.py worker` runs it (every worker already
does, every HOUSEKEEPING_SECONDS): expired resumable uploads (`cleanup_uploads`, when installed),
finished task results older than TASK_RESULTS_KEEP_DAYS (`prune_db_task_results`), expired sessions
(`clearsessions`), workers long gone, and the sweep for stopped dossier builds. A lease in the
database lets one run at a time do the work; another started meanwhile does nothing and says so.

    */15 * * * *  cd /srv/app && .venv/bin/python manage.py housekeeping
"""

from django.core.management.base import BaseCommand

from complaints.housekeeping import housekeeping


class Command(BaseCommand):
    help = "Clean up expired uploads, old task results and sessions; retry stopped dossier builds."

    def handle(self, *args, **options):
        results = housekeeping()
        if results is None:
            self.stdout.write("housekeeping is already running elsewhere; nothing done")
            return
        for step, outcome in results.items():
            self.stdout.write(f"{step}: {outcome}")
        if any(outcome.startswith("error") for outcome in results.values()):
            raise SystemExit(1)
