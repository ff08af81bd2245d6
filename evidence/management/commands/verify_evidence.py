"""Re-hash every stored evidence file and re-compute every audit chain; exit 1 naming each mismatch."""

from django.core.management.base import BaseCommand, CommandError

from evidence.integrity import verify_store


class Command(BaseCommand):
    help = "Re-hash every stored evidence file and re-compute every owner's audit hash chain."

    def handle(self, *args, **options):
        report = verify_store()
        self.stdout.write(f"evidence files checked: {report.files_checked}")
        self.stdout.write(f"audit chains checked: {report.owners_checked} ({report.events_checked} events)")
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS("OK: every file matches its SHA-256 and every chain links up.")
            )
            return
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"MISMATCH {problem}"))
        raise CommandError(f"{len(report.problems)} problem(s) found", returncode=1)
