"""Print new invite codes (SIGNUP_MODE=invite): one line each, to hand to the people you serve."""

from django.core.management.base import BaseCommand

from accounts.services import invite_create


class Command(BaseCommand):
    help = "Create invite codes for sign-up by invitation and print them, one a line."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--note", default="", help="who or what the codes are for (kept, not printed)")

    def handle(self, *args, count, note, **options):
        for code in invite_create(count=max(1, min(count, 1000)), note=note):
            self.stdout.write(code)
