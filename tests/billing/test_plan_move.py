"""Which way a plan change goes has one rule, billing.pricing.plan_move: pricing, checkout, downgrades and the
plans page all ask it."""

import pytest

from billing.pricing import PlanMove, PlanTerms, plan_move
from tests.factories import plan

LIGHT = PlanTerms("light", 1, 0, 200)
MEDIUM = PlanTerms("medium", 2, 800, 3000)
HIGH = PlanTerms("high", 3, 1200, 6000)


@pytest.mark.parametrize(
    ("current", "target", "move"),
    [
        (LIGHT, MEDIUM, PlanMove.UPGRADE),
        (LIGHT, HIGH, PlanMove.UPGRADE),
        (MEDIUM, HIGH, PlanMove.UPGRADE),
        (HIGH, MEDIUM, PlanMove.DOWNGRADE),
        (HIGH, LIGHT, PlanMove.DOWNGRADE),
        (MEDIUM, LIGHT, PlanMove.DOWNGRADE),
        (MEDIUM, MEDIUM, PlanMove.NONE),
    ],
)
def test_a_bigger_plan_is_an_upgrade_and_a_smaller_one_a_downgrade(current, target, move):
    assert plan_move(current, target) == move


@pytest.mark.django_db
def test_the_stored_plans_move_as_their_terms_do():
    # given the seeded plans
    light, medium, high = plan("light"), plan("medium"), plan("high")
    # then the rows answer as the plain terms above
    assert [plan_move(light, medium), plan_move(high, medium), plan_move(high, high)] == [
        PlanMove.UPGRADE,
        PlanMove.DOWNGRADE,
        PlanMove.NONE,
    ]
