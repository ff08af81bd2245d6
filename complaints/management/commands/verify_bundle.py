"""Check a dossier bundle (zip) or PDF: exit 0 when intact, else exit 1 with one line per problem.

It never creates a signing key: on an installation without one it says so and exits 1. Dossiers
signed by a retired key (manage.py rotate_signing_key) verify, and the verdict names the key.
It never prints a traceback: pyHanko logs each certificate path it cannot build (the TSA of the
signature's timestamp, a token outside the kept chain) as a warning with one, and the verdict
already names every problem, so while the command runs pyHanko's warnings are left out and its
errors are one line each."""

import logging
import zipfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from complaints.signing import check_signature, has_signing_certificate, no_key_message
from complaints.verification import VerificationRefused, verify_upload
from stamps.tsa import pyhanko_one_line


def signed_by(target: Path) -> str:
    """Which of this installation's keys signed the dossier (its PDF already checked and intact)."""
    with target.open("rb") as handle:
        if handle.read(5) == b"%PDF-":
            handle.seek(0)
            data = handle.read()
        else:
            with zipfile.ZipFile(target) as bundle:
                data = bundle.read("dossier.pdf")
    key = check_signature(data).signed_by
    return key.describe() if key else "an unknown key"


class Command(BaseCommand):
    help = "Verify a dossier bundle zip or dossier PDF: signature, seal, manifest and every evidence file."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a bundle .zip or a dossier .pdf")

    def handle(self, *args, path, **options):
        with pyhanko_one_line(below=logging.ERROR):
            self.verify(path)

    def verify(self, path: str) -> None:
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
        if not has_signing_certificate():
            # Checked after the limits (a bomb is refused first) and never by creating a key.
            self.stdout.write(self.style.ERROR(f"NO KEY {no_key_message()}"))
            for problem in verdict.problems:
                if no_key_message() not in problem:
                    self.stdout.write(self.style.ERROR(f"PROBLEM {problem}"))
            raise CommandError(
                f"{target.name}: the signature was not checked: {no_key_message()}", returncode=1
            )
        if verdict.valid:
            dossier = verdict.dossier
            self.stdout.write(
                self.style.SUCCESS(
                    f"INTACT: {target.name} is dossier {dossier.number}, seal {dossier.seal}; signature valid, "
                    f"made by {signed_by(target)}; {verdict.files_checked} evidence file(s) match."
                )
            )
            return
        for problem in verdict.problems or ["not verified"]:
            self.stdout.write(self.style.ERROR(f"PROBLEM {problem}"))
        raise CommandError(f"{len(verdict.problems)} problem(s) in {target.name}", returncode=1)
