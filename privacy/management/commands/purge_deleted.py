"""Destroy the stored blobs of deleted accounts, cases and expired exports whose time has come.
The database task backend queues this work for its moment by itself; schedule this command daily
from cron as well (or alone, on a backend that cannot defer). Safe to run twice."""

from django.core.management.base import BaseCommand

from privacy.building import housekeeping_step


class Command(BaseCommand):
    help = "Destroy blobs of deletions whose retention has ended, and exports past EXPORT_KEEP_DAYS."

    def handle(self, *args, **options):
        self.stdout.write(housekeeping_step())
