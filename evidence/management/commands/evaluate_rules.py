"""Re-evaluate every case against its rule pack, e.g. after a pack file was edited or added."""

from django.core.management.base import BaseCommand

from evidence.findings import case_violations_refresh
from evidence.models import Case


class Command(BaseCommand):
    help = "Re-evaluate every case (or the given case ids) against its rule pack and store the findings."

    def add_arguments(self, parser):
        parser.add_argument("case_ids", nargs="*", type=int)

    def handle(self, *args, case_ids, **options):
        cases = Case.objects.select_related("owner").order_by("pk")
        if case_ids:
            cases = cases.filter(pk__in=case_ids)
        for case in cases:
            summary = case_violations_refresh(case=case)
            total = sum(summary.values())
            self.stdout.write(f"case {case.pk} ({case.rule_pack}): {total} finding(s) {summary}")
