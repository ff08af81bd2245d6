"""Start again the dossier builds that failed or were interrupted (a worker killed part way)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from complaints.models import Dossier, DossierStatus
from complaints.services import dossier_retry


class Command(BaseCommand):
    help = "Re-enqueue dossier builds that failed, or have been pending/running for longer than --minutes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--minutes",
            type=int,
            default=30,
            help="how long a build may run before it is considered interrupted (default 30)",
        )
        parser.add_argument("--include-failed", action="store_true", help="also retry failed builds")

    def handle(self, *args, minutes, include_failed, **options):
        cutoff = timezone.now() - timedelta(minutes=minutes)
        stuck = Dossier.objects.filter(
            status__in=[DossierStatus.PENDING, DossierStatus.RUNNING], created_at__lt=cutoff
        )
        if include_failed:
            stuck = stuck | Dossier.objects.filter(status=DossierStatus.FAILED)
        count = 0
        for dossier in stuck.order_by("pk"):
            dossier_retry(dossier=dossier)
            count += 1
            self.stdout.write(f"re-enqueued {dossier.number}")
        self.stdout.write(f"{count} dossier build(s) re-enqueued")
