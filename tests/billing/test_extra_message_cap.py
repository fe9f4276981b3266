"""The extra-message cap (加購訊息上限, SPEC §2): who sets it, where it shows, and that no renewal bills past it."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.periods import BILLING_TZ
from billing.models import MonthlyUsage, Subscription
from billing.pricing import PlanTerms, Rules, Tier, extra_messages_fee, price_renewal
from billing.renewals import Totals, renew_subscription
from billing.renewals.quotes import renewal_quotes
from payments.models import Charge
from promos.eligibility import Buyer
from tests.factories import SubscriptionFactory
from tests.helpers import add_card

# Most tests read the English source strings; the ones about zh-Hant say so and switch back.
pytestmark = pytest.mark.usefixtures("english")

HIGH = PlanTerms("high", 3, 1200, 6000, True, (Tier(6001, Decimal("0.2")), Tier(1_000_001, Decimal("0.011"))))
MEDIUM = PlanTerms("medium", 2, 800, 3000)
FLAT = Rules(tax_rate=Decimal("0.05"), prorate_free_to_paid=False)
BUYER = Buyer(account_id=7, region="TW", main_payment_method_kind="card")
JUNE = date(2026, 6, 1)
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)


def renewal_quote(billed: int, cap: int | None, plan_terms: PlanTerms = HIGH):
    return price_renewal(
        plan=plan_terms,
        month=date(2026, 7, 1),
        at=JULY_1,
        buyer=BUYER,
        rules=FLAT,
        previous_billed_messages=billed,
        previous_extra_message_cap=cap,
    )


def extra_line(quote) -> dict | None:
    return next((line for line in quote.lines if line["kind"] == "extra_messages"), None)


# ---- the pure pricing -----------------------------------------------------------------------


def test_the_probe_cap_1000_with_16000_messages_bills_1000_extras_to_the_nt_dollar():
    # given a High month of 16,000 billed messages and a cap of 1,000 extra messages
    # when
    quote = renewal_quote(16000, 1000)
    # then LINE stopped at 7,000: 1,000 extras at NT$0.2 = NT$200, on top of the NT$1,200 fee
    assert extra_messages_fee(HIGH, 16000, 1000) == (1000, 200)
    assert (quote.extra_messages, quote.extra_messages_twd, quote.net_twd, quote.tax_twd, quote.total_twd) == (
        1000,
        200,
        1400,
        70,
        1470,
    )
    assert extra_line(quote) == {"kind": "extra_messages", "messages": 1000, "amount_twd": 200}


def test_without_a_cap_every_extra_message_is_billed_as_before():
    quote = renewal_quote(16000, None)
    assert extra_messages_fee(HIGH, 16000, None) == (10000, 2000)
    assert (quote.extra_messages, quote.extra_messages_twd, quote.total_twd) == (10000, 2000, 3360)
    assert extra_line(quote) == {"kind": "extra_messages", "messages": 10000, "amount_twd": 2000}


@pytest.mark.parametrize("cap", [10000, 10001, 50000, 1_000_000_000])
def test_a_cap_at_or_above_the_months_extras_changes_nothing(cap):
    assert extra_messages_fee(HIGH, 16000, cap) == (10000, 2000)
    assert renewal_quote(16000, cap).total_twd == 3360


def test_a_cap_bills_nothing_for_a_month_within_the_quota():
    assert extra_messages_fee(HIGH, 6000, 1) == (0, 0)
    assert extra_messages_fee(HIGH, 6001, 1) == (1, 0)  # NT$0.2 rounds to NT$0
    assert extra_messages_fee(HIGH, 6003, 2) == (2, 0)  # NT$0.4 rounds to NT$0, where 3 extras made NT$1


def test_a_cap_on_a_plan_without_extra_messages_bills_none():
    assert extra_messages_fee(MEDIUM, 5000, 1000) == (0, 0)
    quote = renewal_quote(5000, 1000, MEDIUM)
    assert (quote.extra_messages, quote.total_twd, extra_line(quote)) == (0, 840, None)


def test_the_cap_applies_across_tiers():
    # given a third tier from the 20,001st message at NT$0.1 and a cap ending inside it
    plan_terms = PlanTerms(
        "high",
        3,
        1200,
        6000,
        True,
        (Tier(6001, Decimal("0.2")), Tier(20001, Decimal("0.1")), Tier(1_000_001, Decimal("0.011"))),
    )
    # when 100,000 messages were counted and the cap is 24,000 (LINE stopped at 30,000)
    # then 14,000 × 0.2 + 10,000 × 0.1 = 2,800 + 1,000
    assert extra_messages_fee(plan_terms, 100_000, 24_000) == (24_000, 3800)


TIER_TABLES = st.builds(
    lambda quota, starts, prices: (
        quota,
        tuple(Tier(quota + 1 + start, Decimal(price) / 1000) for start, price in zip(starts, prices, strict=False)),
    ),
    st.integers(min_value=0, max_value=50_000),
    st.lists(st.integers(min_value=0, max_value=2_000_000), min_size=1, max_size=5, unique=True).map(
        lambda starts: sorted({0, *starts})
    ),
    st.lists(st.integers(min_value=0, max_value=500), min_size=6, max_size=6),
)


@given(
    table=TIER_TABLES,
    billed=st.integers(min_value=0, max_value=3_000_000),
    cap=st.one_of(st.none(), st.integers(min_value=1, max_value=3_000_000)),
)
def test_the_billed_extras_never_exceed_the_cap_and_cost_what_the_month_up_to_the_cap_costs(table, billed, cap):
    # given any tier table, month and cap
    quota, tiers = table
    plan_terms = PlanTerms("high", 3, 1200, quota, True, tiers)
    # when
    extras, fee_twd = extra_messages_fee(plan_terms, billed, cap)
    quote = renewal_quote(billed, cap, plan_terms)
    # then no more extras than the cap, exactly the messages LINE let through, priced as an uncapped month of them
    sent = billed if cap is None else min(billed, quota + cap)
    assert extras == max(0, sent - quota)
    assert cap is None or extras <= cap
    assert (extras, fee_twd) == extra_messages_fee(plan_terms, sent)
    assert fee_twd <= extra_messages_fee(plan_terms, billed)[1]
    assert (quote.extra_messages, quote.extra_messages_twd) == (extras, fee_twd)
    assert (extra_line(quote) or {"messages": 0})["messages"] == extras


# ---- renewals -------------------------------------------------------------------------------


def high_in_june(cap=None, billed=16000):
    subscription = SubscriptionFactory(high=True, period_start=JUNE, extra_message_cap=cap)
    add_card(subscription.account)
    MonthlyUsage.objects.create(account=subscription.account, month=JUNE, billed_messages=billed)
    return subscription


def renew(subscription):
    renew_subscription(subscription_id=subscription.pk, as_of=JULY_1, run=None, totals=Totals())


@pytest.mark.django_db
def test_a_renewal_bills_no_more_extra_messages_than_the_cap():
    # given the probe: cap 1,000, 16,000 messages in June
    subscription = high_in_june(cap=1000)
    # when
    renew(subscription)
    # then
    charge = Charge.objects.get()
    assert (charge.fee_twd, charge.extra_messages_twd, charge.net_twd, charge.tax_twd, charge.total_twd) == (
        1200,
        200,
        1400,
        70,
        1470,
    )
    assert {"kind": "extra_messages", "messages": 1000, "amount_twd": 200} in charge.lines


@pytest.mark.django_db
@pytest.mark.parametrize("cap", [None, 10000, 25000])
def test_a_renewal_without_a_cap_or_under_it_bills_every_extra_message(cap):
    subscription = high_in_june(cap=cap)
    renew(subscription)
    charge = Charge.objects.get()
    assert (charge.extra_messages_twd, charge.total_twd) == (2000, 3360)
    assert {"kind": "extra_messages", "messages": 10000, "amount_twd": 2000} in charge.lines


@pytest.mark.django_db
def test_the_dry_run_quote_shows_the_capped_count():
    subscription = high_in_june(cap=2500)
    [(_subscription, _plan, quote)] = renewal_quotes([Subscription.objects.get(pk=subscription.pk)], as_of=JULY_1)
    assert (quote.extra_messages, quote.extra_messages_twd) == (2500, 500)
    assert extra_line(quote) == {"kind": "extra_messages", "messages": 2500, "amount_twd": 500}
