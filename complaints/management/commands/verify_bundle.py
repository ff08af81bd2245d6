"""Check a dossier bundle (zip) or PDF: exit 0 when intact, else exit 1 with one line per problem."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from complaints.verification import VerificationRefused, verify_upload


class Command(BaseCommand):
    help = "Verify a dossier bundle zip or dossier PDF: signature, seal, manifest and every evidence file."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a bundle .zip or a dossier .pdf")

    def handle(self, *args, path, **options):
        target = Path(path)
        if not target.is_file():
            raise CommandError(f"no such file: {path}")
        with target.open("rb") as handle:
            try:
                verdict = verify_upload(handle)
            except VerificationRefused as refused:
                # The same limits as the public page: a bomb costs this process no more than the web one.
                self.stdout.write(self.style.ERROR(f"REFUSED {refused.message}"))
                raise CommandError(
                    f"{target.name} was not checked: it is past a verification limit "
                    f"(the VERIFY_MAX_* settings)",
                    returncode=1,
                ) from None
        if verdict.valid:
            dossier = verdict.dossier
            self.stdout.write(
                self.style.SUCCESS(
                    f"INTACT: {target.name} is dossier {dossier.number}, seal {dossier.seal}; signature valid; "
                    f"{verdict.files_checked} evidence file(s) match."
                )
            )
            return
        for problem in verdict.problems or ["not verified"]:
            self.stdout.write(self.style.ERROR(f"PROBLEM {problem}"))
        raise CommandError(f"{len(verdict.problems)} problem(s) in {target.name}", returncode=1)
