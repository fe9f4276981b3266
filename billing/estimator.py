"""費用試算, the cost estimator (issue 12 §4): what a month of messages costs on each plan, as pure functions.

A month's cost on a plan is priced by billing.pricing, with the tiers and the tax a renewal bills, so an
estimate is the bill (tests/billing/test_estimator.py proves it for any volume and tier table). Nothing here
reads or writes the database: callers pass the plans as PlanTerms (billing.selectors) and present the result.

Which messages are billed (SPEC §7, the seed's FIRST LINE 各功能對應): a reply sent while the user's reply
token is still valid goes by the Reply API and is free; a reply sent later falls back to Push and is billed.
Segmented messages (分眾訊息) and event messages (事件回應) are always Push. Messages are counted once per
recipient.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy as _

from accounts.errors import ServiceError
from accounts.periods import days_in_month
from billing.pricing import PlanMove, PlanTerms, Rules, extra_messages_fee, plan_move, tax_for

# The shares of Push the 降低費用方式 line prices by default, in per cent.
REPLY_SHARES = (25, 50, 100)


class EstimateRefused(ServiceError):
    """The figures cannot be estimated: a negative count or a share outside 0–100%."""

    def __init__(self, message):
        super().__init__(message, code="bad_estimate_input")


# ---- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureMix:
    """A month of the seed's features. `reply_token_percent` is the share of the conversations' and agents'
    messages sent while the reply token is still valid."""

    scripted_conversations: int = 0  # 對話腳本
    messages_per_conversation: int = 0
    agent_replies: int = 0  # 專員回覆
    segmented_messages: int = 0  # 分眾訊息: sends
    recipients_per_segmented_message: int = 0
    event_messages: int = 0  # 事件回應
    reply_token_percent: int = 0


@dataclass(frozen=True)
class Messages:
    """A month's messages. `movable`: the billed ones the Reply API could carry instead of Push."""

    billed: int
    free: int
    movable: int


def share_of(count: int, percent: int) -> int:
    """`percent`% of `count` messages, in whole messages, halves rounded up (both are non-negative)."""
    return (count * percent + 50) // 100


def _check_counts(*counts: int) -> None:
    if any(count < 0 for count in counts):
        raise EstimateRefused(_("Message counts cannot be negative."))


def _check_percent(percent: int) -> None:
    if not 0 <= percent <= 100:
        raise EstimateRefused(_("The share of replies must be between 0 and 100 per cent."))


def forecast(billed: int, today: date) -> int:
    """The month's billed messages at this month's daily pace so far (today counted): what the usage page and the
    e-mails forecast."""
    return round(billed * days_in_month(today) / today.day)


def messages_for_volume(billed_messages: int) -> Messages:
    """A month given as its number of billed messages. Nothing tells which of them were replies, so every
    one counts as movable: the 降低費用方式 line then prices moving that share of all Push."""
    _check_counts(billed_messages)
    return Messages(billed=billed_messages, free=0, movable=billed_messages)


def messages_for_mix(mix: FeatureMix) -> Messages:
    """A month given as a feature mix: replies in the token's time are free, the rest and all pushes billed."""
    _check_counts(
        mix.scripted_conversations,
        mix.messages_per_conversation,
        mix.agent_replies,
        mix.segmented_messages,
        mix.recipients_per_segmented_message,
        mix.event_messages,
    )
    _check_percent(mix.reply_token_percent)
    replies = mix.scripted_conversations * mix.messages_per_conversation + mix.agent_replies
    free = share_of(replies, mix.reply_token_percent)
    pushed_replies = replies - free
    pushes = mix.segmented_messages * mix.recipients_per_segmented_message + mix.event_messages
    return Messages(billed=pushed_replies + pushes, free=free, movable=pushed_replies)


# ---- outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanCost:
    """A month on one plan: its fee and extra messages before tax (`net_twd`) and after (`total_twd`).
    `sending_stops_at` is the plan's quota when it cannot carry the volume (LINE stops sending there)."""

    plan: str
    rank: int
    fee_twd: int
    extra_messages: int
    extra_messages_twd: int
    net_twd: int
    tax_twd: int
    total_twd: int
    sending_stops_at: int | None

    @property
    def carries(self) -> bool:
        return self.sending_stops_at is None


@dataclass(frozen=True)
class ReplySaving:
    """降低費用方式: `percent`% of the movable messages sent by Reply instead of Push. The saving is on the
    cheapest plan that carries the month, before the move against after it, tax included."""

    percent: int
    moved_messages: int
    billed_messages: int
    cheapest: PlanCost | None
    saving_twd: int | None


@dataclass(frozen=True)
class Estimate:
    """Every plan's cost for the month, by rank; the cheapest that carries it (the smaller on a tie) and what
    moving to it saves against the current plan, tax included and not. A negative saving is what carrying
    the volume costs more than the current plan, which cannot carry it."""

    messages: Messages
    plans: tuple[PlanCost, ...]
    current: PlanCost | None
    cheapest: PlanCost | None
    move: PlanMove | None
    saving_twd: int | None
    saving_net_twd: int | None
    reply_savings: tuple[ReplySaving, ...]


# ---- the arithmetic -------------------------------------------------------------------------


def plan_cost(plan: PlanTerms, billed_messages: int, rules: Rules) -> PlanCost:
    """The month on `plan`: the fee, plus the extra messages a renewal would bill for it."""
    extra_messages, extra_messages_twd = extra_messages_fee(plan, billed_messages)
    net_twd = plan.fee_twd + extra_messages_twd
    tax_twd = tax_for(net_twd, rules)
    carries = plan.extra_messages_allowed or billed_messages <= plan.free_message_quota
    return PlanCost(
        plan=plan.code,
        rank=plan.rank,
        fee_twd=plan.fee_twd,
        extra_messages=extra_messages,
        extra_messages_twd=extra_messages_twd,
        net_twd=net_twd,
        tax_twd=tax_twd,
        total_twd=net_twd + tax_twd,
        sending_stops_at=None if carries else plan.free_message_quota,
    )


def _costs(plans: Sequence[PlanTerms], billed_messages: int, rules: Rules) -> tuple[PlanCost, ...]:
    return tuple(plan_cost(plan, billed_messages, rules) for plan in sorted(plans, key=lambda plan: plan.rank))


def _cheapest(costs: Sequence[PlanCost]) -> PlanCost | None:
    return min((cost for cost in costs if cost.carries), key=lambda cost: (cost.total_twd, cost.rank), default=None)


def reply_saving(*, plans: Sequence[PlanTerms], messages: Messages, rules: Rules, percent: int) -> ReplySaving:
    """What sending `percent`% of the movable messages by Reply would save (the seed's 降低費用方式)."""
    _check_percent(percent)
    moved = share_of(messages.movable, percent)
    before = _cheapest(_costs(plans, messages.billed, rules))
    after = _cheapest(_costs(plans, messages.billed - moved, rules))
    saving_twd = before.total_twd - after.total_twd if before is not None and after is not None else None
    return ReplySaving(
        percent=percent,
        moved_messages=moved,
        billed_messages=messages.billed - moved,
        cheapest=after,
        saving_twd=saving_twd,
    )


def estimate(
    *,
    plans: Sequence[PlanTerms],
    messages: Messages,
    rules: Rules,
    current: str | None = None,
    reply_shares: Sequence[int] = REPLY_SHARES,
) -> Estimate:
    """The month's cost on every plan in `plans`, and which to choose. `current`: the account's plan code."""
    costs = _costs(plans, messages.billed, rules)
    by_code = {cost.plan: cost for cost in costs}
    now = by_code.get(current)
    cheapest = _cheapest(costs)
    move = saving_twd = saving_net_twd = None
    if now is not None and cheapest is not None:
        move = plan_move(now, cheapest)
        saving_twd = now.total_twd - cheapest.total_twd
        saving_net_twd = now.net_twd - cheapest.net_twd
    return Estimate(
        messages=messages,
        plans=costs,
        current=now,
        cheapest=cheapest,
        move=move,
        saving_twd=saving_twd,
        saving_net_twd=saving_net_twd,
        reply_savings=tuple(
            reply_saving(plans=plans, messages=messages, rules=rules, percent=percent) for percent in reply_shares
        ),
    )
