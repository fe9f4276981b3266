"""E-mail staff the e-invoice messages not yet uploaded whose deadline is tomorrow (or today), once per message."""

from django.core.management.base import BaseCommand

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from invoices.uploads import deadline_reminders_send


class Command(BaseCommand):
    help = (
        "E-mail staff (EINVOICE_REMINDER_EMAILS, else staff users with an e-mail) the MIG messages due for upload"
        " by tomorrow and not confirmed uploaded; each message once. Safe to rerun and on several hosts."
    )

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)

    def handle(self, *args, as_of, dry_run, **options):
        totals = deadline_reminders_send(as_of=parse_as_of(as_of), dry_run=dry_run)
        for message in totals.messages:
            verb = "would remind of" if dry_run else "reminded of"
            self.stdout.write(f"{verb} {message} (due {message.due_on.isoformat()})")
        if not dry_run and not totals.recipients:
            self.stderr.write("No staff e-mail address: set EINVOICE_REMINDER_EMAILS or give a staff user an e-mail.")
        self.stdout.write(f"{len(totals.messages)} message(s) {'due' if dry_run else 'reminded'}.")
