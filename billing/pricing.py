"""The pricing rules (SPEC §2–3), as pure functions over plain data.

One function family prices the checkout summary, the purchase and the renewal, so what an
admin is shown is what is charged. Nothing here reads or writes the database: callers turn
rows into the dataclasses below (see billing.selectors) and store the Quote they get back.

Money is whole NT$ in ints. The only Decimals are per-message rates and the tax rate; each
line is turned into whole NT$ once, by `round_half_up_twd`.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from django.utils.translation import gettext_lazy as _

from accounts.errors import ServiceError
from accounts.money import round_half_up_twd, tax_rate
from accounts.periods import days_in_month, days_left_in_month, local_date, month_start
from promos.eligibility import Buyer, CodeRefusal, CodeTerms, code_refusal

LIGHT, MEDIUM, HIGH = "light", "medium", "high"
UPGRADE, RENEWAL, EXTRA_MESSAGES = "upgrade", "renewal", "messages"


# ---- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    from_message: int
    unit_price_twd: Decimal


@dataclass(frozen=True)
class PlanTerms:
    code: str
    rank: int
    fee_twd: int
    free_message_quota: int
    extra_messages_allowed: bool = False
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True)
class Rules:
    tax_rate: Decimal = field(default_factory=tax_rate)
    prorate_free_to_paid: bool = False


# ---- outcomes -------------------------------------------------------------------------------


class UpgradeRefused(ServiceError):
    """The target plan is not an upgrade of the current one."""

    def __init__(self, message):
        super().__init__(message, code="not_an_upgrade")


@dataclass(frozen=True)
class Proration:
    days_left: int
    days_in_month: int
    full_fee_twd: int


@dataclass(frozen=True)
class Quote:
    purpose: str
    charge_kind: str | None
    from_plan: str | None
    to_plan: str
    period_start: date
    fee_twd: int
    deduction_twd: int
    forfeited_twd: int
    extra_messages: int
    extra_messages_twd: int
    net_twd: int
    tax_twd: int
    total_twd: int
    code: str | None = None
    code_refusal: CodeRefusal | None = None
    proration: Proration | None = None
    lines: tuple[dict, ...] = field(default=())

    @property
    def code_applied(self) -> bool:
        return self.code is not None and self.code_refusal is None


# ---- rules ----------------------------------------------------------------------------------


class Ranked(Protocol):
    rank: int


class PlanMove(StrEnum):
    """What moving from one plan to another is (SPEC §2): an upgrade is bought now, a downgrade is scheduled."""

    NONE = "none"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"


def plan_move(current: Ranked, target: Ranked) -> PlanMove:
    """The one rule of which way a plan change goes: by rank, a higher one being a bigger plan.

    Takes plans or their terms alike (anything with a `rank`).
    """
    if target.rank > current.rank:
        return PlanMove.UPGRADE
    if target.rank < current.rank:
        return PlanMove.DOWNGRADE
    return PlanMove.NONE


def tax_for(net_twd: int, rules: Rules) -> int:
    return round_half_up_twd(Decimal(net_twd) * rules.tax_rate)


@dataclass(frozen=True)
class TierUse:
    """How many of a month's extra messages fell in one tier, and what they cost there (unrounded)."""

    from_message: int
    unit_price_twd: Decimal
    messages: int
    amount: Decimal


def extra_messages_by_tier(plan: PlanTerms, billed_messages: int, cap: int | None = None) -> list[TierUse]:
    """A month's extra messages on `plan`, tier by tier (the tiers they reach only).

    `cap` is the most extra messages the admin allowed that month (None: no cap). LINE stops sending
    at the cap, so a count beyond the quota plus the cap was never sent and is never billed.
    """
    if cap is not None:
        billed_messages = min(billed_messages, plan.free_message_quota + cap)
    if not plan.extra_messages_allowed or billed_messages <= plan.free_message_quota:
        return []
    tiers = sorted(plan.tiers, key=lambda tier: tier.from_message)
    uses = []
    for index, tier in enumerate(tiers):
        tier_end = tiers[index + 1].from_message - 1 if index + 1 < len(tiers) else billed_messages
        in_tier = min(billed_messages, tier_end) - max(tier.from_message, plan.free_message_quota + 1) + 1
        if in_tier > 0:
            uses.append(TierUse(tier.from_message, tier.unit_price_twd, in_tier, in_tier * tier.unit_price_twd))
    return uses


def extra_messages_fee(plan: PlanTerms, billed_messages: int, cap: int | None = None) -> tuple[int, int]:
    """(extra messages, their fee in NT$) for a month on `plan`, tier by tier, rounded once (see
    `extra_messages_by_tier`, and its `cap`)."""
    uses = extra_messages_by_tier(plan, billed_messages, cap)
    return sum(use.messages for use in uses), round_half_up_twd(sum((use.amount for use in uses), Decimal(0)))


def upgrade_charge_kind(target: PlanTerms) -> str | None:
    return {MEDIUM: "upgrade_to_medium", HIGH: "upgrade_to_high"}.get(target.code)


def renewal_charge_kind(plan: PlanTerms) -> str | None:
    return {MEDIUM: "renewal_medium", HIGH: "renewal_high"}.get(plan.code)


def price_upgrade(
    *,
    current: PlanTerms,
    target: PlanTerms,
    at: datetime,
    buyer: Buyer,
    rules: Rules,
    code: CodeTerms | None = None,
    code_entered: bool = False,
) -> Quote:
    """The charge for moving from `current` to `target` now: the fee difference for this month.

    Free→paid upgrades are prorated by the days left (today counted) when the rule is on;
    paid→paid upgrades always charge the flat difference (LINE's medium→high NT$400).
    `code_entered` with `code=None` means the admin typed a code that does not exist.
    """
    move = plan_move(current, target)
    if move == PlanMove.NONE:
        raise UpgradeRefused(_("The account is already on this plan."))
    if move == PlanMove.DOWNGRADE:
        raise UpgradeRefused(_("A smaller plan is a downgrade: it is scheduled for next month, not bought."))
    today = local_date(at)
    proration = None
    fee_twd = target.fee_twd - current.fee_twd
    if rules.prorate_free_to_paid and current.fee_twd == 0:
        proration = Proration(days_left_in_month(today), days_in_month(today), fee_twd)
        fee_twd = round_half_up_twd(Decimal(fee_twd * proration.days_left) / proration.days_in_month)
    return _quote(
        purpose=UPGRADE,
        charge_kind=upgrade_charge_kind(target),
        from_plan=current.code,
        to_plan=target.code,
        period_start=month_start(today),
        fee_twd=fee_twd,
        extra=(0, 0),
        at=at,
        buyer=buyer,
        rules=rules,
        code=code,
        code_entered=code_entered,
        proration=proration,
    )


def price_renewal(
    *,
    plan: PlanTerms,
    month: date,
    at: datetime,
    buyer: Buyer,
    rules: Rules,
    previous_plan: PlanTerms | None = None,
    previous_billed_messages: int = 0,
    previous_extra_message_cap: int | None = None,
    code: CodeTerms | None = None,
    code_entered: bool = False,
) -> Quote:
    """The charge on renewing into `month` on `plan`: its fee, plus last month's extra messages.

    Extra messages are priced on the plan the account had last month (`previous_plan`, by
    default `plan`), no more of them than last month's cap (`previous_extra_message_cap`,
    None for none), and are never reduced by a code. A Light renewal leaves a code unused.
    """
    extra = extra_messages_fee(previous_plan or plan, previous_billed_messages, previous_extra_message_cap)
    return _quote(
        purpose=RENEWAL,
        charge_kind=renewal_charge_kind(plan),
        from_plan=(previous_plan or plan).code,
        to_plan=plan.code,
        period_start=month_start(month),
        fee_twd=plan.fee_twd,
        extra=extra,
        at=at,
        buyer=buyer,
        rules=rules,
        code=code,
        code_entered=code_entered,
        proration=None,
    )


def price_extra_messages(
    *, plan: PlanTerms, month: date, billed_messages: int, cap: int | None, at: datetime, rules: Rules
) -> Quote:
    """A month's extra messages on their own: what `bill_extra_messages` charges once the month's figure is
    final, when the renewal went without them. Priced as the renewal would have priced them (the plan and the
    cap in force that month); no fee, no code."""
    return _quote(
        purpose=EXTRA_MESSAGES,
        charge_kind=None,
        from_plan=plan.code,
        to_plan=plan.code,
        period_start=month_start(month),
        fee_twd=0,
        extra=extra_messages_fee(plan, billed_messages, cap),
        at=at,
        buyer=None,
        rules=rules,
        code=None,
        code_entered=False,
        proration=None,
    )


def _quote(
    *,
    purpose,
    charge_kind,
    from_plan,
    to_plan,
    period_start,
    fee_twd,
    extra,
    at,
    buyer,
    rules,
    code,
    code_entered,
    proration,
) -> Quote:
    refusal = None
    if code is not None or code_entered:
        if fee_twd == 0:
            refusal = CodeRefusal.NOTHING_TO_DEDUCT
        else:
            refusal = code_refusal(code=code, buyer=buyer, at=at, charge_kind=charge_kind)
    deduction_twd = forfeited_twd = 0
    if code is not None and refusal is None:
        deduction_twd = min(code.face_value_twd, fee_twd)
        forfeited_twd = code.face_value_twd - deduction_twd
    extra_messages, extra_messages_twd = extra
    net_twd = fee_twd - deduction_twd + extra_messages_twd
    tax_twd = tax_for(net_twd, rules)
    # a month's extra messages billed on their own carry no fee line
    lines = [] if purpose == EXTRA_MESSAGES else [{"kind": "fee", "plan": to_plan, "amount_twd": fee_twd}]
    if deduction_twd or forfeited_twd:
        lines.append(
            {"kind": "deduction", "code": code.code, "amount_twd": -deduction_twd, "forfeited_twd": forfeited_twd}
        )
    if extra_messages:
        lines.append({"kind": "extra_messages", "messages": extra_messages, "amount_twd": extra_messages_twd})
    lines.append({"kind": "tax", "rate": str(rules.tax_rate), "amount_twd": tax_twd})
    return Quote(
        purpose=purpose,
        charge_kind=charge_kind,
        from_plan=from_plan,
        to_plan=to_plan,
        period_start=period_start,
        fee_twd=fee_twd,
        deduction_twd=deduction_twd,
        forfeited_twd=forfeited_twd,
        extra_messages=extra_messages,
        extra_messages_twd=extra_messages_twd,
        net_twd=net_twd,
        tax_twd=tax_twd,
        total_twd=net_twd + tax_twd,
        code=code.code if code is not None else None,
        code_refusal=refusal,
        proration=proration,
        lines=tuple(lines),
    )
