"""Read Turnkey's result folders back: each message written for it uploaded (BAK) or rejected (ERR). Safe to run
again."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from invoices.turnkey import turnkey_results_read


class Command(BaseCommand):
    help = (
        "Mark the e-invoice messages written for Turnkey as uploaded or rejected, from its BAK and ERR folders "
        "(idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--turnkey", type=Path, help="Turnkey's EINVTurnkey directory (default: the setting)")

    def handle(self, *args, turnkey, **options):
        turnkey = turnkey or (Path(settings.EINVOICE_TURNKEY_DIR) if settings.EINVOICE_TURNKEY_DIR else None)
        if turnkey is None or not (turnkey / "UpCast").is_dir():
            raise CommandError(
                "Give --turnkey DIR (or set EINVOICE_TURNKEY_DIR): Turnkey's folder, with UpCast/ in it."
            )
        results = turnkey_results_read(turnkey=turnkey)
        self.stdout.write(
            f"{len(results.uploaded)} uploaded, {len(results.rejected)} rejected, "
            f"{results.unchanged} already recorded, {len(results.unknown)} not ours."
        )
        for name in results.rejected:
            self.stderr.write(f"Refused by Turnkey: {name}")
