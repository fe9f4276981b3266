from datetime import date, datetime

import pytest

from accounts.errors import ServiceError
from accounts.models import AuditRecord, Role
from accounts.periods import BILLING_TZ
from billing.models import PlanChange, PlanChangeKind
from billing.services import account_create, subscription_cancel_downgrade, subscription_schedule_downgrade
from tests.factories import SubscriptionFactory, UserFactory, plan

pytestmark = pytest.mark.django_db


def test_a_new_account_starts_this_taipei_month_with_its_members():
    # given 2026-06-30 23:30 in Taipei, which is still June there (15:30 UTC)
    admin, operator = UserFactory(), UserFactory()
    at = datetime(2026, 6, 30, 23, 30, tzinfo=BILLING_TZ)
    # when
    account = account_create(
        name="阿明咖啡",
        basic_id="@123abcde",
        region="TW",
        plan=plan("light"),
        actor=admin,
        at=at,
        admins=[admin],
        operators=[operator],
    )
    # then
    assert account.subscription.period_start == date(2026, 6, 1)
    assert account.subscription.period_end == date(2026, 7, 1)
    assert {(m.user, m.role) for m in account.memberships.all()} == {(admin, Role.ADMIN), (operator, Role.OPERATOR)}
    assert PlanChange.objects.get().kind == PlanChangeKind.STARTED
    assert AuditRecord.objects.get(action="subscription.start").actor == admin


def test_a_downgrade_is_scheduled_for_the_next_period_and_can_be_cancelled():
    subscription = SubscriptionFactory(high=True, period_start=date(2026, 6, 1))
    subscription_schedule_downgrade(subscription=subscription, plan=plan("medium"), actor=None)
    subscription.refresh_from_db()
    assert subscription.plan.code == "high"
    assert subscription.scheduled_plan.code == "medium"
    assert PlanChange.objects.get(kind=PlanChangeKind.DOWNGRADE_SCHEDULED).effective_on == date(2026, 7, 1)
    subscription_cancel_downgrade(subscription=subscription, actor=None)
    subscription.refresh_from_db()
    assert subscription.scheduled_plan is None
    assert [r.action for r in AuditRecord.objects.order_by("id")] == [
        "subscription.schedule_downgrade",
        "subscription.cancel_downgrade",
    ]


@pytest.mark.parametrize(("current", "target"), [("medium", "high"), ("medium", "medium"), ("light", "light")])
def test_only_a_smaller_plan_can_be_scheduled(current, target):
    subscription = SubscriptionFactory(plan=plan(current))
    with pytest.raises(ServiceError):
        subscription_schedule_downgrade(subscription=subscription, plan=plan(target), actor=None)
    subscription.refresh_from_db()
    assert subscription.scheduled_plan is None
    assert not AuditRecord.objects.exists()


def test_cancelling_with_nothing_scheduled_is_refused():
    subscription = SubscriptionFactory(high=True)
    with pytest.raises(ServiceError):
        subscription_cancel_downgrade(subscription=subscription, actor=None)
