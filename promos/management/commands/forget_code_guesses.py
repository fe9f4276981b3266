"""python manage.py forget_code_guesses [--as-of ISO] [--dry-run]

Deletes the wrong code guesses older than the throttle's window: they no longer count. Idempotent.
"""

from django.core.management.base import BaseCommand

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from promos.throttle import code_guesses_forget


class Command(BaseCommand):
    help = "Forget the wrong promo code guesses that no longer count towards the limit."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)

    def handle(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        count = code_guesses_forget(as_of=as_of, dry_run=options["dry_run"])
        verb = "would forget" if options["dry_run"] else "forgot"
        self.stdout.write(f"As of {as_of.isoformat()}: {verb} {count:,} wrong code guesses.")
