"""python manage.py send_billing_reminders [--as-of ISO] [--dry-run]

E-mails each account's admins, in their language, what they should know before the renewal on the 1st: 7
days before, what the registered code will do (or that it expires unused) and a main card that expires
first; 3 days before, a LINE Pay registration that LINE Pay no longer accepts. Each reminder once: safe to
rerun daily and on several hosts at once.
"""

from django.core.management.base import BaseCommand

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from billing.reminders import reminders_send


class Command(BaseCommand):
    help = "E-mail the admins what they should know before the next renewal (code, card, LINE Pay), once each."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)

    def handle(self, *args, **options):
        totals = reminders_send(as_of=parse_as_of(options["as_of"]), dry_run=options["dry_run"])
        for basic_id, kind in totals.due:
            self.stdout.write(f"{'would remind' if options['dry_run'] else 'reminded'} {basic_id}: {kind}")
        verb = "would be sent" if options["dry_run"] else "sent"
        self.stdout.write(
            f"{len(totals.due)} reminders {verb}"
            + (f"; {totals.check_failed} LINE Pay checks got no answer" if totals.check_failed else "")
            + "."
        )
