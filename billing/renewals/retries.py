"""Failed renewals retried on the retry days (BILLING_RETRY_DAYS), then downgraded to Light (dunning)."""

import logging
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_record, lock_account, move_status
from accounts.errors import ServiceError
from accounts.periods import local_date
from billing.models import Renewal, RenewalStatus, Subscription
from billing.renewals.batches import Attempt, charge_and_settle, record_attempts
from billing.renewals.quotes import Pricer, drop_expired_codes, expire_closed_codes, pricing_inputs
from billing.renewals.runs import Totals, plans_by_pk

logger = logging.getLogger(__name__)


# ---- retries ----------------------------------------------------------------------------------


def retries_due(as_of: datetime):
    """Failed renewals whose retry day has come (SPEC §2: by default the 3rd, 5th and 7th)."""
    return Renewal.objects.filter(status=RenewalStatus.FAILED, next_retry_on__lte=local_date(as_of))


def renewal_retry(*, renewal_id: int, as_of: datetime, totals: Totals, on_its_day: bool = True) -> None:
    """Charge a failed renewal again, as a new attempt with its own idempotency key; settle as a renewal.

    `on_its_day=False` is staff retrying from the admin before the scheduled day.
    """
    subscription_id = Renewal.objects.filter(pk=renewal_id).values_list("subscription_id", flat=True).first()
    expire_closed_codes([subscription_id], as_of=as_of)
    claimed = Totals()
    attempts = _claim_retry(renewal_id, as_of=as_of, totals=claimed, on_its_day=on_its_day)
    totals.merge(claimed)
    charge_and_settle(attempts, as_of=as_of, totals=totals)


def _claim_retry(renewal_id: int, *, as_of: datetime, totals: Totals, on_its_day: bool) -> list[Attempt]:
    with transaction.atomic():
        account_id = Subscription.objects.filter(renewals__pk=renewal_id).values_list("account_id", flat=True).first()
        if account_id is not None:
            lock_account(account_id)
        failed = Renewal.objects.select_for_update(skip_locked=True).filter(pk=renewal_id, status=RenewalStatus.FAILED)
        if on_its_day:
            failed = failed.filter(next_retry_on__lte=local_date(as_of))
        renewal = failed.first()
        if renewal is None:
            totals.skipped += 1
            return []
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("account", "plan")
            .get(pk=renewal.subscription_id)
        )
        inputs = pricing_inputs([subscription], lock_codes=True)
        drop_expired_codes([subscription], inputs, as_of=as_of)
        new_plan, quote, code = Pricer(plans_by_pk(), as_of=as_of).quote(subscription, inputs)
        renewal.plan = new_plan  # a downgrade scheduled since the first attempt: charge and apply the same plan
        renewal.attempts += 1
        move_status(renewal, RenewalStatus.CHARGING)
        attempt = Attempt(
            renewal,
            subscription,
            quote,
            inputs.methods.get(subscription.account_id),
            code if quote.code_applied else None,
        )
        return record_attempts([attempt], as_of=as_of, totals=totals, new=False)


def failed_renewal_of(account_id: int) -> Renewal | None:
    """The account's failed renewal waiting for a retry (with its charge), if it is past due."""
    return (
        Renewal.objects.filter(subscription__account_id=account_id, status=RenewalStatus.FAILED)
        .select_related("charge", "plan")
        .order_by("-period_start")
        .first()
    )


def renewal_pay_now(*, account, actor, as_of: datetime) -> Totals:
    """立即付款: an admin pays the account's failed renewal now, with the main method as it is now. It is the
    renewal's own retry (its claim, a new attempt with its own order ID), so two clicks at once charge once."""
    renewal = failed_renewal_of(account.pk)
    if renewal is None:
        raise ServiceError(_("Nothing is due: no renewal payment is waiting."), code="nothing_due")
    audit_record(actor=actor, action="renewal.pay_now", obj=renewal, account=account)
    totals = Totals()
    renewal_retry(renewal_id=renewal.pk, as_of=as_of, totals=totals, on_its_day=False)
    return totals
