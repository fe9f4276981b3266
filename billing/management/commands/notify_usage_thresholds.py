"""python manage.py notify_usage_thresholds [--as-of ISO] [--dry-run]

E-mails the admins of every account whose month's messages crossed 80% or 100% of the free messages or of the
extra-message cap, once a month per threshold (see billing/usage_notices.py). Run it after each usage sync.
"""

from django.core.management.base import BaseCommand

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from billing.usage_notices import usage_notices_send


class Command(BaseCommand):
    help = "E-mail admins when their month's messages cross 80% or 100% of the free messages or the cap."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)

    def handle(self, *args, **options):
        totals = usage_notices_send(as_of=parse_as_of(options["as_of"]), dry_run=options["dry_run"])
        verb = "would be told" if options["dry_run"] else "told"
        self.stdout.write(f"{totals.accounts} accounts {verb}; {totals.sent} e-mails recorded.")
