"""Check an export zip like a bundle: exit 0 and INTACT, or exit 1 and one MISMATCH line per problem
(every file against SHA256SUMS, every evidence file against its recorded SHA-256, the audit chain)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from privacy.verification import verify_export


class Command(BaseCommand):
    help = "Verify an export zip: SHA256SUMS, every evidence file's recorded SHA-256, and the audit chain."

    def add_arguments(self, parser):
        parser.add_argument("path", help="an export .zip")

    def handle(self, *args, path, **options):
        target = Path(path)
        if not target.is_file():
            raise CommandError(f"no such file: {path}")
        with target.open("rb") as handle:
            problems, facts = verify_export(handle)
        if problems:
            for problem in problems:
                self.stdout.write(self.style.ERROR(f"MISMATCH {problem}"))
            raise CommandError(f"{target.name}: {len(problems)} problem(s)", returncode=1)
        self.stdout.write(
            self.style.SUCCESS(
                f"INTACT {target.name}: {facts['files']} files match SHA256SUMS, {facts['evidence']} "
                f"evidence files as received, audit chain of {facts['events']} events verifies"
            )
        )
