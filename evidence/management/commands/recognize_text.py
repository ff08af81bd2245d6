"""Read the text of images again, or of those never read: `manage.py recognize_text [--evidence N] [--redo]`.

Runs in this process (it loads the OCR engine); each result is stored and audited like the worker's.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from evidence.recognition import images_to_read, text_recognize


class Command(BaseCommand):
    help = "Read the text of images kept as evidence (OCR): those not yet read, or all with --redo."

    def add_arguments(self, parser):
        parser.add_argument("--evidence", type=int, help="only this evidence id")
        parser.add_argument("--redo", action="store_true", help="read again images already read")

    def handle(self, *args, evidence=None, redo=False, **options):
        images = images_to_read(evidence_id=evidence, redo=redo)
        if evidence is not None and not images.exists():
            raise CommandError(f"no image with evidence id {evidence}")
        counts = {"done": 0, "failed": 0}
        for evidence_id in images.values_list("pk", flat=True).iterator():
            row = text_recognize(evidence_id=evidence_id, redo=redo or evidence is not None)
            if row is None:
                continue
            counts[row.status] = counts.get(row.status, 0) + 1
            line = f"{evidence_id}: {row.status}"
            if row.error:
                line += f" ({row.error})"
            self.stdout.write(line)
        self.stdout.write(f"read {counts['done']}, failed {counts['failed']}")
        if counts["failed"]:
            raise SystemExit(1)
