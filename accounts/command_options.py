"""Options shared by the billing commands that cron runs."""

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.periods import BILLING_TZ


def add_as_of_and_dry_run(parser) -> None:
    parser.add_argument("--as-of", help="Act as of this time (ISO; Asia/Taipei when no offset). Default: now.")
    parser.add_argument("--dry-run", action="store_true", help="Print what would be done; change nothing.")


def parse_as_of(value: str | None):
    if not value:
        return timezone.now()
    try:
        parsed = parse_datetime(value) or parse_datetime(f"{value}T00:00:00")
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f"--as-of {value!r} is not an ISO date or date-time (e.g. 2026-07-01T00:05:00+08:00)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BILLING_TZ)
