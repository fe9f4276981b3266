"""python manage.py reconcile_payments [--as-of ISO] [--dry-run] [--older-than SECONDS]

Settles the charges and refunds left pending (a gateway time-out, a process that died) from what the
gateway says it did with each: never guessed. A renewal the gateway never saw is charged now; a
checkout it never saw is marked failed, since the admin is no longer there to confirm it; a refund it
never saw is marked refused (nothing was given back), so staff may refund again.

Age is measured from the charge's (or refund's) creation, and may not be shorter than the longest a
gateway call can take (GATEWAY_CONNECT_TIMEOUT_SECONDS + GATEWAY_TIMEOUT_SECONDS): a payment still
waiting for its answer is never read back as absent and charged or failed behind the request's back.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from billing.checkout import checkout_reconcile
from billing.models import Checkout, CheckoutStatus
from billing.refunds import refund_reconcile
from billing.renewals import Totals, renewal_recover, renewals_in_doubt
from payments.models import Refund, RefundStatus


def gateway_worst_case_seconds() -> int:
    """The longest one gateway call may take before our side gives up on its answer."""
    return int(settings.GATEWAY_CONNECT_TIMEOUT_SECONDS + settings.GATEWAY_TIMEOUT_SECONDS) + 1


class Command(BaseCommand):
    help = "Settle pending charges and refunds from the gateway's own record of each."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)
        parser.add_argument("--older-than", type=int, default=120,
                            help="Only charges and refunds created more than this many seconds ago (at least the "
                                 "gateways' time-outs added up).")  # fmt: skip

    def handle(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        floor = gateway_worst_case_seconds()
        if options["older_than"] < floor:
            raise CommandError(f"--older-than must be at least {floor} seconds: a charge younger than the gateways' "
                               "time-outs may still get its answer.")  # fmt: skip
        cutoff = timezone.now() - timedelta(seconds=options["older_than"])
        renewals = list(renewals_in_doubt(older_than=cutoff).filter(charge__created_at__lt=cutoff))
        checkouts = list(
            Checkout.objects.filter(status=CheckoutStatus.PROCESSING, charge__created_at__lt=cutoff)
            .select_related("charge__payment_method")
        )  # fmt: skip
        refunds = list(
            Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=cutoff)
            .select_related("charge__payment_method", "charge__account")
        )  # fmt: skip
        if options["dry_run"]:
            self.stdout.write(f"Dry run: {len(renewals)} renewal and {len(checkouts)} checkout charges and "
                              f"{len(refunds)} refunds pending; nothing changed.")  # fmt: skip
            return
        totals = Totals()
        for renewal in renewals:
            renewal_recover(renewal=renewal, as_of=as_of, totals=totals)
        settled = sum(checkout_reconcile(checkout=checkout) for checkout in checkouts)
        refunds_settled = sum(refund_reconcile(refund=refund) for refund in refunds)
        self.stdout.write(f"Reconciled {len(renewals)} renewals (renewed {totals.renewed}, failed {totals.failed}, "
                          f"still pending {totals.pending}), {settled} of {len(checkouts)} checkouts and "
                          f"{refunds_settled} of {len(refunds)} refunds.")  # fmt: skip
