"""Renewals a dead run left `charging`: read back from the gateway and settled, never charged twice."""

import logging
from datetime import datetime

from accounts.periods import BILLING_TZ, local_date
from billing.models import Renewal, RenewalStatus
from billing.renewals.batches import charge_and_settle, renewals_settle
from billing.renewals.runs import Totals
from payments.gateways import pending_charge_read_back
from payments.models import Charge, ChargePurpose, ChargeStatus

logger = logging.getLogger(__name__)


# ---- crash recovery and reconciliation --------------------------------------------------------


def renewals_in_doubt(*, older_than: datetime):
    """`charging` renewals whose claim is older than a run's lease: their process died or timed out."""
    return Renewal.objects.filter(status=RenewalStatus.CHARGING, updated_at__lt=older_than).select_related(
        "charge__payment_method"
    )


def methods_tried_in_round(renewal: Renewal, charge) -> set[int]:
    """The methods this renewal's charges already failed on in the round of `charge` (a run, a retry day or a
    立即付款 is one day): a recovered decline goes on to the others, not back to one of these."""
    day = local_date(charge.created_at)
    start = datetime(day.year, day.month, day.day, tzinfo=BILLING_TZ)
    return set(
        Charge.objects.filter(
            account_id=charge.account_id,
            purpose=ChargePurpose.RENEWAL,
            period_start=renewal.period_start,
            status=ChargeStatus.FAILED,
            created_at__gte=start,
            created_at__lte=charge.created_at,
        ).values_list("payment_method_id", flat=True)
    )


def renewal_recover(*, renewal: Renewal, as_of: datetime, totals: Totals) -> None:
    """Read the order back from the gateway: settle what it did, and charge only what it never saw."""
    charge = renewal.charge
    if charge is None or charge.status != ChargeStatus.PENDING:
        return
    result = pending_charge_read_back(charge, description="renewal")
    tried = {renewal.pk: methods_tried_in_round(renewal, charge)}
    next_tries = renewals_settle(
        [(renewal.pk, charge.idempotency_key, result)], as_of=as_of, totals=totals, tried=tried
    )
    charge_and_settle(next_tries, as_of=as_of, totals=totals)  # declined: the account's other methods
