"""Close an ended two-month period: fix and record its blank numbers (E0402), close its ranges for good."""

from django.core.management.base import BaseCommand, CommandError

from accounts.command_options import parse_as_of
from accounts.errors import ServiceError
from invoices.closing import invoice_period_close


class Command(BaseCommand):
    help = (
        "Close an ended period: record its blank numbers for E0402 and close its number ranges, so no number"
        " reported blank is ever issued. Closing again with the same blanks changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="ROC year + even month, e.g. 11502")
        parser.add_argument("--as-of", help="Act as of this time (ISO; Asia/Taipei when no offset). Default: now.")

    def handle(self, *args, period, as_of, **options):
        try:
            closing, closed_now = invoice_period_close(period=period, actor=None, at=parse_as_of(as_of))
        except ServiceError as error:
            raise CommandError(str(error.message)) from None
        runs = list(closing.blank_runs.order_by("prefix", "first_number"))
        for run in runs:
            self.stdout.write(f"blank {run} ({run.count})")
        verb = "closed" if closed_now else "was already closed, with the same blanks"
        self.stdout.write(f"Period {period} {verb}: {len(runs)} blank run(s), {sum(r.count for r in runs)} number(s).")
