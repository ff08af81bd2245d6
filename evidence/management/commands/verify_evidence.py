"""Re-hash every stored evidence file and re-compute every audit chain; exit 1 naming each mismatch.

A file that cannot be read (missing, a missing version, access denied, a store that does not answer)
is one MISMATCH line and the run goes on. On a versioned object store, a key whose current version is
not the recorded one (written to or deleted since) is a WARNING line: the evidence is intact, because
every read uses the recorded version, but an operator should find out what touched the key. Warnings
leave the exit status 0 unless --strict is given (then 1, as for a mismatch).

Each owner's chain is also compared with the heads recorded outside the database (the evidence
store's write-once records, the last head stamped by a TSA), and every issued seal the store records
must be known to the database: a chain cut off at its end, or a restore from a backup taken before
something was issued, is a MISMATCH naming the owner, the missing seq numbers and the seals. After
restoring an earlier backup on purpose, `--acknowledge-restore "<why>"` records (write-once, in the
store) that those records describe what the backup never held: they are NOTE lines from then on."""

from django.core.management.base import BaseCommand, CommandError

from evidence.integrity import verify_store
from ledger.records import restore_acknowledge


class Command(BaseCommand):
    help = "Re-hash every stored evidence file and re-compute every owner's audit hash chain."

    def add_arguments(self, parser):
        parser.add_argument(
            "--strict",
            action="store_true",
            help="exit 1 on warnings too (a versioned key written to or deleted after the evidence arrived)",
        )
        parser.add_argument(
            "--acknowledge-restore",
            metavar="REASON",
            default="",
            help="after restoring an earlier backup on purpose: record that the seals and chain heads the "
            "database has forgotten describe what the backup never held (NOTE lines from then on)",
        )

    def handle(self, *args, strict=False, acknowledge_restore="", **options):
        report = verify_store()
        if acknowledge_restore.strip() and report.forgotten:
            name = restore_acknowledge(names=report.forgotten, reason=acknowledge_restore.strip())
            self.stdout.write(
                f"ACKNOWLEDGED {len(set(report.forgotten))} record(s) the database forgot in a restore ({name})"
            )
            report = verify_store()
        self.stdout.write(f"evidence files checked: {report.files_checked}")
        self.stdout.write(f"audit chains checked: {report.owners_checked} ({report.events_checked} events)")
        self.stdout.write(
            f"records outside the database checked: {report.heads_checked} chain head(s), "
            f"{report.records_checked} issued seal(s)"
        )
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
