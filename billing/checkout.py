"""The upgrade checkout (SPEC §6): one persisted attempt, priced by billing.pricing, paid once.

Steps, each with its precondition: e-invoice information (of a kind still offered) → a main payment method → the summary
(where a code may be entered and the terms accepted) → the receipt. `checkout_step` names the
first step whose precondition is unmet, and every view sends the admin there.

Paying never holds a transaction across the gateway: the charge is recorded pending (and its
code held) in one short transaction, the gateway is called, and the outcome is settled in a
second. A double submit finds the pending charge of the same attempt and charges nothing more.
"""

import logging
import time
from datetime import datetime

from django.db import OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_record, lock_account, move_status, snapshot
from accounts.errors import ServiceError
from accounts.models import OfficialAccount
from accounts.periods import local_date, month_start
from billing.invoicing import issue_invoice_for
from billing.models import Checkout, CheckoutStatus, Plan, Renewal, RenewalStatus, Subscription, SubscriptionStatus
from billing.pricing import PlanMove, Quote, plan_move, price_upgrade
from billing.selectors import plan_terms, plans_with_terms, pricing_rules
from billing.services import subscription_apply_upgrade
from invoices.selectors import einvoice_profile_ready
from payments.gateways import ChargeResult, Outcome, gateway
from payments.models import ChargeStatus
from payments.selectors import main_payment_method
from payments.services import charge_create, charge_mark_failed, charge_mark_succeeded, payment_method_mark_expired
from promos.codes import normalise_code
from promos.eligibility import Buyer
from promos.selectors import buyer_for, code_terms, find_code
from promos.services import CodeNotUsable, code_look_up, promo_code_hold, promo_code_redeem, promo_code_release

EINVOICE, PAYMENT_METHOD, SUMMARY, PROCESSING, RECEIPT = (
    "einvoice",
    "payment_method",
    "summary",
    "processing",
    "receipt",
)
logger = logging.getLogger(__name__)
SETTLE_TRIES = 3


class QuoteChanged(ServiceError):
    """What would be charged is no longer what the admin saw: nothing was charged."""

    def __init__(self, quote: Quote):
        super().__init__(
            _("The price changed since you saw the summary, so nothing was charged. Check the new summary."),
            code="quote_changed",
        )
        self.quote = quote


def _refuse_while_renewal_pending(account: OfficialAccount, *, at: datetime) -> None:
    """An upgrade prices this month: not before the month's renewal has run, nor while one is at the gateway."""
    subscription = Subscription.objects.get(account=account)
    renewal_due = subscription.period_start < month_start(local_date(at))
    renewal_open = Renewal.objects.filter(subscription=subscription, status=RenewalStatus.CHARGING).exists()
    if renewal_due or renewal_open:
        raise ServiceError(
            _("This month's renewal is being processed. Try the upgrade again in a little while."),
            code="renewal_pending",
        )


def checkout_start(*, account: OfficialAccount, plan: Plan, user, channel: str) -> Checkout:
    """Start (or resume the open) upgrade of this account to `plan` by this admin."""
    subscription = Subscription.objects.select_related("plan").get(account=account)
    if subscription.status == SubscriptionStatus.PAST_DUE:
        raise ServiceError(
            _("A renewal payment failed. Pay it now on the plans page before upgrading."),
            code="past_due",
        )
    _refuse_while_renewal_pending(account, at=timezone.now())
    if plan_move(subscription.plan, plan) != PlanMove.UPGRADE:
        raise ServiceError(
            _("Only a bigger plan can be bought; a smaller one is scheduled as a downgrade."), code="not_an_upgrade"
        )
    existing = Checkout.objects.filter(
        account=account, user=user, target_plan=plan, status__in=[CheckoutStatus.OPEN, CheckoutStatus.PROCESSING]
    ).first()
    if existing is not None:
        return existing
    return Checkout.objects.create(account=account, user=user, target_plan=plan, channel=channel)


# A keyword default meaning "the caller has not read it": None is an answer (no main payment method).
NOT_READ = object()


def checkout_step(checkout: Checkout, *, method=NOT_READ) -> str:
    """`method`: the account's main payment method (or None) when the caller has read it already."""
    if checkout.status == CheckoutStatus.PAID:
        return RECEIPT
    if checkout.status == CheckoutStatus.PROCESSING:
        return PROCESSING
    if not einvoice_profile_ready(checkout.account):
        return EINVOICE
    if (main_payment_method(checkout.account) if method is NOT_READ else method) is None:
        return PAYMENT_METHOD
    return SUMMARY


def checkout_quote(
    checkout: Checkout,
    *,
    at: datetime | None = None,
    code_text: str | None = None,
    buyer: Buyer | None = None,
    subscription: Subscription | None = None,
    plans: dict[int, Plan] | None = None,
) -> Quote:
    """Price the checkout as it stands (or with another code): the one price the summary, the purchase and
    the receipt agree on. The summary passes what it read already: `buyer`, built from the main method it shows;
    the account's `subscription`; and `plans` by pk (at least the current and the target plan), their prices
    and tiers prefetched (billing.selectors.prefetch_terms)."""
    at = at or timezone.now()
    month = local_date(at)
    if plans is None:
        plans = {plan.pk: plan for plan in plans_with_terms()}
    if subscription is None:
        subscription = Subscription.objects.get(account=checkout.account)
    text = checkout.code if code_text is None else normalise_code(code_text)
    code = find_code(text) if text else None
    return price_upgrade(
        current=plan_terms(plans[subscription.plan_id], month),
        target=plan_terms(plans[checkout.target_plan_id], month),
        at=at,
        buyer=buyer or buyer_for(checkout.account),
        rules=pricing_rules(),
        code=code_terms(code) if code else None,
        code_entered=bool(text),
    )


def checkout_set_code(*, checkout: Checkout, text: str, at: datetime | None = None, client: str = "") -> Quote:
    """Enter a code (登錄): kept only when it applies, so the summary shows its deduction at once."""
    with code_look_up(account=checkout.account, text=text, client=client, at=at):
        quote = checkout_quote(checkout, at=at, code_text=text)
        if quote.code_refusal is not None:
            raise CodeNotUsable(quote.code_refusal)
    Checkout.objects.filter(pk=checkout.pk, status=CheckoutStatus.OPEN).update(code=quote.code)
    checkout.code = quote.code
    return quote


def checkout_remove_code(*, checkout: Checkout) -> None:
    Checkout.objects.filter(pk=checkout.pk, status=CheckoutStatus.OPEN).update(code="")
    checkout.code = ""


def checkout_purchase(*, checkout: Checkout, expected_total_twd: int, actor, at: datetime | None = None) -> Checkout:
    """Buy the upgrade: at most one charge per attempt, however often this is called at once."""
    at = at or timezone.now()
    try:
        charge, method, quote = _record_pending_charge(
            checkout, expected_total_twd=expected_total_twd, actor=actor, at=at
        )
    except CodeNotUsable:
        checkout_remove_code(checkout=checkout)  # the code went elsewhere since the summary: show it without
        raise
    if charge is None:  # another request of the same attempt charged, or is charging: show its outcome
        return Checkout.objects.get(pk=checkout.pk)
    if quote.total_twd == 0:
        result = ChargeResult(Outcome.SUCCEEDED)  # the code paid it all: nothing goes to the gateway
    else:
        result = gateway().charge(
            method=method,
            amount_twd=quote.total_twd,
            order_id=charge.idempotency_key,
            description=str(_("LINE Official Account: %(plan)s") % {"plan": checkout.target_plan.display_name}),
        )
    return _settle_now(checkout, result, actor=actor)


def _settle_now(checkout: Checkout, result: ChargeResult, *, actor) -> Checkout:
    """Settle in the request that charged: the gateway has answered, so its answer must not be lost to a
    passing database fault (a lock time-out, a dropped connection). Tried a few times; only if every try
    fails is the checkout left `processing` for reconciliation, which reads the answer back."""
    for attempt in range(1, SETTLE_TRIES):
        try:
            return _settle(checkout, result, actor=actor)
        except OperationalError:
            logger.warning("checkout %s: settling failed (try %s), trying again", checkout.pk, attempt)
            time.sleep(0.05 * attempt)
    return _settle(checkout, result, actor=actor)


def _record_pending_charge(checkout: Checkout, *, expected_total_twd: int, actor, at: datetime):
    """First short transaction: price again under the account's lock, record the charge, hold the code.

    Returns (None, None, None) when another request already did this for the same attempt.
    """
    with transaction.atomic():
        lock_account(checkout.account_id)
        checkout = (
            Checkout.objects.select_for_update(of=("self",))
            .select_related("account", "target_plan")
            .get(pk=checkout.pk)
        )
        if checkout.status != CheckoutStatus.OPEN:
            return None, None, None
        _refuse_while_renewal_pending(checkout.account, at=at)
        in_progress = Checkout.objects.filter(account=checkout.account, status=CheckoutStatus.PROCESSING)
        if in_progress.exclude(pk=checkout.pk).exists():
            # Another admin's upgrade is at the gateway: priced now, this one would ignore that plan change.
            raise ServiceError(
                _("Another payment for this account is in progress. Wait for it to finish, then check the summary."),
                code="payment_in_progress",
            )
        step = checkout_step(checkout)
        if step != SUMMARY:
            raise ServiceError(_("Complete the earlier steps first."), code=f"needs_{step}")
        quote = checkout_quote(checkout, at=at)
        if quote.code_refusal is not None:
            raise CodeNotUsable(quote.code_refusal)
        if quote.total_twd != expected_total_twd:
            raise QuoteChanged(quote)
        method = main_payment_method(checkout.account)
        charge, created = charge_create(
            account=checkout.account,
            amounts=quote,
            plan_code=checkout.target_plan.code,
            payment_method=method,
            idempotency_key=checkout.idempotency_key,
            actor=actor,
        )
        if not created:
            return None, None, None
        if quote.code_applied:
            promo_code_hold(text=quote.code, account=checkout.account, charge=charge, actor=actor)
        move_status(checkout, CheckoutStatus.PROCESSING)
        checkout.charge = charge
        checkout.last_error = ""
        checkout.save(update_fields=["status", "charge", "last_error", "updated_at"])
    return charge, method, quote


def _settle(checkout: Checkout, result: ChargeResult, *, actor) -> Checkout:
    """Second short transaction: the gateway's answer becomes the plan, the redemption, or a message."""
    outcome, reason, reference = result.outcome, result.reason, result.reference
    with transaction.atomic():
        lock_account(checkout.account_id)  # the lock order: the account first
        # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the charge's outer join.
        checkout = (
            Checkout.objects.select_for_update(of=("self",)).select_related("charge", "account").get(pk=checkout.pk)
        )
        charge = checkout.charge
        if checkout.status != CheckoutStatus.PROCESSING or charge.status != ChargeStatus.PENDING:
            logger.error(
                "checkout %s: gateway answer %s for charge %s already settled as %s; check the gateway",
                checkout.pk,
                outcome,
                charge.pk,
                charge.status,
            )
            return checkout
        if outcome == Outcome.SUCCEEDED:
            checkout.charge = charge = charge_mark_succeeded(charge=charge, gateway_reference=reference, actor=actor)
            if charge.deduction_twd or charge.forfeited_twd:
                promo_code_redeem(
                    text=checkout.code,
                    account=checkout.account,
                    charge=charge,
                    applied_twd=charge.deduction_twd,
                    forfeited_twd=charge.forfeited_twd,
                    actor=actor,
                )
            subscription_apply_upgrade(account=checkout.account, plan=checkout.target_plan, charge=charge, actor=actor)
            issue_invoice_for(charge)
            _set_status(checkout, CheckoutStatus.PAID, actor=actor)
        elif outcome == Outcome.DECLINED:
            checkout.charge = charge = charge_mark_failed(charge=charge, reason=reason, actor=actor)
            promo_code_release(charge=charge, actor=actor)
            checkout.attempt += 1
            checkout.last_error = reason[:255]
            _set_status(checkout, CheckoutStatus.OPEN, actor=actor)
        else:
            checkout.last_error = str(_("The payment's result is not known yet. It will be checked with the gateway."))
            checkout.save(update_fields=["last_error", "updated_at"])
    if outcome == Outcome.DECLINED and result.method_gone and charge.payment_method:
        payment_method_mark_expired(method=charge.payment_method, actor=None)
    return checkout


def _set_status(checkout: Checkout, status: str, *, actor) -> None:
    before = snapshot(checkout, "status", "attempt")
    move_status(checkout, status)
    checkout.save(update_fields=["status", "attempt", "last_error", "updated_at"])
    audit_record(
        actor=actor,
        action=f"checkout.{status}",
        obj=checkout,
        account=checkout.account,
        before=before,
        after=snapshot(checkout, "status", "attempt"),
    )


def checkout_reconcile(*, checkout: Checkout) -> bool:
    """Settle a checkout whose payment answer was lost, from the gateway's record. True when settled."""
    charge = checkout.charge
    if checkout.status != CheckoutStatus.PROCESSING or charge is None or charge.payment_method is None:
        return False
    if charge.total_twd == 0:  # paid in full by a code: it never went to the gateway, so there is nothing to ask
        result = ChargeResult(Outcome.SUCCEEDED)
    else:
        result = gateway().charge_status(method=charge.payment_method, order_id=charge.idempotency_key)
    if result.outcome == Outcome.UNKNOWN:
        return False
    if result.outcome == Outcome.ABSENT:
        result = ChargeResult(Outcome.DECLINED, reason=str(_("The payment did not reach the gateway.")))
    _settle(checkout, result, actor=None)
    return True
