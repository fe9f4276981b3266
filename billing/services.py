"""Writes to accounts and subscriptions. Checkout (a later issue) orchestrates these with payments and promos."""

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_record, lock_account, snapshot
from accounts.errors import ServiceError
from accounts.models import Membership, OfficialAccount, Role
from accounts.periods import local_date, month_start, next_month_start
from billing.models import ExtraMessageTier, Plan, PlanChange, PlanChangeKind, PlanCode, PlanPrice, Subscription
from billing.pricing import PlanMove, plan_move
from payments import services as payments_services
from payments.models import PaymentMethod

SUBSCRIPTION_FIELDS = ("plan", "period_start", "scheduled_plan", "status")


def account_create(
    *, name: str, basic_id: str, region: str, plan: Plan, actor, at: datetime | None = None, admins=(), operators=()
) -> OfficialAccount:
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
            actor=actor,
            action="subscription.start",
            obj=subscription,
            account=account,
            after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
        )
    return account


def subscription_schedule_downgrade(*, subscription: Subscription, plan: Plan, actor) -> Subscription:
    """A smaller plan from the first of next month; nothing is refused or refunded now (SPEC §2)."""
    with transaction.atomic():
        lock_account(subscription.account_id)
        subscription = (
            Subscription.objects.select_for_update(of=("self",)).select_related("plan").get(pk=subscription.pk)
        )
        if plan_move(subscription.plan, plan) != PlanMove.DOWNGRADE:
            raise ServiceError(_("Only a smaller plan can be scheduled as a downgrade."), code="not_a_downgrade")
        before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
        subscription.scheduled_plan = plan
        subscription.save(update_fields=["scheduled_plan", "updated_at"])
        PlanChange.objects.create(
            subscription=subscription,
            kind=PlanChangeKind.DOWNGRADE_SCHEDULED,
            from_plan=subscription.plan,
            to_plan=plan,
            effective_on=next_month_start(subscription.period_start),
            actor=actor,
        )
        audit_record(
            actor=actor,
            action="subscription.schedule_downgrade",
            obj=subscription,
            account=subscription.account,
            before=before,
            after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
        )
    return subscription


def subscription_cancel_downgrade(*, subscription: Subscription, actor) -> Subscription:
    with transaction.atomic():
        lock_account(subscription.account_id)
        subscription = (
            Subscription.objects.select_for_update(of=("self",)).select_related("plan").get(pk=subscription.pk)
        )
        if subscription.scheduled_plan is None:
            raise ServiceError(_("No downgrade is scheduled."), code="none_scheduled")
        before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
        cancelled = subscription.scheduled_plan
        subscription.scheduled_plan = None
        subscription.save(update_fields=["scheduled_plan", "updated_at"])
        PlanChange.objects.create(
            subscription=subscription,
            kind=PlanChangeKind.DOWNGRADE_CANCELLED,
            from_plan=cancelled,
            to_plan=subscription.plan,
            effective_on=local_date(timezone.now()),
            actor=actor,
        )
        audit_record(
            actor=actor,
            action="subscription.cancel_downgrade",
            obj=subscription,
            account=subscription.account,
            before=before,
            after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
        )
    return subscription


# The largest cap a form takes: far beyond any account's month, and well inside the column's range.
EXTRA_MESSAGE_CAP_MAX = 1_000_000_000


def subscription_set_extra_message_cap(*, subscription: Subscription, cap: int | None, actor) -> Subscription:
    """Set (a whole number of messages, at least 1) or clear (None) the most extra messages a month (SPEC §2).

    Only a plan with extra messages (High) has a cap; clearing one is always allowed, so that a cap left over
    from a High month can be taken away. Setting the cap it already has changes and records nothing.
    """
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= EXTRA_MESSAGE_CAP_MAX):
        raise ServiceError(extra_message_cap_range_message(), code="cap_out_of_range")
    with transaction.atomic():
        lock_account(subscription.account_id)
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("plan", "account")
            .get(pk=subscription.pk)
        )
        if cap is not None and not subscription.plan.extra_messages_allowed:
            raise ServiceError(
                _("Only the High plan sends extra messages, so only it has an extra-message cap."),
                code="no_extra_messages",
            )
        if subscription.extra_message_cap == cap:
            return subscription
        before = snapshot(subscription, "plan", "extra_message_cap")
        subscription.extra_message_cap = cap
        subscription.save(update_fields=["extra_message_cap", "updated_at"])
        audit_record(
            actor=actor,
            action="subscription.set_extra_message_cap" if cap is not None else "subscription.clear_extra_message_cap",
            obj=subscription,
            account=subscription.account,
            before=before,
            after=snapshot(subscription, "plan", "extra_message_cap"),
        )
    return subscription


def extra_message_cap_range_message():
    return _("The cap is a whole number of extra messages from 1 to %(most)s.") % {"most": f"{EXTRA_MESSAGE_CAP_MAX:,}"}


PRICE_FIELDS = ("plan", "effective_from", "monthly_fee_twd")


def _price_picture(price: PlanPrice) -> dict:
    tiers = [[tier.from_message, str(tier.unit_price_twd)] for tier in price.tiers.order_by("from_message")]
    return {**snapshot(price, *PRICE_FIELDS), "tiers": tiers}


def plan_price_check_future(effective_from: date, *, at: datetime | None = None) -> None:
    """A price may start only on the first day of a month after the current one (SPEC §2)."""
    earliest = next_month_start(local_date(at or timezone.now()))
    if effective_from.day != 1 or effective_from < earliest:
        raise ServiceError(
            _(
                "A new price must start on the first day of a month after the current one, "
                "%(earliest)s at the earliest: a price change applies from the next billing period."
            )
            % {"earliest": earliest.isoformat()},
            code="not_next_period",
        )


def plan_price_save(*, price: PlanPrice, tiers: Iterable[tuple[int, Decimal]] | None, actor) -> PlanPrice:
    """Add a price for a future month, or change one that has not started.

    `tiers=None` keeps a changed price's tiers, and gives a new price the tiers of the price before it.
    """
    plan_price_check_future(price.effective_from)
    with transaction.atomic():
        before = None
        if price.pk is not None:
            stored = PlanPrice.objects.select_for_update().get(pk=price.pk)
            plan_price_check_future(stored.effective_from)
            before = _price_picture(stored)
        elif tiers is None:
            tiers = _tiers_before(price)
        price.save()
        if tiers is not None:
            price.tiers.all().delete()
            ExtraMessageTier.objects.bulk_create(
                ExtraMessageTier(price=price, from_message=start, unit_price_twd=unit) for start, unit in tiers
            )
        audit_record(
            actor=actor,
            action="plan_price.change" if before else "plan_price.add",
            obj=price,
            before=before,
            after=_price_picture(price),
        )
    return price


def _tiers_before(price: PlanPrice) -> list[tuple[int, Decimal]]:
    earlier = PlanPrice.objects.filter(plan=price.plan, effective_from__lt=price.effective_from)
    previous = earlier.order_by("-effective_from").first()
    return [(tier.from_message, tier.unit_price_twd) for tier in previous.tiers.all()] if previous else []


def plan_price_withdraw(*, price: PlanPrice, actor) -> None:
    """Take back a price that has not started; one in force is history and stays."""
    with transaction.atomic():
        price = PlanPrice.objects.select_for_update().get(pk=price.pk)
        plan_price_check_future(price.effective_from)
        audit_record(actor=actor, action="plan_price.withdraw", obj=price, before=_price_picture(price))
        price.delete()


def subscription_apply_upgrade(*, account: OfficialAccount, plan: Plan, charge, actor) -> Subscription:
    """The paid upgrade takes effect now, for the rest of this month; it cancels a scheduled downgrade."""
    with transaction.atomic():
        lock_account(account.pk)
        subscription = Subscription.objects.select_for_update(of=("self",)).select_related("plan").get(account=account)
        before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
        previous = subscription.plan
        subscription.plan = plan
        subscription.scheduled_plan = None
        subscription.save(update_fields=["plan", "scheduled_plan", "updated_at"])
        PlanChange.objects.create(
            subscription=subscription,
            kind=PlanChangeKind.UPGRADE,
            from_plan=previous,
            to_plan=plan,
            effective_on=local_date(timezone.now()),
            charge=charge,
            actor=actor,
        )
        audit_record(
            actor=actor,
            action="subscription.upgrade",
            obj=subscription,
            account=account,
            before=before,
            after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
        )
    return subscription


def payment_method_remove(*, method: PaymentMethod, actor) -> PaymentMethod:
    """Remove a payment method; the main one of a paid plan stays until another is made main (SPEC §5)."""
    with transaction.atomic():
        lock_account(method.account_id)
        subscription = Subscription.objects.select_related("plan").filter(account_id=method.account_id).first()
        on_paid_plan = subscription is not None and subscription.plan.code != PlanCode.LIGHT
        return payments_services.payment_method_remove(method=method, actor=actor, main_required=on_paid_plan)
