"""python manage.py bill_extra_messages [--as-of ISO] [--dry-run]

Charges the extra messages of each month whose renewal went without them (LINE's figure for the month was
not final yet) once the figure is final: each month on its own charge, with its own invoice. A declined
charge is tried again on the next run, up to four attempts. Safe to run twice or on several hosts: a month
has one bill, claimed under its account's lock, and each attempt has its own order ID.
"""

import logging
import sys

from django.core.management.base import BaseCommand

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from billing.extra_messages import BillTotals, extra_message_bills_due, extra_messages_bill

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Charge the extra messages of months whose final figure came after their renewal."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)

    def handle(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        due = list(extra_message_bills_due().select_related("account"))
        if options["dry_run"]:
            for bill in due:
                self.stdout.write(
                    f"would bill {bill.account.basic_id} {bill.month:%Y-%m} (attempt {bill.attempts + 1})"
                )
            self.stdout.write(f"Dry run: {len(due)} months of extra messages due; nothing changed.")
            return
        totals = BillTotals()
        for bill in due:  # each on its own: one that fails (logged) waits for the next run, the others go on
            try:
                extra_messages_bill(bill_id=bill.pk, as_of=as_of, totals=totals)
            except Exception:  # noqa: BLE001
                logger.exception("billing the extra messages of bill %s failed", bill.pk)
                totals.failed += 1
        self.stdout.write(
            f"Extra messages of {len(due)} months: billed {totals.billed} (NT${totals.charged_twd:,}), "
            f"nothing to bill {totals.nothing}, failed {totals.failed}, pending {totals.pending}, "
            f"skipped {totals.skipped}."
        )
        if totals.failed:
            sys.exit(1)
