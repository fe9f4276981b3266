"""Write a period's MIG 4.0 messages (F0401, F0501, G0401, G0501, E0402), one XML file each, for upload."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from invoices.mig import export_period
from invoices.models import MessageKind, PeriodClosing
from invoices.validators import validate_invoice_period


class Command(BaseCommand):
    help = (
        "Export a period's e-invoice messages as MIG 4.0 XML: F0401 issues, F0501 voids, G0401 allowances,"
        " G0501 allowance voids, E0402 blank numbers (once the period is closed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="ROC year + even month, e.g. 11502")
        parser.add_argument("--out", required=True, type=Path, help="directory to write the XML files into")

    def handle(self, *args, period, out, **options):
        try:
            validate_invoice_period(period)
        except ValidationError as error:
            raise CommandError(error.messages[0]) from None
        written = export_period(period=period, out=out)
        kinds = [path.name[:5] for path in written]
        counts = ", ".join(f"{kind} {kinds.count(kind)}" for kind in MessageKind.values)
        self.stdout.write(f"{len(written)} file(s) written to {out}: {counts}.")
        if not PeriodClosing.objects.filter(period=period).exists():
            self.stdout.write(f"Period {period} is not closed: no E0402 yet (close_einvoice_period --period {period}).")
