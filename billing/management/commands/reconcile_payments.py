"""python manage.py reconcile_payments [--as-of ISO] [--dry-run] [--older-than SECONDS]

Settles the charges and refunds left pending (a gateway time-out, a process that died) from what the
gateway says it did with each (see billing/reconciliation.py).

Age is measured from the charge's (or refund's) creation, and may not be shorter than the longest a
gateway call can take (GATEWAY_CONNECT_TIMEOUT_SECONDS + GATEWAY_TIMEOUT_SECONDS): a payment still
waiting for its answer is never read back as absent and charged or failed behind the request's back.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from billing.reconciliation import gateway_worst_case_seconds, payments_in_doubt, payments_reconcile


class Command(BaseCommand):
    help = "Settle pending charges and refunds from the gateway's own record of each."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)
        parser.add_argument(
            "--older-than",
            type=int,
            default=120,
            help="Only charges and refunds created more than this many seconds ago (at least the "
            "gateways' time-outs added up).",
        )

    def handle(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        floor = gateway_worst_case_seconds()
        if options["older_than"] < floor:
            raise CommandError(
                f"--older-than must be at least {floor} seconds: a charge younger than the gateways' "
                "time-outs may still get its answer."
            )
        in_doubt = payments_in_doubt(created_before=timezone.now() - timedelta(seconds=options["older_than"]))
        renewals, checkouts, refunds = len(in_doubt.renewals), len(in_doubt.checkouts), len(in_doubt.refunds)
        bills = len(in_doubt.extra_message_bills)
        if options["dry_run"]:
            self.stdout.write(
                f"Dry run: {renewals} renewal, {checkouts} checkout and {bills} extra-message charges and "
                f"{refunds} refunds pending; nothing changed."
            )
            return
        done = payments_reconcile(in_doubt, as_of=as_of)
        totals, settled_bills = done.renewals, done.extra_messages.billed + done.extra_messages.failed
        self.stdout.write(
            f"Reconciled {renewals} renewals (renewed {totals.renewed}, failed {totals.failed}, "
            f"still pending {totals.pending}), {done.checkouts} of {checkouts} checkouts and "
            f"{done.refunds} of {refunds} refunds, {settled_bills} of {bills} extra-message charges."
        )
