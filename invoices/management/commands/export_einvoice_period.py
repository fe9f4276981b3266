"""Write a period's summary for the accountant (401) as CSV: register, totals, voids, allowances, blanks."""

import sys
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from accounts.periods import local_date
from invoices.period_report import period_report, write_csv
from invoices.validators import validate_invoice_period


class Command(BaseCommand):
    help = "Write a period's invoice register, B2B/B2C totals (B2C tax backed out once), voids, allowances, blanks."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="ROC year + even month, e.g. 11502")
        parser.add_argument("--output", default="-", help="CSV file to write (default: standard output)")
        parser.add_argument("--language", default=settings.LANGUAGE_CODE, help="language of the headings")

    def handle(self, *args, period, output, language, **options):
        try:
            validate_invoice_period(period)
        except ValidationError as error:
            raise CommandError(error.messages[0]) from None
        report = period_report(period=period, today=local_date(timezone.now()))
        with translation.override(language):
            if output == "-":
                write_csv(report, sys.stdout)
                return
            with Path(output).open("w", encoding="utf-8-sig", newline="") as stream:
                write_csv(report, stream)
        self.stdout.write(
            f"{output}: {len(report.invoices)} invoice(s), {len(report.allowances)} allowance(s),"
            f" {len(report.blanks)} blank run(s); NT${report.total_twd:,} after voids."
        )
