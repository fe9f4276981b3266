"""Reads used in more than one place: rows turned into the plain data that pricing takes."""

from datetime import date

from django.conf import settings
from django.db.models import Prefetch, prefetch_related_objects

from accounts.models import Membership, OfficialAccount
from accounts.money import tax_rate
from accounts.periods import month_start
from billing.models import ExtraMessageTier, Plan, PlanPrice
from billing.pricing import PlanTerms, Rules, Tier
from usage.models import MonthlyUsage


def pricing_rules() -> Rules:
    return Rules(tax_rate=tax_rate(), prorate_free_to_paid=settings.BILLING_PRORATE_FREE_TO_PAID)


def _terms_lookups() -> tuple[Prefetch, Prefetch]:
    return (
        Prefetch("prices", queryset=PlanPrice.objects.order_by("-effective_from")),
        Prefetch("prices__tiers", queryset=ExtraMessageTier.objects.order_by("from_message")),
    )


def plans_with_terms():
    """Plans with their prices and tiers prefetched, for `plan_terms` without further queries."""
    return Plan.objects.prefetch_related(*_terms_lookups())


def prefetch_terms(plans: list[Plan]) -> None:
    """Prefetch the prices and tiers of plans already loaded (two queries, whatever their number), for `plan_terms`
    without further queries: a page that needs only a few plans' terms need not load every plan."""
    prefetch_related_objects(plans, *_terms_lookups())


def price_in_force(plan: Plan, month: date) -> PlanPrice:
    """The price (fee and tiers) for the period starting `month`; prefetch `prices` to save queries."""
    start = month_start(month)
    for price in sorted(plan.prices.all(), key=lambda p: p.effective_from, reverse=True):
        if price.effective_from <= start:
            return price
    raise LookupError(f"plan {plan.code} has no price for {start:%Y-%m}")


def plan_fee_twd(plan: Plan, month: date) -> int:
    return price_in_force(plan, month).monthly_fee_twd


def plan_terms(plan: Plan, month: date) -> PlanTerms:
    price = price_in_force(plan, month)
    return PlanTerms(
        code=plan.code,
        rank=plan.rank,
        fee_twd=price.monthly_fee_twd,
        free_message_quota=plan.free_message_quota,
        extra_messages_allowed=plan.extra_messages_allowed,
        tiers=tuple(Tier(t.from_message, t.unit_price_twd) for t in price.tiers.all()),
    )


def billed_messages(account: OfficialAccount, month: date) -> int:
    usage = MonthlyUsage.objects.filter(account=account, month=month_start(month)).first()
    return usage.billed_messages if usage else 0


def accounts_of_user(user):
    return Membership.objects.filter(user=user).select_related("account__subscription__plan").order_by("account__name")
