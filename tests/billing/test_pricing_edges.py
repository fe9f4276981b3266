"""The edges of billing.pricing that mutation testing found untested (issue 12 §6): tier tables of three and
four tiers, volumes one message either side of a rounding edge, the lines of a quote adding up to its net,
held and expired codes. Plain data, no database; the amounts are worked out by hand in the comments."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.periods import BILLING_TZ
from billing.pricing import PlanTerms, Tier, UpgradeRefused, extra_messages_fee, price_renewal, price_upgrade
from promos.eligibility import CodeRefusal
from tests.billing.test_pricing import AT, BUYER, FLAT, HIGH, MEDIUM, PLANS, PRORATED, code_of, renewal, upgrade


def high_with(*tiers: tuple[int, str]) -> PlanTerms:
    """The High plan (NT$1,200, 6,000 free messages) with another tier table: example tables, not LINE's."""
    return PlanTerms("high", 3, 1200, 6000, True, tuple(Tier(start, Decimal(price)) for start, price in tiers))


# Given out of order on purpose: pricing sorts the tiers by their first message.
THREE_TIERS = high_with((1_000_001, "0.011"), (6001, "0.2"), (100_001, "0.1"))
FOUR_TIERS = high_with((6001, "0.2"), (50_001, "0.15"), (100_001, "0.1"), (1_000_001, "0.011"))


# ---- tables of three and four tiers ---------------------------------------------------------


def test_a_200000_message_month_on_three_tiers_is_priced_tier_by_tier():
    # 6,001–100,000: 94,000 × 0.2 = 18,800; 100,001–200,000: 100,000 × 0.1 = 10,000
    assert extra_messages_fee(THREE_TIERS, 200_000) == (194_000, 28_800)


def test_a_month_reaching_the_last_of_three_tiers_pays_each_tier_its_own_price():
    # 18,800 + 900,000 × 0.1 = 90,000 + 200,000 × 0.011 = 2,200
    assert extra_messages_fee(THREE_TIERS, 1_200_000) == (1_194_000, 111_000)


@pytest.mark.parametrize(
    ("messages", "extra", "fee"),
    [
        (50_000, 44_000, 8800),  # 44,000 × 0.2
        (100_000, 94_000, 16_300),  # 8,800 + 50,000 × 0.15 = 7,500
        (200_000, 194_000, 26_300),  # 16,300 + 100,000 × 0.1 = 10,000
        (1_200_000, 1_194_000, 108_500),  # 16,300 + 900,000 × 0.1 + 200,000 × 0.011 = 2,200
    ],
)
def test_four_tiers_are_priced_tier_by_tier(messages, extra, fee):
    assert extra_messages_fee(FOUR_TIERS, messages) == (extra, fee)


def test_a_high_renewal_after_a_200000_message_month_on_three_tiers():
    quote = price_renewal(
        plan=THREE_TIERS, month=date(2026, 6, 1), at=AT, buyer=BUYER, rules=FLAT, previous_billed_messages=200_000
    )
    # net 1,200 + 28,800 = 30,000; tax 1,500
    assert (quote.extra_messages, quote.extra_messages_twd) == (194_000, 28_800)
    assert (quote.net_twd, quote.tax_twd, quote.total_twd) == (30_000, 1500, 31_500)


# ---- rounding edges: one message either side --------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "extra", "fee"),
    [
        (6002, 2, 0),  # 0.4 rounds down; a third message (0.6) would round up
        (6007, 7, 1),  # 1.4 → 1
        (6008, 8, 2),  # 1.6 → 2
        (1_000_000, 994_000, 198_800),  # the last message of the NT$0.2 tier
        (1_000_045, 994_045, 198_800),  # 198,800 + 45 × 0.011 = 0.495 → 198,800
        (1_000_046, 994_046, 198_801),  # 198,800 + 46 × 0.011 = 0.506 → 198,801
    ],
)
def test_one_message_more_or_less_in_a_tier_moves_the_bill_across_a_half_nt(messages, extra, fee):
    assert extra_messages_fee(HIGH, messages) == (extra, fee)


# A first tier seven messages wide (6,001–6,007, NT$1.4) puts a half NT$ at the next tier's first message.
NARROW = high_with((6001, "0.2"), (6008, "0.15"), (1_000_001, "0.011"))


@pytest.mark.parametrize(
    ("messages", "fee"),
    [
        (6007, 1),  # 7 × 0.2 = 1.4
        (6008, 2),  # 1.4 + 1 × 0.15 = 1.55: the one message of the second tier is priced
        (6009, 2),  # 1.4 + 0.3 = 1.7
    ],
)
def test_the_first_message_of_a_tier_is_priced_at_that_tier(messages, fee):
    assert extra_messages_fee(NARROW, messages)[1] == fee


def test_messages_within_the_quota_are_never_priced_even_when_a_tier_starts_earlier():
    # A tier typed as starting at message 1: only the 2 messages past the 6,000 free ones are priced (0.4 → 0).
    plan = high_with((1, "0.2"))
    assert extra_messages_fee(plan, 6002) == (2, 0)
    assert extra_messages_fee(plan, 6003) == (3, 1)


def test_a_renewal_told_of_no_usage_bills_no_extra_messages_even_without_a_free_quota():
    pay_as_you_go = PlanTerms("payg", 4, 0, 0, True, (Tier(1, Decimal("0.5")),))
    quote = price_renewal(plan=pay_as_you_go, month=date(2026, 6, 1), at=AT, buyer=BUYER, rules=FLAT)
    assert (quote.extra_messages, quote.extra_messages_twd, quote.total_twd) == (0, 0, 0)


# ---- the lines of a quote -----------------------------------------------------------------------


def test_the_extra_messages_line_says_what_it_is_how_many_and_how_much():
    quote = renewal("high", previous_billed_messages=16_000)
    assert list(quote.lines) == [
        {"kind": "fee", "plan": "high", "amount_twd": 1200},
        {"kind": "extra_messages", "messages": 10_000, "amount_twd": 2000},
        {"kind": "tax", "rate": "0.05", "amount_twd": 160},
    ]


def test_a_code_deducted_in_full_keeps_its_line_when_nothing_is_forfeited():
    # given: a NT$500 code on a NT$800 charge: 500 deducted, nothing forfeited
    # when
    bought = upgrade("light", "medium", code=code_of(face_value_twd=500))
    renewed = renewal("medium", code=code_of(face_value_twd=500))
    # then
    for quote in (bought, renewed):
        assert list(quote.lines) == [
            {"kind": "fee", "plan": "medium", "amount_twd": 800},
            {"kind": "deduction", "code": "ABCDEFGHJKMNPQRSTUVW", "amount_twd": -500, "forfeited_twd": 0},
            {"kind": "tax", "rate": "0.05", "amount_twd": 15},
        ]
        assert quote.net_twd == 300


@st.composite
def quotes(draw):
    """A renewal or an upgrade with any fee, usage and code (or none)."""
    fee_twd = draw(st.integers(min_value=0, max_value=5000))
    quota = draw(st.integers(min_value=0, max_value=10_000))
    tiers = (Tier(quota + 1, draw(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1"), places=3))),)
    plan = PlanTerms("high", 3, fee_twd, quota, draw(st.booleans()), tiers)
    code = draw(st.none() | st.integers(min_value=1, max_value=5000).map(lambda face: code_of(face_value_twd=face)))
    if draw(st.booleans()):
        return price_renewal(
            plan=plan,
            month=date(2026, 6, 1),
            at=AT,
            buyer=BUYER,
            rules=FLAT,
            previous_billed_messages=draw(st.integers(min_value=0, max_value=2_000_000)),
            code=code,
        )
    current = PlanTerms("medium", 2, draw(st.integers(min_value=0, max_value=fee_twd)), 3000)
    return price_upgrade(current=current, target=plan, at=AT, buyer=BUYER, rules=FLAT, code=code)


@settings(max_examples=300, deadline=None)
@given(quote=quotes())
def test_the_lines_other_than_tax_add_up_to_the_net_in_every_case(quote):
    lines = list(quote.lines)
    assert sum(line["amount_twd"] for line in lines if line["kind"] != "tax") == quote.net_twd
    assert [line["amount_twd"] for line in lines if line["kind"] == "tax"] == [quote.tax_twd]
    assert quote.total_twd == quote.net_twd + quote.tax_twd
    # an applied code always has its own line, with what it forfeited
    deductions = [line for line in lines if line["kind"] == "deduction"]
    assert len(deductions) == (1 if quote.code_applied else 0)
    if deductions:
        assert -deductions[0]["amount_twd"] == quote.deduction_twd
        assert deductions[0]["forfeited_twd"] == quote.forfeited_twd


# ---- codes that do not apply ------------------------------------------------------------------


def test_a_code_held_by_another_payment_is_refused_as_in_use():
    quote = upgrade("light", "medium", code=code_of(status="held"))
    assert quote.code_refusal == CodeRefusal.IN_USE
    assert not quote.code_applied
    assert (quote.deduction_twd, quote.forfeited_twd, quote.total_twd) == (0, 0, 840)


def test_an_expired_code_is_refused_even_while_its_window_is_open():
    # AT (2026-06-10) is inside the window (2026-03-01 to 2026-12-31), but staff expired the code
    quote = renewal("medium", code=code_of(status="expired"))
    assert quote.code_refusal == CodeRefusal.EXPIRED
    assert (quote.deduction_twd, quote.total_twd) == (0, 840)


# ---- what a quote says about itself ---------------------------------------------------------


def test_a_renewal_for_a_typed_code_that_does_not_exist_reports_it_unknown():
    quote = price_renewal(
        plan=MEDIUM, month=date(2026, 6, 1), at=AT, buyer=BUYER, rules=FLAT, code=None, code_entered=True
    )
    assert quote.code_refusal == CodeRefusal.UNKNOWN
    assert quote.total_twd == 840


def test_an_upgrade_quote_names_its_purpose_plans_and_month_and_no_code():
    quote = upgrade("medium", "high")
    assert (quote.purpose, quote.charge_kind, quote.from_plan, quote.to_plan) == (
        "upgrade",
        "upgrade_to_high",
        "medium",
        "high",
    )
    assert quote.period_start == date(2026, 6, 1)
    assert (quote.code, quote.code_refusal, quote.code_applied) == (None, None, False)


def test_a_renewal_quote_names_the_plan_it_leaves_the_plan_it_renews_into_and_the_month():
    quote = price_renewal(
        plan=MEDIUM,
        month=date(2026, 7, 20),
        at=datetime(2026, 7, 1, 3, tzinfo=BILLING_TZ),
        buyer=BUYER,
        rules=FLAT,
        previous_plan=HIGH,
        previous_billed_messages=6000,
    )
    assert (quote.purpose, quote.charge_kind, quote.from_plan, quote.to_plan) == (
        "renewal",
        "renewal_medium",
        "high",
        "medium",
    )
    assert quote.period_start == date(2026, 7, 1)
    assert (quote.code, quote.code_refusal) == (None, None)


def test_a_prorated_upgrade_keeps_the_whole_fee_it_was_prorated_from():
    at = datetime(2026, 4, 16, 12, tzinfo=BILLING_TZ)  # 15 of 30 days left
    quote = upgrade("light", "high", at=at, rules=PRORATED)
    assert (quote.proration.days_left, quote.proration.days_in_month, quote.proration.full_fee_twd) == (15, 30, 1200)
    assert quote.fee_twd == 600


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("medium", "medium", "The account is already on this plan."),
        ("high", "light", "A smaller plan is a downgrade: it is scheduled for next month, not bought."),
    ],
)
def test_a_refused_upgrade_says_why_with_its_code(current, target, message):
    with pytest.raises(UpgradeRefused) as refused:
        price_upgrade(current=PLANS[current], target=PLANS[target], at=AT, buyer=BUYER, rules=FLAT)
    assert refused.value.code == "not_an_upgrade"
    with translation.override("en"):
        assert str(refused.value.message) == message
