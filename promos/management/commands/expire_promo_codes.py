"""python manage.py expire_promo_codes [--as-of ISO] [--dry-run]

Marks expired the codes still available or registered after their campaign's window. Idempotent.
"""

from django.core.management.base import BaseCommand

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from promos.services import promo_codes_expire


class Command(BaseCommand):
    help = "Expire the promo codes whose campaign window has closed."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)

    def handle(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        counts = promo_codes_expire(as_of=as_of, dry_run=options["dry_run"])
        verb = "would expire" if options["dry_run"] else "expired"
        self.stdout.write(
            f"As of {as_of.isoformat()}: {verb} {counts['available']:,} available and "
            f"{counts['registered']:,} registered codes."
        )
