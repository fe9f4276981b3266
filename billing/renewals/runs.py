"""A run of the renewal commands: its record, its totals, and which subscriptions are due."""

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.audit import move_status
from accounts.periods import local_date, month_start
from billing.models import Renewal, RenewalRun, RenewalRunStatus, RenewalStatus, Subscription
from billing.selectors import plans_with_terms

logger = logging.getLogger(__name__)


SUBSCRIPTION_FIELDS = ("plan", "period_start", "scheduled_plan", "status")
OPEN_RENEWALS = [RenewalStatus.CHARGING, RenewalStatus.FAILED]
NO_METHOD = "no main payment method"


def plans_by_pk() -> dict:
    """The plans with their prices and tiers: read once per run, not once per renewal."""
    return {plan.pk: plan for plan in plans_with_terms()}


@dataclass
class Totals:
    renewed: int = 0
    charged_twd: int = 0
    codes_applied: int = 0
    forfeited_twd: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    failures: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def merge(self, other: "Totals") -> None:
        for name, value in other.__dict__.items():
            setattr(self, name, getattr(self, name) + value)


# ---- which subscriptions are due ------------------------------------------------------------


def subscriptions_due(as_of: datetime):
    """Subscriptions whose period ended before as_of's Taipei month, with no renewal already under way."""
    open_renewal = Renewal.objects.filter(
        subscription=OuterRef("pk"), period_start__gt=OuterRef("period_start"), status__in=OPEN_RENEWALS
    )
    return Subscription.objects.filter(period_start__lt=month_start(local_date(as_of))).exclude(Exists(open_renewal))


def run_start(*, command: str, as_of: datetime, dry_run: bool) -> RenewalRun:
    return RenewalRun.objects.create(
        command=command, as_of=as_of, dry_run=dry_run, host=socket.gethostname(), pid=os.getpid()
    )


def run_finish(run: RenewalRun, totals: Totals) -> None:
    run.totals = totals.as_dict()
    move_status(run, RenewalRunStatus.FAILED if totals.failed else RenewalRunStatus.FINISHED)
    run.finished_at = timezone.now()
    run.save(update_fields=["totals", "status", "finished_at"])
