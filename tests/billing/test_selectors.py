from datetime import date
from decimal import Decimal

import pytest

from billing.models import ExtraMessageTier, PlanPrice
from billing.pricing import Tier
from billing.selectors import plan_terms, plans_with_terms

pytestmark = pytest.mark.django_db


def test_a_new_price_and_its_tiers_apply_from_their_month_only():
    # given a new high price from July 2026 with cheaper extra messages
    high = plans_with_terms().get(code="high")
    july = PlanPrice.objects.create(plan=high, effective_from=date(2026, 7, 1), monthly_fee_twd=1500)
    ExtraMessageTier.objects.create(price=july, from_message=6001, unit_price_twd=Decimal("0.1"))
    high = plans_with_terms().get(code="high")
    # when
    june, later = plan_terms(high, date(2026, 6, 1)), plan_terms(high, date(2026, 7, 1))
    # then
    assert june.fee_twd == 1200
    assert june.tiers == (Tier(6001, Decimal("0.200")), Tier(1_000_001, Decimal("0.011")))
    assert later.fee_twd == 1500
    assert later.tiers == (Tier(6001, Decimal("0.100")),)


def test_plan_terms_cost_no_query_once_prefetched(django_assert_num_queries):
    plans = list(plans_with_terms())
    with django_assert_num_queries(0):
        terms = [plan_terms(plan, date(2026, 6, 1)) for plan in plans]
    assert [(t.code, t.fee_twd, t.free_message_quota) for t in terms] == [
        ("light", 0, 200),
        ("medium", 800, 3000),
        ("high", 1200, 6000),
    ]


def test_a_month_before_any_price_is_an_error():
    with pytest.raises(LookupError):
        plan_terms(plans_with_terms().get(code="medium"), date(2020, 1, 1))
