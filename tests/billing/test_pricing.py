"""The pricing rules of SPEC §2–3, on plain data: no database."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.periods import BILLING_TZ
from billing.pricing import (
    PlanTerms,
    Rules,
    Tier,
    UpgradeRefused,
    extra_messages_fee,
    price_extra_messages,
    price_renewal,
    price_upgrade,
    tax_for,
)
from promos.codes import normalise_code
from promos.eligibility import Buyer, CodeRefusal, CodeTerms

LIGHT = PlanTerms("light", 1, 0, 200)
MEDIUM = PlanTerms("medium", 2, 800, 3000)
HIGH = PlanTerms("high", 3, 1200, 6000, True, (Tier(6001, Decimal("0.2")), Tier(1_000_001, Decimal("0.011"))))
PLANS = {"light": LIGHT, "medium": MEDIUM, "high": HIGH}

WINDOW_START = datetime(2026, 3, 1, 0, 0, 0, tzinfo=BILLING_TZ)
WINDOW_END = datetime(2026, 12, 31, 23, 59, 59, tzinfo=BILLING_TZ)
AT = datetime(2026, 6, 10, 14, 0, tzinfo=BILLING_TZ)
FLAT = Rules(tax_rate=Decimal("0.05"), prorate_free_to_paid=False)
PRORATED = Rules(tax_rate=Decimal("0.05"), prorate_free_to_paid=True)
BUYER = Buyer(account_id=7, region="TW", main_payment_method_kind="card")


def code_of(face_value_twd=1200, **changes) -> CodeTerms:
    terms = CodeTerms(
        code="ABCDEFGHJKMNPQRSTUVW",
        status="available",
        registered_account_id=None,
        face_value_twd=face_value_twd,
        valid_from=WINDOW_START,
        valid_until=WINDOW_END,
        regions=frozenset({"TW"}),
        payment_method_kinds=frozenset({"card", "linepay"}),
        charge_kinds=frozenset({"upgrade_to_medium", "upgrade_to_high", "renewal_medium", "renewal_high"}),
    )
    return replace(terms, **changes)


def upgrade(current, target, code=None, at=AT, rules=FLAT, buyer=BUYER):
    return price_upgrade(current=PLANS[current], target=PLANS[target], at=at, buyer=buyer, rules=rules, code=code)


def renewal(plan, code=None, at=AT, buyer=BUYER, **kwargs):
    return price_renewal(plan=PLANS[plan], month=date(2026, 6, 1), at=at, buyer=buyer, rules=FLAT, code=code, **kwargs)


# ---- the seed's table with the NT$1,200 code --------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "fee", "deduction", "forfeited"),
    [
        ("light", "medium", 800, 800, 400),
        ("light", "high", 1200, 1200, 0),
        ("medium", "high", 400, 400, 800),
    ],
)
def test_upgrade_with_the_1200_code_matches_the_seed(current, target, fee, deduction, forfeited):
    # when
    quote = upgrade(current, target, code=code_of())
    # then
    assert (quote.fee_twd, quote.deduction_twd, quote.forfeited_twd) == (fee, deduction, forfeited)
    assert quote.net_twd == 0
    assert quote.tax_twd == 0
    assert quote.total_twd == 0
    assert quote.code_applied


@pytest.mark.parametrize(("plan", "deduction", "forfeited"), [("medium", 800, 400), ("high", 1200, 0)])
def test_renewal_with_the_1200_code_matches_the_seed(plan, deduction, forfeited):
    quote = renewal(plan, code=code_of())
    assert (quote.deduction_twd, quote.forfeited_twd, quote.total_twd) == (deduction, forfeited, 0)
    assert quote.charge_kind == f"renewal_{plan}"


def test_a_500_code_deducts_in_part_and_forfeits_nothing():
    quote = upgrade("light", "medium", code=code_of(face_value_twd=500))
    assert quote.deduction_twd == 500
    assert quote.forfeited_twd == 0
    assert quote.net_twd == 300
    assert quote.tax_twd == 15
    assert quote.total_twd == 315


def test_medium_renewal_without_a_code_costs_840():
    quote = renewal("medium")
    assert (quote.fee_twd, quote.net_twd, quote.tax_twd, quote.total_twd) == (800, 800, 40, 840)
    assert quote.code is None
    assert quote.code_refusal is None


@pytest.mark.parametrize(
    ("face_value", "net", "tax"),
    [
        (790, 10, 1),  # 0.5 rounds up
        (791, 9, 0),  # 0.45 rounds down
        (770, 30, 2),  # 1.5 rounds up
        (787, 13, 1),  # 0.65 rounds up to 1
        (783, 17, 1),  # 0.85 → 1
    ],
)
def test_tax_is_rounded_half_up_on_a_net_not_a_multiple_of_20(face_value, net, tax):
    quote = upgrade("light", "medium", code=code_of(face_value_twd=face_value))
    assert quote.net_twd == net
    assert quote.tax_twd == tax
    assert quote.total_twd == net + tax


def test_tax_rate_is_a_setting():
    assert tax_for(1000, Rules(tax_rate=Decimal("0.10"))) == 100


def test_lines_are_snapshots_of_every_amount():
    quote = upgrade("medium", "high", code=code_of())
    assert list(quote.lines) == [
        {"kind": "fee", "plan": "high", "amount_twd": 400},
        {"kind": "deduction", "code": "ABCDEFGHJKMNPQRSTUVW", "amount_twd": -400, "forfeited_twd": 800},
        {"kind": "tax", "rate": "0.05", "amount_twd": 0},
    ]


# ---- refused changes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [("high", "medium"), ("high", "light"), ("medium", "light"), ("light", "light"), ("high", "high")],
)
def test_downgrades_and_same_plan_are_not_upgrades(current, target):
    with pytest.raises(UpgradeRefused):
        upgrade(current, target)


def test_a_light_renewal_charges_nothing_and_leaves_the_code_unused():
    quote = renewal("light", code=code_of())
    assert quote.total_twd == 0
    assert quote.deduction_twd == 0
    assert quote.forfeited_twd == 0
    assert not quote.code_applied
    assert quote.code_refusal == CodeRefusal.NOTHING_TO_DEDUCT


# ---- when a code does not apply -------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "refusal"),
    [
        (WINDOW_START - timedelta(seconds=1), CodeRefusal.NOT_YET_VALID),
        (WINDOW_START, None),
        (WINDOW_END, None),
        (WINDOW_END + timedelta(seconds=1), CodeRefusal.EXPIRED),
    ],
)
def test_the_window_holds_to_the_second(at, refusal):
    quote = upgrade("light", "medium", code=code_of(), at=at)
    assert quote.code_refusal == refusal
    assert quote.deduction_twd == (800 if refusal is None else 0)


@pytest.mark.parametrize(
    ("code", "buyer", "refusal"),
    [
        (code_of(), replace(BUYER, region="JP"), CodeRefusal.WRONG_REGION),
        (
            code_of(payment_method_kinds=frozenset({"card"})),
            replace(BUYER, main_payment_method_kind="linepay"),
            CodeRefusal.WRONG_PAYMENT_METHOD,
        ),
        (code_of(), replace(BUYER, main_payment_method_kind=None), CodeRefusal.NO_PAYMENT_METHOD),
        (code_of(status="redeemed"), BUYER, CodeRefusal.REDEEMED),
        (code_of(status="void"), BUYER, CodeRefusal.VOID),
        (code_of(status="registered", registered_account_id=99), BUYER, CodeRefusal.REGISTERED_ELSEWHERE),
        (code_of(charge_kinds=frozenset({"renewal_high"})), BUYER, CodeRefusal.WRONG_CHARGE),
    ],
)
def test_a_code_that_does_not_apply_deducts_nothing_and_says_why(code, buyer, refusal):
    quote = upgrade("light", "medium", code=code, buyer=buyer)
    assert quote.code_refusal == refusal
    assert str(refusal.label)
    assert (quote.deduction_twd, quote.forfeited_twd, quote.total_twd) == (0, 0, 840)


def test_a_code_registered_to_this_account_applies():
    quote = upgrade("light", "high", code=code_of(status="registered", registered_account_id=BUYER.account_id))
    assert quote.deduction_twd == 1200


def test_a_typed_code_that_does_not_exist_is_reported_unknown():
    quote = price_upgrade(current=LIGHT, target=MEDIUM, at=AT, buyer=BUYER, rules=FLAT, code=None, code_entered=True)
    assert quote.code_refusal == CodeRefusal.UNKNOWN
    assert quote.total_twd == 840


@pytest.mark.parametrize(
    "typed",
    [
        "abcd-efgh-jkmn-pqrs-tuvw",
        "ABCD EFGH JKMN PQRS TUVW",
        " abcdefghjkmnpqrstuvw ",
        "ＡＢＣＤ－ＥＦＧＨ－ＪＫＭＮ－ＰＱＲＳ－ＴＵＶＷ",
    ],
)
def test_codes_are_entered_in_any_case_with_dashes_and_spaces(typed):
    assert normalise_code(typed) == "ABCDEFGHJKMNPQRSTUVW"


# ---- proration --------------------------------------------------------------------------------

MONTHS = {28: (2027, 2), 29: (2028, 2), 30: (2026, 4), 31: (2026, 5)}


@pytest.mark.parametrize("length", [28, 29, 30, 31])
@pytest.mark.parametrize("day", ["first", "fifteenth", "last"])
def test_proration_off_charges_the_whole_difference_on_any_day(length, day):
    year, month = MONTHS[length]
    at = datetime(year, month, {"first": 1, "fifteenth": 15, "last": length}[day], 12, tzinfo=BILLING_TZ)
    assert upgrade("light", "medium", at=at).fee_twd == 800
    assert upgrade("light", "high", at=at).fee_twd == 1200


@pytest.mark.parametrize(
    ("length", "day", "medium_fee", "high_fee"),
    [
        (28, 1, 800, 1200),
        (28, 15, 400, 600),
        (28, 28, 29, 43),  # 800/28 = 28.57; 1200/28 = 42.86
        (29, 1, 800, 1200),
        (29, 15, 414, 621),
        (29, 29, 28, 41),  # 800×15/29 = 413.79; 1200/29 = 41.38
        (30, 1, 800, 1200),
        (30, 15, 427, 640),
        (30, 30, 27, 40),  # 800×16/30 = 426.67
        (31, 1, 800, 1200),
        (31, 15, 439, 658),
        (31, 31, 26, 39),  # 800×17/31 = 438.71; 1200×17/31 = 658.06
    ],
)
def test_proration_on_charges_the_days_left_with_today(length, day, medium_fee, high_fee):
    year, month = MONTHS[length]
    at = datetime(year, month, day, 12, tzinfo=BILLING_TZ)
    medium = upgrade("light", "medium", at=at, rules=PRORATED)
    high = upgrade("light", "high", at=at, rules=PRORATED)
    assert medium.fee_twd == medium_fee
    assert high.fee_twd == high_fee
    assert medium.proration.days_in_month == length
    assert medium.proration.days_left == length - day + 1


def test_proration_never_touches_a_paid_to_paid_upgrade():
    at = datetime(2026, 5, 31, 12, tzinfo=BILLING_TZ)
    quote = upgrade("medium", "high", at=at, rules=PRORATED)
    assert quote.fee_twd == 400
    assert quote.proration is None


def test_proration_counts_the_taipei_day_at_midnight():
    # 23:59:59 on the 14th is still the 14th in Taipei; a second later it is the 15th.
    before = datetime(2026, 5, 14, 23, 59, 59, tzinfo=BILLING_TZ)
    after = datetime(2026, 5, 15, 0, 0, 0, tzinfo=BILLING_TZ)
    assert upgrade("light", "medium", at=before, rules=PRORATED).proration.days_left == 18
    assert upgrade("light", "medium", at=after, rules=PRORATED).proration.days_left == 17
    # The same instants written in UTC price the same: Taipei's calendar decides.
    utc_before = before.astimezone(UTC)
    assert upgrade("light", "medium", at=utc_before, rules=PRORATED).fee_twd == 465  # 800 × 18 / 31


def test_the_month_boundary_is_taipei_midnight_not_utc():
    # 2026-05-31 23:59:59 in Taipei is 15:59:59 UTC the same day; one second later it is June in Taipei.
    last_second = datetime(2026, 5, 31, 23, 59, 59, tzinfo=BILLING_TZ)
    first_second = datetime(2026, 6, 1, 0, 0, 0, tzinfo=BILLING_TZ)
    assert upgrade("light", "medium", at=last_second).period_start == date(2026, 5, 1)
    assert upgrade("light", "medium", at=first_second).period_start == date(2026, 6, 1)
    assert upgrade("light", "medium", at=last_second, rules=PRORATED).fee_twd == 26
    assert upgrade("light", "medium", at=first_second, rules=PRORATED).fee_twd == 800


def test_a_prorated_fee_caps_the_deduction_and_the_rest_is_forfeited():
    at = datetime(2026, 4, 16, 12, tzinfo=BILLING_TZ)  # 15 of 30 days left
    quote = upgrade("light", "medium", code=code_of(), at=at, rules=PRORATED)
    assert quote.fee_twd == 400
    assert quote.deduction_twd == 400
    assert quote.forfeited_twd == 800


# ---- extra messages ---------------------------------------------------------------------------


def test_extra_messages_are_priced_tier_by_tier_and_rounded_once():
    assert extra_messages_fee(HIGH, 6000) == (0, 0)
    assert extra_messages_fee(HIGH, 6001) == (1, 0)  # NT$0.2 rounds to 0
    assert extra_messages_fee(HIGH, 6003) == (3, 1)  # NT$0.6 → 1
    assert extra_messages_fee(HIGH, 16000) == (10000, 2000)
    # 994,000 at 0.2 plus 10 at 0.011 = 198,800.11
    assert extra_messages_fee(HIGH, 1_000_010) == (994_010, 198_800)
    assert extra_messages_fee(MEDIUM, 5000) == (0, 0)  # not allowed on medium: sending stops at the quota


def test_a_code_never_reduces_extra_messages():
    quote = renewal("high", code=code_of(), previous_billed_messages=16000)
    assert quote.fee_twd == 1200
    assert quote.deduction_twd == 1200
    assert quote.extra_messages_twd == 2000
    assert quote.net_twd == 2000
    assert quote.tax_twd == 100
    assert quote.total_twd == 2100


def test_a_downgrade_to_light_still_bills_last_months_extra_messages():
    quote = renewal("light", previous_plan=HIGH, previous_billed_messages=7000)
    assert (quote.fee_twd, quote.extra_messages, quote.extra_messages_twd, quote.total_twd) == (0, 1000, 200, 210)


# ---- a month's extra messages on their own (bill_extra_messages) --------------------------------------


@pytest.mark.parametrize(
    ("billed", "cap", "extra", "extra_twd", "tax", "total"),
    [
        (16_000, None, 10_000, 2000, 100, 2100),
        (16_000, 1_000, 1_000, 200, 10, 210),
        (6_007, None, 7, 1, 0, 1),  # 7 × NT$0.2 = 1.4, rounded once
        (6_000, None, 0, 0, 0, 0),
        (16_000, 0, 0, 0, 0, 0),
    ],
)
def test_extra_messages_on_their_own_carry_no_fee_no_code_and_their_own_tax(billed, cap, extra, extra_twd, tax, total):
    quote = price_extra_messages(plan=HIGH, month=date(2026, 6, 1), billed_messages=billed, cap=cap, at=AT, rules=FLAT)
    assert (quote.purpose, quote.fee_twd, quote.deduction_twd, quote.forfeited_twd) == ("messages", 0, 0, 0)
    assert (quote.extra_messages, quote.extra_messages_twd, quote.net_twd) == (extra, extra_twd, extra_twd)
    assert (quote.tax_twd, quote.total_twd, quote.period_start) == (tax, total, date(2026, 6, 1))
    assert (quote.from_plan, quote.to_plan, quote.code, quote.code_applied) == ("high", "high", None, False)
    # no fee line: the extra messages' line (when there are any) and the tax, adding up to the total
    kinds = [line["kind"] for line in quote.lines]
    assert kinds == (["extra_messages", "tax"] if extra else ["tax"])
    assert sum(line["amount_twd"] for line in quote.lines) == total
    if extra:
        assert quote.lines[0] == {"kind": "extra_messages", "messages": extra, "amount_twd": extra_twd}


def test_extra_messages_on_a_plan_without_them_cost_nothing():
    quote = price_extra_messages(
        plan=MEDIUM, month=date(2026, 6, 1), billed_messages=9_000, cap=None, at=AT, rules=FLAT
    )
    assert (quote.extra_messages, quote.total_twd) == (0, 0)
