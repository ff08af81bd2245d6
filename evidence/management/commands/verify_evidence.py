"""Re-hash every stored evidence file and re-compute every audit chain; exit 1 naming each mismatch.

A file that cannot be read (missing, a missing version, access denied, a store that does not answer)
is one MISMATCH line and the run goes on. On a versioned object store, a key whose current version is
not the recorded one (written to or deleted since) is a WARNING line: the evidence is intact, because
every read uses the recorded version, but an operator should find out what touched the key. Warnings
leave the exit status 0 unless --strict is given (then 1, as for a mismatch)."""

from django.core.management.base import BaseCommand, CommandError

from evidence.integrity import verify_store


class Command(BaseCommand):
    help = "Re-hash every stored evidence file and re-compute every owner's audit hash chain."

    def add_arguments(self, parser):
        parser.add_argument(
            "--strict",
            action="store_true",
            help="exit 1 on warnings too (a versioned key written to or deleted after the evidence arrived)",
        )

    def handle(self, *args, strict=False, **options):
        report = verify_store()
        self.stdout.write(f"evidence files checked: {report.files_checked}")
        self.stdout.write(f"audit chains checked: {report.owners_checked} ({report.events_checked} events)")
        for note in report.notes:
            self.stdout.write(f"NOTE {note}")
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"WARNING {warning}"))
        if report.ok and report.warnings and strict:
            raise CommandError(
                f"every file matches and every chain links up, but {len(report.warnings)} warning(s) "
                f"(--strict)",
                returncode=1,
            )
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS("OK: every file matches its SHA-256 and every chain links up.")
            )
            if report.warnings:
                self.stdout.write(
                    self.style.WARNING(f"{len(report.warnings)} warning(s): see the WARNING lines")
                )
            return
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"MISMATCH {problem}"))
        raise CommandError(f"{len(report.problems)} problem(s) found", returncode=1)
