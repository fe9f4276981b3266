"""Monthly renewals, retries and dunning (SPEC §2–3, §8), run by cron through management commands.

Exactly once: a Renewal row is unique per subscription and new period, and its charge's idempotency
key (which is also the gateway's order ID) is unique per attempt. Each renewal goes through three
short steps and never holds a transaction across the gateway:

1. claim: lock the subscription (SKIP LOCKED, so parallel runs share the work), price the renewal
   with billing.pricing, record the Renewal as `charging`, its pending charge, and hold the code;
2. charge: ask the gateway, outside any transaction;
3. settle: the answer becomes the new period, or a failure with its next retry day.

A process killed between 1 and 3 leaves a `charging` renewal. The next run reads that order back
from the gateway (`charge_status`) and settles it, charging only an order the gateway never saw.
"""

import os
import socket
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing.audit import audit_record, snapshot
from billing.invoicing import issue_invoice_for
from billing.models import (
    Checkout,
    CheckoutStatus,
    Plan,
    PlanChange,
    PlanChangeKind,
    PlanCode,
    Renewal,
    RenewalRun,
    RenewalRunStatus,
    RenewalStatus,
    Subscription,
    SubscriptionStatus,
)
from billing.notices import notify_admins
from billing.periods import local_date, month_start, next_month_start, previous_month_start
from billing.pricing import price_renewal
from billing.selectors import (
    billed_messages,
    buyer_for,
    buyer_with,
    main_payment_method,
    plan_terms,
    plans_with_terms,
    pricing_rules,
)
from payments.gateways import ChargeResult, Outcome, gateway
from payments.models import ChargeStatus, MethodStatus
from payments.services import charge_create, charge_mark_failed, charge_mark_succeeded, payment_method_mark_expired
from promos.selectors import code_terms, registered_code
from promos.services import promo_code_hold, promo_code_redeem, promo_code_release, promo_code_unregister

SUBSCRIPTION_FIELDS = ("plan", "period_start", "scheduled_plan", "status")
UNKNOWN_METHOD = object()  # "read the main payment method yourself"


def plans_by_pk() -> dict:
    """The plans with their prices and tiers: read once per run, not once per renewal."""
    return {plan.pk: plan for plan in plans_with_terms()}


OPEN_RENEWALS = [RenewalStatus.CHARGING, RenewalStatus.FAILED]


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
    return RenewalRun.objects.create(command=command, as_of=as_of, dry_run=dry_run, host=socket.gethostname(),
                                     pid=os.getpid())  # fmt: skip


def run_finish(run: RenewalRun, totals: Totals) -> None:
    run.totals = totals.as_dict()
    run.status = RenewalRunStatus.FAILED if totals.failed else RenewalRunStatus.FINISHED
    run.finished_at = timezone.now()
    run.save(update_fields=["totals", "status", "finished_at"])


# ---- one subscription -----------------------------------------------------------------------


def renew_subscription(*, subscription_id: int, as_of: datetime, run: RenewalRun | None, totals: Totals,
                       plans=None) -> None:  # fmt: skip
    """Move one subscription into its next period, charging it when the new period costs money."""
    claimed = _claim(subscription_id, as_of=as_of, run=run, totals=totals, plans=plans or plans_by_pk())
    if claimed is None:
        return
    renewal, method = claimed
    charge = renewal.charge
    description = f"LINE Official Account {renewal.plan.code} {renewal.period_start:%Y-%m}"
    result = gateway().charge(
        method=method, amount_twd=charge.total_twd, order_id=charge.idempotency_key, description=description
    )
    renewal_settle(renewal_id=renewal.pk, result=result, as_of=as_of, totals=totals)


def _claim(subscription_id: int, *, as_of: datetime, run, totals: Totals, plans):
    """Step 1, in one short transaction. Returns (renewal, method) when a charge must go to the gateway."""
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account", "plan", "scheduled_plan")
            .filter(pk=subscription_id, period_start__lt=month_start(local_date(as_of)))
            .first()
        )
        if subscription is None:  # another run holds it, or it is renewed already
            totals.skipped += 1
            return None
        new_period = next_month_start(subscription.period_start)
        if Renewal.objects.filter(subscription=subscription, period_start=new_period).exists():
            totals.skipped += 1  # under way or waiting for its retry
            return None
        if Checkout.objects.filter(account_id=subscription.account_id, status=CheckoutStatus.PROCESSING).exists():
            totals.skipped += 1  # an upgrade is at the gateway: renew on the next run, on the plan it leaves
            return None
        return _price_and_record(subscription, new_period, as_of=as_of, run=run, totals=totals, plans=plans)


def renewal_quote(subscription, *, as_of: datetime, release_expired_code: bool = True, plans=None,
                  method=UNKNOWN_METHOD):  # fmt: skip
    """(new plan, quote) for a subscription's next period: the same pricing as the checkout's.

    `plans` (plans_with_terms() by pk) and the main `method` may be passed in when the caller has them.
    """
    account = subscription.account
    new_period = next_month_start(subscription.period_start)
    plans = plans or plans_by_pk()
    new_plan = plans[subscription.scheduled_plan_id or subscription.plan_id]
    code = _usable_registered_code(account, as_of=as_of, release_expired=release_expired_code)
    buyer = buyer_for(account) if method is UNKNOWN_METHOD else buyer_with(account, method)
    quote = price_renewal(
        plan=plan_terms(new_plan, new_period), month=new_period, at=as_of, buyer=buyer,
        rules=pricing_rules(), previous_plan=plan_terms(plans[subscription.plan_id], subscription.period_start),
        previous_billed_messages=billed_messages(account, previous_month_start(new_period)),
        code=code_terms(code) if code else None,
    )  # fmt: skip
    return new_plan, quote


def _price_and_record(subscription, new_period: date, *, as_of, run, totals: Totals, plans):
    account = subscription.account
    method = main_payment_method(account)
    new_plan, quote = renewal_quote(subscription, as_of=as_of, plans=plans, method=method)
    renewal = Renewal.objects.create(subscription=subscription, period_start=new_period, plan=new_plan,
                                     status=RenewalStatus.CHARGING, attempts=1, run=run)  # fmt: skip
    if quote.total_twd == 0 and not quote.code_applied:
        _advance(renewal, subscription, charge=None)
        totals.renewed += 1
        return None
    if method is None and quote.total_twd > 0:
        _fail(renewal, subscription, reason="no main payment method", as_of=as_of, totals=totals)
        return None
    return _record_attempt(renewal, subscription, quote, method, totals=totals)


def _record_attempt(renewal, subscription, quote, method, *, totals: Totals):
    """The attempt's pending charge (its key is also the gateway's order ID) and the held code."""
    key = f"renewal:{subscription.pk}:{renewal.period_start:%Y-%m}:{renewal.attempts}"
    charge, _created = charge_create(account=subscription.account, quote=quote, plan=renewal.plan,
                                     payment_method=method, idempotency_key=key, actor=None)  # fmt: skip
    renewal.charge = charge
    renewal.save(update_fields=["plan", "attempts", "status", "charge", "updated_at"])
    if quote.code_applied:
        promo_code_hold(text=quote.code, account=subscription.account, charge=charge, actor=None)
    if quote.total_twd == 0:  # the code paid it all: nothing goes to the gateway
        _succeed(renewal, subscription, charge, reference="", totals=totals)
        return None
    return renewal, method


def _usable_registered_code(account, *, as_of, release_expired: bool):
    """The code registered for renewal. One whose window has closed is released (with an audit record)."""
    code = registered_code(account)
    if code is None or code.status != "registered":
        return None
    if code.campaign.valid_until < as_of:
        if release_expired:
            promo_code_unregister(account=account, actor=None)
            transaction.on_commit(lambda: notify_admins(account=account, notice="code_released", code=code))
        return None
    return code


def renewal_settle(*, renewal_id: int, result: ChargeResult, as_of: datetime, totals: Totals) -> None:
    """Step 3: the gateway's answer, in one short transaction. Unknown answers wait for reconciliation."""
    if result.outcome == Outcome.UNKNOWN:
        totals.pending += 1
        return
    with transaction.atomic():
        renewal = Renewal.objects.select_for_update(of=("self",)).select_related("charge", "plan").get(pk=renewal_id)
        if renewal.status != RenewalStatus.CHARGING:
            return
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("account")
            .get(pk=renewal.subscription_id)
        )
        if result.outcome == Outcome.SUCCEEDED:
            _succeed(renewal, subscription, renewal.charge, reference=result.reference, totals=totals)
        else:
            _decline(renewal, subscription, result, as_of=as_of, totals=totals)
    if result.outcome == Outcome.DECLINED and result.method_gone and renewal.charge.payment_method_id:
        method = renewal.charge.payment_method
        payment_method_mark_expired(method=method, actor=None)
        notify_admins(account=method.account, notice="method_expired", method=method)


def _succeed(renewal, subscription, charge, *, reference: str, totals: Totals) -> None:
    charge = charge_mark_succeeded(charge=charge, gateway_reference=reference, actor=None)
    held = getattr(charge, "held_code", None) if charge.deduction_twd or charge.forfeited_twd else None
    if held is not None:
        promo_code_redeem(text=held.code, account=subscription.account, charge=charge,
                          applied_twd=charge.deduction_twd, forfeited_twd=charge.forfeited_twd, actor=None)  # fmt: skip
        totals.codes_applied += 1
        totals.forfeited_twd += charge.forfeited_twd
    totals.charged_twd += charge.total_twd
    totals.renewed += 1
    _advance(renewal, subscription, charge=charge)
    issue_invoice_for(charge)


def _advance(renewal, subscription, *, charge) -> None:
    """The new period starts: a scheduled downgrade takes effect, a past-due account is active again."""
    before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
    previous_plan = subscription.plan
    subscription.plan = renewal.plan
    subscription.scheduled_plan = None
    subscription.period_start = renewal.period_start
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.save(update_fields=["plan", "scheduled_plan", "period_start", "status", "updated_at"])
    if previous_plan.pk != renewal.plan_id:
        PlanChange.objects.create(subscription=subscription, kind=PlanChangeKind.DOWNGRADE_APPLIED,
                                  from_plan=previous_plan, to_plan=renewal.plan, effective_on=renewal.period_start,
                                  charge=charge)  # fmt: skip
    renewal.status = RenewalStatus.RENEWED
    renewal.charge = charge
    renewal.next_retry_on = None
    renewal.save(update_fields=["status", "charge", "next_retry_on", "updated_at"])
    audit_record(actor=None, action="subscription.renew", obj=subscription, account=subscription.account,
                 before=before, after=snapshot(subscription, *SUBSCRIPTION_FIELDS))  # fmt: skip


def _decline(renewal, subscription, result: ChargeResult, *, as_of, totals: Totals) -> None:
    charge_mark_failed(charge=renewal.charge, reason=result.reason, actor=None)
    promo_code_release(charge=renewal.charge, actor=None)
    _fail(renewal, subscription, reason=result.reason, as_of=as_of, totals=totals)


def _fail(renewal, subscription, *, reason: str, as_of, totals: Totals) -> None:
    """A failed attempt: retried on the next configured day, or, after the last one, the Light plan."""
    renewal.last_error = reason[:255]
    renewal.next_retry_on = next_retry_day(renewal.period_start, after=local_date(as_of))
    totals.failed += 1
    totals.failures.append({"subscription": subscription.pk, "period": str(renewal.period_start), "reason": reason})
    notice = {"renewal": renewal, "reason": reason, "retry_on": renewal.next_retry_on}
    transaction.on_commit(lambda: notify_admins(account=subscription.account, notice="renewal_failed", **notice))
    if renewal.next_retry_on is None:
        _downgrade_to_light(renewal, subscription)
        return
    renewal.status = RenewalStatus.FAILED
    renewal.save(update_fields=["status", "last_error", "next_retry_on", "updated_at"])
    if subscription.status != SubscriptionStatus.PAST_DUE:
        before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
        subscription.status = SubscriptionStatus.PAST_DUE
        subscription.save(update_fields=["status", "updated_at"])
        audit_record(actor=None, action="subscription.past_due", obj=subscription, account=subscription.account,
                     before=before, after=snapshot(subscription, *SUBSCRIPTION_FIELDS))  # fmt: skip


def _downgrade_to_light(renewal, subscription) -> None:
    """After the last failed retry the account falls to the Light plan for the new period (SPEC §2)."""
    before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
    light = Plan.objects.get(code=PlanCode.LIGHT)
    previous_plan = subscription.plan
    subscription.plan = light
    subscription.scheduled_plan = None
    subscription.period_start = renewal.period_start
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.save(update_fields=["plan", "scheduled_plan", "period_start", "status", "updated_at"])
    PlanChange.objects.create(subscription=subscription, kind=PlanChangeKind.DUNNING_DOWNGRADE, from_plan=previous_plan,
                              to_plan=light, effective_on=renewal.period_start, charge=renewal.charge)  # fmt: skip
    renewal.status = RenewalStatus.DOWNGRADED
    renewal.save(update_fields=["status", "last_error", "next_retry_on", "updated_at"])
    audit_record(actor=None, action="subscription.dunning_downgrade", obj=subscription, account=subscription.account,
                 before=before, after=snapshot(subscription, *SUBSCRIPTION_FIELDS))  # fmt: skip
    transaction.on_commit(lambda: notify_admins(account=subscription.account, notice="downgraded", renewal=renewal))


def next_retry_day(period_start: date, *, after: date) -> date | None:
    """The next configured retry day of the renewal's month after `after`; None when none is left."""
    for day in sorted(settings.BILLING_RETRY_DAYS):
        candidate = period_start.replace(day=day)
        if candidate > after:
            return candidate
    return None


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
        result = gateway().charge(method=method, amount_twd=charge.total_twd, order_id=charge.idempotency_key,
                                  description="renewal")  # fmt: skip
    renewal_settle(renewal_id=renewal.pk, result=result, as_of=as_of, totals=totals)


# ---- retries ----------------------------------------------------------------------------------


def retries_due(as_of: datetime):
    """Failed renewals whose retry day has come (SPEC §2: by default the 3rd, 5th and 7th)."""
    return Renewal.objects.filter(status=RenewalStatus.FAILED, next_retry_on__lte=local_date(as_of))


def renewal_retry(*, renewal_id: int, as_of: datetime, totals: Totals, on_its_day: bool = True) -> None:
    """Charge a failed renewal again, as a new attempt with its own idempotency key; settle as a renewal.

    `on_its_day=False` is staff retrying from the admin before the scheduled day.
    """
    claimed = _claim_retry(renewal_id, as_of=as_of, totals=totals, on_its_day=on_its_day)
    if claimed is None:
        return
    renewal, method = claimed
    charge = renewal.charge
    result = gateway().charge(method=method, amount_twd=charge.total_twd, order_id=charge.idempotency_key,
                              description=f"LINE Official Account {renewal.period_start:%Y-%m}")  # fmt: skip
    renewal_settle(renewal_id=renewal.pk, result=result, as_of=as_of, totals=totals)


def _claim_retry(renewal_id: int, *, as_of: datetime, totals: Totals, on_its_day: bool):
    with transaction.atomic():
        failed = Renewal.objects.select_for_update(skip_locked=True).filter(pk=renewal_id, status=RenewalStatus.FAILED)
        if on_its_day:
            failed = failed.filter(next_retry_on__lte=local_date(as_of))
        renewal = failed.first()
        if renewal is None:
            totals.skipped += 1
            return None
        subscription = Subscription.objects.select_for_update(of=("self",)).select_related(
            "account", "plan", "scheduled_plan").get(pk=renewal.subscription_id)  # fmt: skip
        new_plan, quote = renewal_quote(subscription, as_of=as_of)
        method = main_payment_method(subscription.account)
        renewal.plan = new_plan  # a downgrade scheduled since the first attempt: charge and apply the same plan
        renewal.attempts += 1
        renewal.status = RenewalStatus.CHARGING
        if method is None:
            renewal.save(update_fields=["attempts", "status", "updated_at"])
            _fail(renewal, subscription, reason="no main payment method", as_of=as_of, totals=totals)
            return None
        return _record_attempt(renewal, subscription, quote, method, totals=totals)
