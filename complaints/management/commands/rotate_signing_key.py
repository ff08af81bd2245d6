"""Replace the installation's dossier signing key; dossiers signed before still verify.

The old certificate moves to DOSSIER_SIGNING_DIR/retired/<sha256 fingerprint>-cert.pem and stays
trusted by verify_bundle, /verify/ and the API; the old private key is deleted (checking a signature
needs only the certificate, and a retired key left on disk could still sign dossiers that verify).
With --compromised the old certificate goes to revoked/ instead and is no longer trusted: dossiers it
signed stop verifying and should be reissued. Stop the workers first: a build running while the key
changes could pair the old certificate with the new key.
"""

from django.core.management.base import BaseCommand, CommandError

from complaints.models import Dossier, DossierStatus
from complaints.signing import rotate_signing_identity, signing_dir


class Command(BaseCommand):
    help = (
        "Replace the dossier signing key. The old certificate is kept in DOSSIER_SIGNING_DIR/retired/ "
        "(still trusted) or, with --compromised, in revoked/ (no longer trusted); the old private key "
        "is deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--compromised",
            action="store_true",
            help="the old key may have leaked: stop trusting its certificate (its dossiers stop verifying)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="rotate even while dossier builds are running",
        )

    def handle(self, *args, compromised, force, **options):
        running = Dossier.objects.filter(status=DossierStatus.RUNNING).count()
        if running and not force:
            raise CommandError(
                f"{running} dossier build(s) are running; stop the workers (or wait) and run this "
                f"again, or pass --force",
                returncode=1,
            )
        rotation = rotate_signing_identity(compromised=compromised)
        if rotation.old_fingerprint is None:
            self.stdout.write(f"there was no signing key in {signing_dir()}")
        elif compromised:
            self.stdout.write(
                f"old key {rotation.old_fingerprint}: private key deleted; certificate kept at "
                f"{rotation.kept_at}, NOT trusted: dossiers it signed no longer verify (reissue them)"
            )
        else:
            self.stdout.write(
                f"old key {rotation.old_fingerprint}: private key deleted; certificate kept at "
                f"{rotation.kept_at}, still trusted: dossiers it signed still verify"
            )
        self.stdout.write(
            self.style.SUCCESS(f"new signing key {rotation.new_fingerprint} in {signing_dir()}; back it up")
        )
