"""費用試算, the cost estimator (billing.estimator): plain data, no database."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.periods import BILLING_TZ
from billing.estimator import (
    EstimateRefused,
    FeatureMix,
    estimate,
    messages_for_mix,
    messages_for_volume,
    plan_cost,
    reply_saving,
    share_of,
)
from billing.pricing import PlanMove, PlanTerms, Rules, Tier, price_renewal
from promos.eligibility import Buyer

LIGHT = PlanTerms("light", 1, 0, 200)
MEDIUM = PlanTerms("medium", 2, 800, 3000)
HIGH = PlanTerms("high", 3, 1200, 6000, True, (Tier(6001, Decimal("0.2")), Tier(1_000_001, Decimal("0.011"))))
PLANS = (HIGH, LIGHT, MEDIUM)  # in no order: the estimate sorts them by rank
RULES = Rules(tax_rate=Decimal("0.05"))
BUYER = Buyer(account_id=7, region="TW", main_payment_method_kind="card")

# The seed's features in one month: 1,000 scripted conversations of 4 messages and 1,000 agent replies (5,000
# replies, 70% in the reply token's time), 10 segmented sends to 800 friends each, 500 event messages.
SEED_MIX = FeatureMix(
    scripted_conversations=1000,
    messages_per_conversation=4,
    agent_replies=1000,
    segmented_messages=10,
    recipients_per_segmented_message=800,
    event_messages=500,
    reply_token_percent=70,
)


def costs_by_plan(result):
    return {cost.plan: (cost.fee_twd, cost.extra_messages_twd, cost.net_twd, cost.total_twd) for cost in result.plans}


# ---- messages ---------------------------------------------------------------------------------


def test_replies_in_the_tokens_time_are_free_and_the_rest_are_billed_with_every_push():
    # when
    messages = messages_for_mix(SEED_MIX)
    # then: 3,500 of 5,000 replies are free; 1,500 late replies + 8,000 segmented + 500 events are billed
    assert messages.free == 3500
    assert messages.billed == 10_000
    assert messages.movable == 1500


def test_segmented_messages_count_once_per_recipient_and_are_never_free():
    messages = messages_for_mix(
        FeatureMix(segmented_messages=3, recipients_per_segmented_message=250, reply_token_percent=100)
    )
    assert (messages.billed, messages.free, messages.movable) == (750, 0, 0)


def test_a_plain_volume_is_all_billed_and_all_movable():
    messages = messages_for_volume(4200)
    assert (messages.billed, messages.free, messages.movable) == (4200, 0, 4200)


@pytest.mark.parametrize(
    ("count", "percent", "share"),
    [(5, 50, 3), (5, 49, 2), (1, 50, 1), (1, 49, 0), (0, 100, 0), (7, 100, 7), (7, 0, 0)],
)
def test_a_share_of_messages_is_whole_messages_rounded_half_up(count, percent, share):
    assert share_of(count, percent) == share


def test_a_mix_with_an_odd_share_rounds_the_free_replies_half_up():
    # 5 agent replies at 50%: 2.5 free replies round to 3, so 2 are billed
    messages = messages_for_mix(FeatureMix(agent_replies=5, reply_token_percent=50))
    assert (messages.billed, messages.free) == (2, 3)


# ---- each plan's cost -------------------------------------------------------------------------


def test_every_plan_is_priced_by_rank_and_those_that_cannot_carry_the_month_say_where_sending_stops():
    # when
    result = estimate(plans=PLANS, messages=messages_for_volume(16_000), rules=RULES, current="high")
    # then: 10,000 extra messages at NT$0.2 = 2,000; high's net 3,200, tax 160
    assert [cost.plan for cost in result.plans] == ["light", "medium", "high"]
    assert costs_by_plan(result) == {
        "light": (0, 0, 0, 0),
        "medium": (800, 0, 800, 840),
        "high": (1200, 2000, 3200, 3360),
    }
    assert [cost.sending_stops_at for cost in result.plans] == [200, 3000, None]
    assert [cost.carries for cost in result.plans] == [False, False, True]
    high = result.plans[2]
    assert (high.extra_messages, high.tax_twd) == (10_000, 160)
    assert result.cheapest == high
    assert result.current == high
    assert result.move == PlanMove.NONE
    assert (result.saving_twd, result.saving_net_twd) == (0, 0)


def test_a_plan_whose_quota_is_exactly_the_volume_carries_it():
    assert plan_cost(MEDIUM, 3000, RULES).sending_stops_at is None
    assert plan_cost(MEDIUM, 3001, RULES).sending_stops_at == 3000


def test_a_small_month_on_high_is_told_to_downgrade_and_what_it_saves():
    result = estimate(plans=PLANS, messages=messages_for_volume(150), rules=RULES, current="high")
    assert result.cheapest.plan == "light"
    assert result.move == PlanMove.DOWNGRADE
    assert result.saving_twd == 1260
    assert result.saving_net_twd == 1200


def test_a_light_account_over_its_quota_is_told_the_upgrade_that_carries_it_and_what_it_costs_more():
    # given: 2,500 messages a month; light stops sending at 200
    # when
    result = estimate(plans=PLANS, messages=messages_for_volume(2500), rules=RULES, current="light")
    # then: medium carries them for NT$840, which is NT$840 more than light's nothing
    assert result.cheapest.plan == "medium"
    assert result.move == PlanMove.UPGRADE
    assert result.saving_twd == -840
    assert result.saving_net_twd == -800


def test_on_a_tie_the_smaller_plan_is_the_cheapest():
    free_big = PlanTerms("trial", 2, 0, 500)
    result = estimate(plans=(free_big, LIGHT), messages=messages_for_volume(100), rules=RULES, current="trial")
    assert result.cheapest.plan == "light"
    assert result.move == PlanMove.DOWNGRADE
    assert result.saving_twd == 0


def test_without_a_current_plan_there_is_no_move_and_no_saving():
    result = estimate(plans=PLANS, messages=messages_for_volume(2500), rules=RULES)
    assert result.current is None
    assert result.cheapest.plan == "medium"
    assert (result.move, result.saving_twd, result.saving_net_twd) == (None, None, None)


def test_when_no_plan_carries_the_month_there_is_no_cheapest():
    result = estimate(plans=(LIGHT, MEDIUM), messages=messages_for_volume(5000), rules=RULES, current="medium")
    assert result.cheapest is None
    assert (result.move, result.saving_twd) == (None, None)
    assert result.current.sending_stops_at == 3000
    assert [saving.saving_twd for saving in result.reply_savings] == [None, None, None]


def test_the_seeds_mix_on_medium_is_told_to_move_to_high():
    # when
    result = estimate(plans=PLANS, messages=messages_for_mix(SEED_MIX), rules=RULES, current="medium")
    # then: 10,000 billed messages; high's 4,000 extra cost NT$800, net 2,000, total 2,100
    assert result.messages.billed == 10_000
    assert costs_by_plan(result)["high"] == (1200, 800, 2000, 2100)
    assert result.cheapest.plan == "high"
    assert result.move == PlanMove.UPGRADE
    assert result.saving_twd == 840 - 2100


# ---- 降低費用方式: Push moved to Reply ----------------------------------------------------------


def test_moving_late_replies_to_reply_saves_on_the_extra_messages():
    # when
    result = estimate(plans=PLANS, messages=messages_for_mix(SEED_MIX), rules=RULES, current="medium")
    # then: of the 1,500 late replies, 25% (375), 50% (750) or all move to Reply
    #   9,625 billed: 3,625 extra = NT$725, net 1,925, tax 96.25 → 96, total 2,021: NT$79 less than 2,100
    #   9,250 billed: 3,250 extra = NT$650, net 1,850, tax 92.5 → 93, total 1,943: NT$157 less
    #   8,500 billed: 2,500 extra = NT$500, net 1,700, tax 85, total 1,785: NT$315 less
    assert [
        (saving.percent, saving.moved_messages, saving.billed_messages, saving.cheapest.total_twd, saving.saving_twd)
        for saving in result.reply_savings
    ] == [
        (25, 375, 9625, 2021, 79),
        (50, 750, 9250, 1943, 157),
        (100, 1500, 8500, 1785, 315),
    ]


def test_moving_push_to_reply_can_bring_a_month_back_to_a_smaller_plan():
    # given: 3,200 messages need high (NT$1,260); a quarter of them moved leaves 2,400, which medium carries
    # when
    saving = reply_saving(plans=PLANS, messages=messages_for_volume(3200), rules=RULES, percent=25)
    # then
    assert saving.moved_messages == 800
    assert saving.billed_messages == 2400
    assert saving.cheapest.plan == "medium"
    assert saving.saving_twd == 1260 - 840


def test_the_shares_priced_are_chosen_by_the_caller():
    result = estimate(plans=PLANS, messages=messages_for_volume(7000), rules=RULES, reply_shares=(10,))
    # 700 of 7,000 move: 6,300 billed, 300 extra = NT$60, total 1,323 against 1,470
    assert [(s.percent, s.moved_messages, s.saving_twd) for s in result.reply_savings] == [(10, 700, 147)]


# ---- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mix",
    [
        FeatureMix(scripted_conversations=-1),
        FeatureMix(messages_per_conversation=-1),
        FeatureMix(agent_replies=-1),
        FeatureMix(segmented_messages=-1),
        FeatureMix(recipients_per_segmented_message=-1),
        FeatureMix(event_messages=-1),
    ],
)
def test_a_negative_count_is_refused_with_a_message(mix):
    with pytest.raises(EstimateRefused) as refused:
        messages_for_mix(mix)
    assert refused.value.code == "bad_estimate_input"
    with translation.override("en"):
        assert str(refused.value.message) == "Message counts cannot be negative."


def test_a_negative_volume_is_refused_in_the_readers_language():
    with pytest.raises(EstimateRefused) as refused:
        messages_for_volume(-5)
    with translation.override("zh-hant"):
        assert str(refused.value.message) == "訊息則數不可為負數。"


@pytest.mark.parametrize("percent", [-1, 101])
def test_a_share_outside_0_to_100_is_refused(percent):
    with pytest.raises(EstimateRefused) as mixed:
        messages_for_mix(FeatureMix(agent_replies=10, reply_token_percent=percent))
    with translation.override("en"):
        assert str(mixed.value.message) == "The share of replies must be between 0 and 100 per cent."
    with pytest.raises(EstimateRefused):
        reply_saving(plans=PLANS, messages=messages_for_volume(10), rules=RULES, percent=percent)


@pytest.mark.parametrize("percent", [0, 100])
def test_the_ends_of_the_share_are_accepted(percent):
    messages = messages_for_mix(FeatureMix(agent_replies=10, reply_token_percent=percent))
    assert messages.free == percent // 10


# ---- the estimate is the bill -----------------------------------------------------------------


@st.composite
def plans_with_any_tiers(draw):
    """Any plan: a fee, a quota, extra messages allowed or not, and one to five tiers from the quota on."""
    quota = draw(st.integers(min_value=0, max_value=20_000))
    count = draw(st.integers(min_value=1, max_value=5))
    later_starts = draw(
        st.lists(
            st.integers(min_value=quota + 2, max_value=quota + 2_000_000),
            min_size=count - 1,
            max_size=count - 1,
            unique=True,
        )
    )
    prices = draw(
        st.lists(
            st.decimals(min_value=Decimal("0.001"), max_value=Decimal("2"), places=3),
            min_size=count,
            max_size=count,
        )
    )
    tiers = tuple(Tier(start, price) for start, price in zip([quota + 1, *later_starts], prices, strict=True))
    return PlanTerms(
        code="high",
        rank=3,
        fee_twd=draw(st.integers(min_value=0, max_value=5000)),
        free_message_quota=quota,
        extra_messages_allowed=draw(st.booleans()),
        tiers=tiers,
    )


@settings(max_examples=300, deadline=None)
@given(
    plan=plans_with_any_tiers(),
    volume=st.integers(min_value=0, max_value=3_000_000),
    tax_rate=st.decimals(min_value=Decimal("0"), max_value=Decimal("0.2"), places=3),
)
def test_for_any_volume_and_tier_table_the_estimate_is_what_the_renewal_bills(plan, volume, tax_rate):
    # given
    rules = Rules(tax_rate=tax_rate)
    # when
    cost = plan_cost(plan, volume, rules)
    renewal = price_renewal(
        plan=plan,
        month=date(2026, 7, 1),
        at=datetime(2026, 7, 1, 3, tzinfo=BILLING_TZ),
        buyer=BUYER,
        rules=rules,
        previous_billed_messages=volume,
    )
    # then
    assert cost.extra_messages_twd == renewal.extra_messages_twd
    assert cost.extra_messages == renewal.extra_messages
    assert (cost.fee_twd, cost.net_twd, cost.tax_twd, cost.total_twd) == (
        renewal.fee_twd,
        renewal.net_twd,
        renewal.tax_twd,
        renewal.total_twd,
    )


@settings(max_examples=200, deadline=None)
@given(
    plan=plans_with_any_tiers(),
    volume=st.integers(min_value=0, max_value=3_000_000),
    current=st.sampled_from(["light", "medium", "high"]),
)
def test_the_cheapest_plan_carries_the_month_and_costs_no_more_than_any_plan_that_does(plan, volume, current):
    result = estimate(plans=(LIGHT, MEDIUM, plan), messages=messages_for_volume(volume), rules=RULES, current=current)
    carrying = [cost for cost in result.plans if cost.carries]
    if not carrying:
        assert result.cheapest is None
        return
    assert result.cheapest.carries
    assert all(result.cheapest.total_twd <= cost.total_twd for cost in carrying)
    assert result.saving_twd == result.current.total_twd - result.cheapest.total_twd
