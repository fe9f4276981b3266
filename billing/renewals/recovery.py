"""Renewals a dead run left `charging`: read back from the gateway and settled, never charged twice."""

import logging
from datetime import datetime

from billing.models import Renewal, RenewalStatus
from billing.renewals.batches import charge_and_settle, renewals_settle
from billing.renewals.runs import Totals
from payments.gateways import ChargeResult, Outcome, gateway
from payments.models import ChargeStatus, MethodStatus

logger = logging.getLogger(__name__)


# ---- crash recovery and reconciliation --------------------------------------------------------


def renewals_in_doubt(*, older_than: datetime):
    """`charging` renewals whose claim is older than a run's lease: their process died or timed out."""
    return Renewal.objects.filter(status=RenewalStatus.CHARGING, updated_at__lt=older_than).select_related(
        "charge__payment_method"
    )


def renewal_recover(*, renewal: Renewal, as_of: datetime, totals: Totals) -> None:
    """Read the order back from the gateway: settle what it did, and charge only what it never saw."""
    charge = renewal.charge
    if charge is None or charge.status != ChargeStatus.PENDING:
        return
    method = charge.payment_method
    result = gateway().charge_status(method=method, order_id=charge.idempotency_key)
    if result.outcome == Outcome.ABSENT and method.status != MethodStatus.ACTIVE:
        # never seen by the gateway, and the method was removed or expired since: no charge, retry later
        result = ChargeResult(Outcome.DECLINED, reason="the payment method is no longer usable")
    elif result.outcome == Outcome.ABSENT:
        result = gateway().charge(
            method=method, amount_twd=charge.total_twd, order_id=charge.idempotency_key, description="renewal"
        )
    next_tries = renewals_settle([(renewal.pk, charge.idempotency_key, result)], as_of=as_of, totals=totals)
    charge_and_settle(next_tries, as_of=as_of, totals=totals)  # declined: the account's other methods
