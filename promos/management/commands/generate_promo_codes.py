"""Generate a campaign's codes in bulk (SPEC §3, §8): `generate_promo_codes --campaign 3 --batch spring --count 100000`.

The batch name is the run's idempotency key: running the same command again (after a crash, or by
mistake) finishes that batch or, when it is complete, changes nothing and says so.
"""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from accounts.errors import ServiceError
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
    help = (
        "Add N new random codes to a campaign as one named batch; run again with the same name and count, it "
        "finishes that batch instead of making another. Optionally write the batch as CSV."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", type=int, required=True, help="The campaign's ID.")
        parser.add_argument(
            "--batch", required=True, help="The batch's name, unique in the campaign: a rerun finishes this batch."
        )
        parser.add_argument("--count", type=int, required=True, help="How many codes the batch has.")
        parser.add_argument("--output", type=Path, help="Write the batch's codes to this CSV file.")

    def handle(self, *args, campaign, batch, count, output, **options):
        campaign = campaign_or_error(campaign)
        if count < 1:
            raise CommandError(_("Generate at least one code."))
        if not batch.strip():
            raise CommandError(_("Give the batch a name (--batch)."))
        # Open the file first: a bad path should fail before any code is made.
        stream = open_csv(output) if output else None
        try:
            made, code_batch, seconds = self.generate(campaign, batch, count)
            if stream:
                rows = promo_codes_write_csv(codes=PromoCode.objects.filter(batch=code_batch), stream=stream)
                self.stdout.write(_("Wrote %(rows)s codes to %(path)s.") % {"rows": f"{rows:,}", "path": output})
        finally:
            if stream:
                stream.close()
        names = {"campaign": campaign, "batch": code_batch.pk, "name": code_batch.name}
        if not made:
            self.stdout.write(
                _(
                    "Batch %(batch)s (“%(name)s”) of campaign %(campaign)s was already complete with %(count)s codes: "
                    "nothing was made."
                )
                % {**names, "count": f"{code_batch.requested:,}"}
            )
            return
        self.stdout.write(
            _("Made %(count)s codes for campaign %(campaign)s in batch %(batch)s (“%(name)s”) in %(seconds).1f s.")
            % {**names, "count": f"{made:,}", "seconds": seconds}
        )
        if made < code_batch.requested:
            self.stdout.write(
                _("An earlier run had made the other %(earlier)s; the batch now has all %(count)s codes.")
                % {"earlier": f"{code_batch.requested - made:,}", "count": f"{code_batch.requested:,}"}
            )

    def generate(self, campaign: Campaign, name: str, count: int):
        started = time.perf_counter()
        made = 0

        # The bar goes to stderr, and only on a terminal: cron logs and pipes get the summary alone.
        with tqdm(total=count, unit="code", unit_scale=True, disable=not self.stdout.isatty()) as bar:

            def progress(size: int) -> None:
                nonlocal made
                made += size
                bar.update(size)

            try:
                batch = promo_codes_generate(campaign=campaign, count=count, name=name, actor=None, progress=progress)
            except ServiceError as error:
                raise CommandError(error.message) from error
        return made, batch, time.perf_counter() - started
