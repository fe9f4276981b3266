"""Generate a campaign's codes in bulk (SPEC §3, §8): `generate_promo_codes --campaign 3 --count 100000`."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from billing.errors import ServiceError
from promos.models import Campaign, PromoCode
from promos.services import promo_codes_generate, promo_codes_write_csv


def campaign_or_error(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise CommandError(_("There is no campaign with ID %(id)s.") % {"id": campaign_id})
    return campaign


def open_csv(path):
    try:
        return open(path, "w", newline="", encoding="utf-8")
    except OSError as error:
        raise CommandError(_("Cannot write %(path)s: %(error)s") % {"path": path, "error": error.strerror}) from error


class Command(BaseCommand):
    help = "Add N new random codes to a campaign as one batch; optionally write that batch as CSV."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", type=int, required=True, help="The campaign's ID.")
        parser.add_argument("--count", type=int, required=True, help="How many codes to make.")
        parser.add_argument("--output", type=Path, help="Write the new codes to this CSV file.")

    def handle(self, *args, campaign, count, output, **options):
        campaign = campaign_or_error(campaign)
        if count < 1:
            raise CommandError(_("Generate at least one code."))
        # Open the file first: a bad path should fail before any code is made.
        stream = open_csv(output) if output else None
        try:
            batch, seconds = self.generate(campaign, count)
            if stream:
                rows = promo_codes_write_csv(codes=PromoCode.objects.filter(batch=batch), stream=stream)
                self.stdout.write(_("Wrote %(rows)s codes to %(path)s.") % {"rows": f"{rows:,}", "path": output})
        finally:
            if stream:
                stream.close()
        self.stdout.write(
            _("Made %(count)s codes for campaign %(campaign)s in batch %(batch)s in %(seconds).1f s.")
            % {"count": f"{count:,}", "campaign": campaign, "batch": batch.pk, "seconds": seconds}
        )

    def generate(self, campaign: Campaign, count: int):
        started = time.perf_counter()
        # The bar goes to stderr, and only on a terminal: cron logs and pipes get the summary alone.
        with tqdm(total=count, unit="code", unit_scale=True, disable=not self.stdout.isatty()) as bar:
            try:
                batch = promo_codes_generate(campaign=campaign, count=count, actor=None, progress=bar.update)
            except ServiceError as error:
                raise CommandError(error.message) from error
        return batch, time.perf_counter() - started
