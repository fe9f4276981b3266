"""Payments left pending (a gateway time-out, a process that died), settled from the gateway's own record.

Never guessed: a renewal the gateway never saw is charged now; a checkout it never saw is marked failed,
since the admin is no longer there to confirm it; a refund it never saw is marked refused (nothing was
given back), so staff may refund again.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from billing.checkout import checkout_reconcile
from billing.extra_messages import BillTotals, extra_message_bills_in_doubt, extra_messages_recover
from billing.models import Checkout, CheckoutStatus, ExtraMessagesBill, Renewal
from billing.refunds import refund_reconcile
from billing.renewals import Totals, renewal_recover, renewals_in_doubt
from payments.models import Refund, RefundStatus

logger = logging.getLogger(__name__)


def gateway_worst_case_seconds() -> int:
    """The longest one gateway call may take before our side gives up on its answer."""
    return int(settings.GATEWAY_CONNECT_TIMEOUT_SECONDS + settings.GATEWAY_TIMEOUT_SECONDS) + 1


@dataclass
class InDoubt:
    renewals: list[Renewal]
    checkouts: list[Checkout]
    refunds: list[Refund]
    extra_message_bills: list[ExtraMessagesBill]


def payments_in_doubt(*, created_before: datetime) -> InDoubt:
    """The renewals, checkouts, refunds and months of extra messages whose payment was asked for before
    `created_before` and is still open."""
    return InDoubt(
        renewals=list(renewals_in_doubt(older_than=created_before).filter(charge__created_at__lt=created_before)),
        checkouts=list(
            Checkout.objects.filter(
                status=CheckoutStatus.PROCESSING, charge__created_at__lt=created_before
            ).select_related("charge__payment_method")
        ),
        refunds=list(
            Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=created_before).select_related(
                "charge__payment_method", "charge__account"
            )
        ),
        extra_message_bills=list(extra_message_bills_in_doubt(created_before=created_before)),
    )


@dataclass
class Reconciled:
    renewals: Totals
    checkouts: int
    refunds: int
    extra_messages: BillTotals


def payments_reconcile(in_doubt: InDoubt, *, as_of: datetime) -> Reconciled:
    """Each payment on its own: one that cannot be settled now (logged) stays pending for the next run and does not
    keep the others from being settled."""
    totals, bills = Totals(), BillTotals()
    for renewal in in_doubt.renewals:
        if not _alone(renewal_recover, "renewal", renewal, renewal=renewal, as_of=as_of, totals=totals):
            totals.pending += 1
    for bill in in_doubt.extra_message_bills:
        if not _alone(extra_messages_recover, "extra-messages bill", bill, bill=bill, totals=bills):
            bills.pending += 1
    return Reconciled(
        renewals=totals,
        checkouts=sum(_alone(checkout_reconcile, "checkout", c, checkout=c) for c in in_doubt.checkouts),
        refunds=sum(_alone(refund_reconcile, "refund", r, refund=r) for r in in_doubt.refunds),
        extra_messages=bills,
    )


def _alone(settle, what: str, row, **kwargs) -> bool:
    """settle(**kwargs): True when it settled the row (or returned nothing), False when it did not or failed
    (logged): the row then stays as it was, for the next run."""
    try:
        result = settle(**kwargs)
    except Exception:  # noqa: BLE001 - one payment's fault never stops the others' reconciliation
        logger.exception("reconciling %s %s failed; it stays pending", what, row.pk)
        return False
    return True if result is None else bool(result)
