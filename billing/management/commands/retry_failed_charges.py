"""python manage.py retry_failed_charges [--as-of ISO] [--dry-run]

Charges again the renewals that failed and whose retry day has come (BILLING_RETRY_DAYS, by default
the 1st, 3rd, 5th and 7th); after the last failure the account falls to the Light plan. Safe to run
twice or in parallel: a retry is claimed with SKIP LOCKED and each attempt has its own order ID.
"""

import sys

from django.core.management.base import BaseCommand

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from billing.renewals import Totals, renewal_retry, retries_due, run_finish, run_start


class Command(BaseCommand):
    help = "Retry the failed renewal charges whose retry day has come; downgrade after the last one."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)

    def handle(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        due = list(retries_due(as_of).select_related("subscription__account").order_by("pk"))
        if options["dry_run"]:
            for renewal in due:
                self.stdout.write(
                    f"would retry {renewal.subscription.account.basic_id} {renewal.period_start:%Y-%m} "
                    f"(attempt {renewal.attempts + 1})"
                )
            self.stdout.write(f"Dry run: {len(due)} retries due; nothing changed.")
            return
        run = run_start(command="retry_failed_charges", as_of=as_of, dry_run=False)
        totals = Totals()
        for renewal in due:
            renewal_retry(renewal_id=renewal.pk, as_of=as_of, totals=totals)
        run_finish(run, totals)
        self.stdout.write(
            f"Retried {len(due)}: renewed {totals.renewed}, charged NT${totals.charged_twd:,}, "
            f"failed {totals.failed}, skipped {totals.skipped}, pending {totals.pending}."
        )
        if totals.failed:
            sys.exit(1)
