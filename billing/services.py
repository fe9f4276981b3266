"""Writes to accounts and subscriptions. Checkout (a later issue) orchestrates these with payments and promos."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.audit import audit_record, snapshot
from billing.errors import ServiceError
from billing.models import (
    Membership,
    OfficialAccount,
    Plan,
    PlanChange,
    PlanChangeKind,
    Role,
    Subscription,
)
from billing.periods import local_date, month_start, next_month_start

SUBSCRIPTION_FIELDS = ("plan", "period_start", "scheduled_plan", "status")


def account_create(*, name: str, basic_id: str, region: str, plan: Plan, actor, at: datetime | None = None,
                   admins=(), operators=()) -> OfficialAccount:  # fmt: skip
    """A new official account on `plan` for the current month, with its members."""
    at = at or timezone.now()
    with transaction.atomic():
        account = OfficialAccount.objects.create(name=name, basic_id=basic_id, region=region)
        for user in admins:
            Membership.objects.create(user=user, account=account, role=Role.ADMIN)
        for user in operators:
            Membership.objects.create(user=user, account=account, role=Role.OPERATOR)
        today = local_date(at)
        subscription = Subscription.objects.create(account=account, plan=plan, period_start=month_start(today))
        PlanChange.objects.create(
            subscription=subscription, kind=PlanChangeKind.STARTED, to_plan=plan, effective_on=today, actor=actor
        )
        audit_record(
            actor=actor, action="subscription.start", obj=subscription, account=account,
            after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
        )  # fmt: skip
    return account


def subscription_schedule_downgrade(*, subscription: Subscription, plan: Plan, actor) -> Subscription:
    """A smaller plan from the first of next month; nothing is refused or refunded now (SPEC §2)."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().select_related("plan").get(pk=subscription.pk)
        if plan.rank >= subscription.plan.rank:
            raise ServiceError(_("Only a smaller plan can be scheduled as a downgrade."), code="not_a_downgrade")
        before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
        subscription.scheduled_plan = plan
        subscription.save(update_fields=["scheduled_plan", "updated_at"])
        PlanChange.objects.create(
            subscription=subscription, kind=PlanChangeKind.DOWNGRADE_SCHEDULED, from_plan=subscription.plan,
            to_plan=plan, effective_on=next_month_start(subscription.period_start), actor=actor,
        )  # fmt: skip
        audit_record(
            actor=actor, action="subscription.schedule_downgrade", obj=subscription, account=subscription.account,
            before=before, after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
        )  # fmt: skip
    return subscription


def subscription_cancel_downgrade(*, subscription: Subscription, actor) -> Subscription:
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().select_related("plan").get(pk=subscription.pk)
        if subscription.scheduled_plan is None:
            raise ServiceError(_("No downgrade is scheduled."), code="none_scheduled")
        before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
        cancelled = subscription.scheduled_plan
        subscription.scheduled_plan = None
        subscription.save(update_fields=["scheduled_plan", "updated_at"])
        PlanChange.objects.create(
            subscription=subscription, kind=PlanChangeKind.DOWNGRADE_CANCELLED, from_plan=cancelled,
            to_plan=subscription.plan, effective_on=local_date(timezone.now()), actor=actor,
        )  # fmt: skip
        audit_record(
            actor=actor, action="subscription.cancel_downgrade", obj=subscription, account=subscription.account,
            before=before, after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
        )  # fmt: skip
    return subscription
