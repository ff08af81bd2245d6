"""`manage.py backfill`: after an upgrade, queue every file without a trusted timestamp (stamped
"at upgrade") and every image never read. The worker does the same on its own, a slice every
BACKFILL_SECONDS; this runs it to the end at once. Safe to repeat."""

from django.core.management.base import BaseCommand

from complaints.backfill import upgrade_backfill


class Command(BaseCommand):
    help = "Queue files without a trusted timestamp and images never read (after an upgrade)."

    def handle(self, *args, **options):
        total_stamped = total_read = 0
        while True:
            run = upgrade_backfill()
            total_stamped += run.stamped
            total_read += run.to_read
            if not run.stamped and not run.to_read:
                break
        self.stdout.write(
            f"queued for a trusted timestamp: {total_stamped}; images queued to be read: {total_read}"
        )
