"""Export a campaign's codes as CSV (SPEC §3, §8): `export_promo_codes --campaign 3 --status available --output -`."""

from functools import partial
from types import SimpleNamespace

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from promos.management.commands.generate_promo_codes import campaign_or_error, open_csv
from promos.models import CodeBatch, CodeStatus, PromoCode
from promos.services import promo_codes_export_record, promo_codes_write_csv


class Command(BaseCommand):
    help = "Write a campaign's codes (optionally of one status or batch) as CSV to a file or, with '-', stdout."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", type=int, required=True, help="The campaign's ID.")
        parser.add_argument("--status", choices=CodeStatus.values, help="Only codes in this status.")
        parser.add_argument("--batch", type=int, help="Only codes of this batch of the campaign.")
        parser.add_argument("--output", required=True, help="A CSV file, or - for stdout.")

    def handle(self, *args, campaign, status, batch, output, **options):
        campaign = campaign_or_error(campaign)
        codes = self.codes(campaign, status=status, batch_id=batch)
        promo_codes_export_record(sources=[campaign], actor=None, scope=f"command status={status} batch={batch}")
        if output == "-":
            # The CSV is the output; csv ends each row itself, so the wrapper must add no newline.
            rows = promo_codes_write_csv(
                codes=codes, stream=SimpleNamespace(write=partial(self.stdout.write, ending=""))
            )
            self.stderr.write(_("Wrote %(rows)s codes.") % {"rows": f"{rows:,}"})
            return
        with open_csv(output) as stream:
            rows = promo_codes_write_csv(codes=codes, stream=stream)
        self.stdout.write(_("Wrote %(rows)s codes to %(path)s.") % {"rows": f"{rows:,}", "path": output})

    def codes(self, campaign, *, status: str | None, batch_id: int | None):
        codes = PromoCode.objects.filter(campaign=campaign)
        if batch_id is not None:
            if not CodeBatch.objects.filter(pk=batch_id, campaign=campaign).exists():
                raise CommandError(
                    _("Campaign %(campaign)s has no batch %(batch)s.") % {"campaign": campaign.pk, "batch": batch_id}
                )
            codes = codes.filter(batch_id=batch_id)
        if status:
            codes = codes.filter(status=status)
        return codes
