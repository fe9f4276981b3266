"""Write a period's MIG 4.1 messages (F0401, F0501, G0401, G0501, E0402), each checked against its schema, for
upload: into Turnkey's folders (each once), or into a plain folder."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from invoices.mig import export_period
from invoices.models import MessageKind, PeriodClosing
from invoices.turnkey import turnkey_export
from invoices.validators import validate_invoice_period


class Command(BaseCommand):
    help = (
        "Export a period's e-invoice messages as MIG 4.1 XML (F0401 issues, F0501 voids, G0401 allowances, G0501 "
        "allowance voids, E0402 blank numbers once the period is closed), each checked against its schema: into "
        "Turnkey's UpCast folders (--turnkey, or EINVOICE_TURNKEY_DIR), where each is written once, or into a "
        "plain folder (--out). The first export of each is recorded."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="ROC year + even month, e.g. 11502")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--out", type=Path, help="a plain directory to write the XML files into")
        where.add_argument("--turnkey", type=Path, help="Turnkey's EINVTurnkey directory (default: the setting)")
        parser.add_argument(
            "--retry-rejected", action="store_true", help="write again the messages Turnkey refused (once fixed)"
        )

    def handle(self, *args, period, out, turnkey, retry_rejected, **options):
        try:
            validate_invoice_period(period)
        except ValidationError as error:
            raise CommandError(error.messages[0]) from None
        turnkey = turnkey or (Path(settings.EINVOICE_TURNKEY_DIR) if settings.EINVOICE_TURNKEY_DIR else None)
        if out is None and turnkey is None:
            raise CommandError("Give --out DIR or --turnkey DIR (or set EINVOICE_TURNKEY_DIR).")
        if out is not None:
            export, target = export_period(period=period, out=out), out
        else:
            export, target = turnkey_export(period=period, turnkey=turnkey, retry_rejected=retry_rejected), turnkey
        kinds = [path.name[:5] for path in export.written]
        counts = ", ".join(f"{kind} {kinds.count(kind)}" for kind in MessageKind.values)
        self.stdout.write(f"{len(export.written)} file(s) written to {target}: {counts}.")
        if export.skipped:
            self.stdout.write(f"{len(export.skipped)} already written for Turnkey or uploaded, left alone.")
        if not PeriodClosing.objects.filter(period=period).exists():
            self.stdout.write(f"Period {period} is not closed: no E0402 yet (close_einvoice_period --period {period}).")
        for refusal in export.refused:
            self.stderr.write(f"NOT written, refused by its schema: {refusal}")
        if export.refused:
            raise CommandError(f"{len(export.refused)} message(s) were not written: see above.")
