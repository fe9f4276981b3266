"""python manage.py reconcile_payments [--as-of ISO] [--dry-run] [--older-than SECONDS]

Settles the charges left pending (a gateway time-out, a process that died) from what the gateway
says it did with each order: never guessed. A renewal the gateway never saw is charged now; a
checkout it never saw is marked failed, since the admin is no longer there to confirm it.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing.checkout import checkout_reconcile
from billing.management.commands._options import add_as_of_and_dry_run, parse_as_of
from billing.models import Checkout, CheckoutStatus
from billing.renewals import Totals, renewal_recover, renewals_in_doubt


class Command(BaseCommand):
    help = "Settle pending charges from the gateway's own record of each order."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)
        parser.add_argument("--older-than", type=int, default=120,
                            help="Only charges pending for more than this many seconds.")  # fmt: skip

    def handle(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        cutoff = timezone.now() - timedelta(seconds=options["older_than"])
        renewals = list(renewals_in_doubt(older_than=cutoff))
        checkouts = list(Checkout.objects.filter(status=CheckoutStatus.PROCESSING, updated_at__lt=cutoff))
        if options["dry_run"]:
            self.stdout.write(f"Dry run: {len(renewals)} renewal and {len(checkouts)} checkout charges pending; "
                              "nothing changed.")  # fmt: skip
            return
        totals = Totals()
        for renewal in renewals:
            renewal_recover(renewal=renewal, as_of=as_of, totals=totals)
        settled = sum(checkout_reconcile(checkout=checkout) for checkout in checkouts)
        self.stdout.write(f"Reconciled {len(renewals)} renewals (renewed {totals.renewed}, failed {totals.failed}, "
                          f"still pending {totals.pending}) and {settled} of {len(checkouts)} checkouts.")  # fmt: skip
