"""python manage.py sync_message_usage [--date D | --month YYYY-MM] [--account ID] [--workers N] [--dry-run]

Reads each connected channel's usage from LINE's Messaging API (see usage/sync.py): by default yesterday's
deliveries by kind and this month's billed total; `--date` one day; `--month` every day of a month up to yesterday
(and its total, if it is this month). Safe to run again and on several hosts at once. Exits 1 when a channel
could not be read.
"""

import sys
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from accounts.periods import local_date, month_start
from usage.sync import connected_channels, days_of, sync_all


class Command(BaseCommand):
    help = "Read the connected channels' message usage from LINE's Messaging API."

    def add_arguments(self, parser):
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--date", help="One day, YYYY-MM-DD (default: yesterday).")
        when.add_argument("--month", help="Every day of a month, YYYY-MM, up to yesterday.")
        parser.add_argument("--account", type=int, help="Only this official account (its ID).")
        parser.add_argument(
            "--workers",
            type=int,
            default=4,
            help="Calls to LINE in flight at once, one reader thread each (default 4).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Read, but write nothing.")

    def handle(self, *args, date, month, account, workers, dry_run, **options):
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        today = local_date(timezone.now())
        this_month = month_start(today)
        if month:
            first = self.parse(month, "%Y-%m", "--month YYYY-MM")
            days, total_of = days_of(first, today), (first if first == this_month else None)
        elif date:
            days, total_of = [self.parse(date, "%Y-%m-%d", "--date YYYY-MM-DD")], None
        else:
            days, total_of = [today - timedelta(days=1)], this_month
        channels = connected_channels(account)
        with tqdm(total=len(channels), disable=not sys.stdout.isatty(), unit="channel") as bar:
            totals = sync_all(
                channels, days=days, month=total_of, workers=workers, dry_run=dry_run, progress=bar.update
            )
        self.stdout.write(
            f"{totals.channels} channels read ({len(days)} days each), {totals.figures_changed} figures changed"
            f"{' (dry run: none written)' if dry_run else ''}, {totals.skipped} held by another run, "
            f"{totals.disconnected} disconnected (LINE refused the token), {len(totals.failed)} failed."
        )
        for failure in totals.failed[:20]:
            self.stderr.write(f"  failed: {failure}")
        if totals.failed:
            sys.exit(1)

    @staticmethod
    def parse(text: str, pattern: str, what: str):
        try:
            return datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            raise CommandError(f"{text!r} is not {what}") from None
