"""Show trusted-timestamp batches waiting for a TSA, and (with --run) stamp now.

Exit 0 when nothing is stuck; exit 1 when a pending batch has a failed attempt, so monitoring can
alert on it like `manage.py status`.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from stamps.selectors import pending_batches, stamp_facts
from stamps.services import stamp_due


class Command(BaseCommand):
    help = (
        "List trusted-timestamp batches waiting for a token (TSA_URLS); --run seals what waits and "
        "tries every pending batch now, whatever its back-off says."
    )

    def add_arguments(self, parser):
        parser.add_argument("--run", action="store_true", help="seal and stamp now")

    def handle(self, *args, run=False, **options):
        if run:
            self.stdout.write(f"run: {stamp_due(force=True).describe()}")
        now = timezone.now()
        facts = stamp_facts(now)
        if not facts["configured"]:
            self.stdout.write("No TSA configured (TSA_URLS): evidence is not independently timestamped.")
        else:
            self.stdout.write(
                f"TSAs, tried in order: {', '.join(facts['tsa_urls'])}; "
                f"their certificates must chain to a CA of: {facts['trusted_cas']}"
            )
        self.stdout.write(
            f"hashes waiting for a batch: {facts['waiting_hashes']}; pending batches: {facts['pending_batches']}; "
            f"last stamp: {facts['last_stamped_at'] or 'never'}"
            + (f" by {facts['last_tsa']}" if facts["last_tsa"] else "")
        )
        stuck = 0
        for batch in pending_batches():
            retry = (
                "now" if not batch.next_try_at or batch.next_try_at <= now else batch.next_try_at.isoformat()
            )
            self.stdout.write(
                f"PENDING batch {batch.pk}: {batch.leaf_count} hash(es), sealed {batch.sealed_at.isoformat()}, "
                f"{batch.attempts} attempt(s), next try {retry}"
                + (f", last error: {batch.last_error}" if batch.last_error else "")
            )
            stuck += bool(batch.last_error)
        if stuck:
            raise CommandError(f"{stuck} batch(es) could not be stamped yet", returncode=1)
