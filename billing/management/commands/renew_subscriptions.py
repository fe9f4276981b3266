"""python manage.py renew_subscriptions [--as-of ISO] [--dry-run] [--batch-size N] [--workers N] [--limit N]
[--report PATH] [--recover-after SECONDS]

Renews every subscription whose period has ended at the as-of time (default now), exactly once,
safe to run again or from several hosts at once (see the billing.renewals package).
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.command_options import add_as_of_and_dry_run, parse_as_of
from billing.renewals import (
    Totals,
    plans_by_pk,
    renewal_quotes,
    run_finish,
    run_start,
    subscriptions_due,
)
from billing.renewals.workers import recover_in_doubt, renew_due


class Command(BaseCommand):
    help = "Renew the subscriptions whose period has ended: charge, apply codes and downgrades, start new periods."

    def add_arguments(self, parser):
        add_as_of_and_dry_run(parser)
        parser.add_argument("--batch-size", type=int, default=500, help="Subscriptions fetched per round.")
        parser.add_argument("--workers", type=int, default=1, help="Renew with this many workers at once.")
        parser.add_argument("--limit", type=int, help="Renew at most this many subscriptions.")
        parser.add_argument("--report", help="Write a JSON report of the run to this path.")
        parser.add_argument(
            "--recover-after",
            type=int,
            default=120,
            help="Seconds after which a renewal left 'charging' (its run died) is read back "
            "from the gateway and settled.",
        )

    def handle(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        if options["batch_size"] < 1 or options["workers"] < 1:
            raise CommandError("--batch-size and --workers must be at least 1")
        if options["dry_run"]:
            return self.dry_run(as_of, limit=options["limit"], batch_size=options["batch_size"])
        totals = Totals()
        run = run_start(command="renew_subscriptions", as_of=as_of, dry_run=False)
        recover_in_doubt(as_of=as_of, totals=totals, recover_after=options["recover_after"])
        ids = list(subscriptions_due(as_of).order_by("pk").values_list("pk", flat=True)[: options["limit"]])
        with tqdm(total=len(ids), disable=not sys.stdout.isatty(), unit="sub") as bar:
            renew_due(
                ids,
                as_of=as_of,
                run=run,
                totals=totals,
                workers=options["workers"],
                batch_size=options["batch_size"],
                progress=bar.update,
            )
        run_finish(run, totals)
        self.summarise(totals, as_of)
        if options["report"]:
            with open(options["report"], "w", encoding="utf-8") as report:
                json.dump({"run": run.pk, "as_of": as_of.isoformat(), **totals.as_dict()}, report, indent=2)
        if totals.failures:  # declined, or a renewal that raised an error (logged)
            sys.exit(1)

    def dry_run(self, as_of, *, limit, batch_size):
        due = subscriptions_due(as_of).select_related("account", "plan").order_by("pk")[:limit]
        plans, total_twd, batch = plans_by_pk(), 0, []
        for subscription in due.iterator(chunk_size=batch_size):
            batch.append(subscription)
            if len(batch) == batch_size:
                total_twd += self.print_quotes(batch, as_of, plans)
                batch = []
        total_twd += self.print_quotes(batch, as_of, plans)
        self.stdout.write(f"Dry run as of {as_of.isoformat()}: NT${total_twd:,} would be charged; nothing changed.")

    def print_quotes(self, subscriptions, as_of, plans) -> int:
        if not subscriptions:
            return 0
        total_twd = 0
        for subscription, plan, quote in renewal_quotes(subscriptions, as_of=as_of, plans=plans):
            total_twd += quote.total_twd
            self.stdout.write(
                f"{subscription.account.basic_id:<22} {plan.code:<7} fee NT${quote.fee_twd:,} "
                f"deduction NT${quote.deduction_twd:,} extra NT${quote.extra_messages_twd:,} "
                f"total NT${quote.total_twd:,}"
            )
        return total_twd

    def summarise(self, totals: Totals, as_of) -> None:
        self.stdout.write(
            f"Renewed {totals.renewed:,} as of {as_of.isoformat()}: charged NT${totals.charged_twd:,}, "
            f"codes applied {totals.codes_applied:,} (forfeited NT${totals.forfeited_twd:,}), "
            f"failed {totals.failed:,}, skipped {totals.skipped:,}, pending {totals.pending:,}."
        )
        for failure in totals.failures[:20]:
            self.stderr.write(
                f"  failed: subscription {failure['subscription']} {failure['period']}: {failure['reason']}"
            )
