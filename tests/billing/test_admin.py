"""The billing admin: accounts, plans and prices, subscriptions, renewals and the audit trail."""

from datetime import date

import pytest
from django.contrib.messages import ERROR, SUCCESS
from django.utils import timezone

from accounts.admin import current_month_start
from accounts.audit import audit_record
from accounts.models import AuditRecord, OfficialAccount
from accounts.periods import local_date, month_start, next_month_start
from billing.models import Plan, PlanChange, PlanChangeKind, PlanPrice, Renewal, RenewalStatus
from tests.admin_rows import admin_url, messages_of, post_action
from tests.factories import PlanPriceFactory, RenewalFactory, SubscriptionFactory, UserFactory, plan
from tests.helpers import add_card

# These tests read the English source strings; tests/test_i18n.py checks the zh-Hant ones.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_a_subscription_cannot_be_changed_by_a_post(admin_client):
    # given
    subscription = SubscriptionFactory()

    # when
    response = admin_client.post(
        admin_url(subscription, "change", subscription.pk), {"plan": plan("high").pk, "status": "past_due"}
    )

    # then
    subscription.refresh_from_db()
    assert response.status_code == 403
    assert (subscription.plan.code, subscription.status) == ("light", "active")


def test_a_price_in_force_cannot_be_changed_by_a_post(admin_client):
    # given
    price = PlanPrice.objects.get(plan__code="medium", effective_from="2023-09-01")

    # when
    response = admin_client.post(
        admin_url(PlanPrice, "change", price.pk),
        {"plan": price.plan_id, "effective_from": price.effective_from.isoformat(), "monthly_fee_twd": 1},
    )

    # then
    price.refresh_from_db()
    assert response.status_code == 403
    assert price.monthly_fee_twd == 800


def tier_rows(*rows, initial=0):
    data = formset_management("tiers", total=len(rows), initial=initial)
    for index, (start, unit) in enumerate(rows):
        data |= {f"tiers-{index}-from_message": str(start), f"tiers-{index}-unit_price_twd": unit}
    return data


def test_a_new_high_price_gets_its_tiers_or_the_ones_before_it(admin_client):
    # given the next month
    start = next_month_start(current_month_start())
    high = Plan.objects.get(code="high")

    # when one price is added with its own tiers and one, a month later, without
    with_tiers = admin_client.post(
        admin_url(PlanPrice, "add"),
        {"plan": high.pk, "effective_from": start.isoformat(), "monthly_fee_twd": 1500}
        | tier_rows((6001, "0.180"), (50001, "0.050")),
    )
    later = next_month_start(start)
    without = admin_client.post(
        admin_url(PlanPrice, "add"),
        {"plan": high.pk, "effective_from": later.isoformat(), "monthly_fee_twd": 1600} | tier_rows(),
    )

    # then
    assert (with_tiers.status_code, without.status_code) == (302, 302)
    prices = {p.effective_from: p for p in PlanPrice.objects.filter(plan=high)}
    assert [(t.from_message, str(t.unit_price_twd)) for t in prices[start].tiers.order_by("from_message")] == [
        (6001, "0.180"),
        (50001, "0.050"),
    ]
    assert [(t.from_message, str(t.unit_price_twd)) for t in prices[later].tiers.order_by("from_message")] == [
        (6001, "0.180"),
        (50001, "0.050"),
    ]
    record = AuditRecord.objects.filter(action="plan_price.add").order_by("id").first()
    assert record.after["tiers"] == [[6001, "0.180"], [50001, "0.050"]]


def test_a_price_in_force_cannot_be_deleted_but_a_future_one_can(admin_client):
    # given
    in_force = PlanPrice.objects.get(plan__code="medium", effective_from="2023-09-01")
    future = PlanPriceFactory()

    # when
    refused = admin_client.post(admin_url(PlanPrice, "delete", in_force.pk), {"post": "yes"})
    allowed = admin_client.post(admin_url(PlanPrice, "delete", future.pk), {"post": "yes"})

    # then
    assert refused.status_code == 403
    assert allowed.status_code == 302
    assert list(PlanPrice.objects.filter(pk__in=[in_force.pk, future.pk])) == [in_force]
    assert list(AuditRecord.objects.values_list("action", "object_id")) == [("plan_price.withdraw", str(future.pk))]


# ---- plan prices apply from the next billing period ------------------------------------------


def price_form_data(effective_from):
    fields = {"plan": plan("medium").pk, "effective_from": effective_from.isoformat(), "monthly_fee_twd": 900}
    return fields | tier_rows()


def test_a_new_price_for_the_current_month_is_refused(admin_client):
    # given
    this_month = month_start(local_date(timezone.now()))
    next_month = next_month_start(this_month)

    # when
    response = admin_client.post(admin_url(PlanPrice, "add"), price_form_data(this_month))

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["effective_from"] == [
        "A new price must start on the first day of a month after the current one, "
        f"{next_month:%Y-%m-%d} at the earliest: a price change applies from the next billing period."
    ]
    assert not PlanPrice.objects.filter(effective_from=this_month).exists()


def test_a_new_price_not_on_the_first_of_a_month_is_refused(admin_client):
    # given
    day = next_month_start(month_start(local_date(timezone.now()))).replace(day=2)

    # when
    response = admin_client.post(admin_url(PlanPrice, "add"), price_form_data(day))

    # then
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["effective_from"]
    assert not PlanPrice.objects.filter(effective_from=day).exists()


def test_a_new_price_from_next_month_is_accepted(admin_client, admin_user):
    # given
    next_month = next_month_start(month_start(local_date(timezone.now())))

    # when
    response = admin_client.post(admin_url(PlanPrice, "add"), price_form_data(next_month))

    # then
    assert response.status_code == 302
    price = PlanPrice.objects.get(effective_from=next_month)
    assert (price.plan.code, price.monthly_fee_twd) == ("medium", 900)
    record = AuditRecord.objects.get()
    assert (record.action, record.object_id, record.actor, record.after) == (
        "plan_price.add",
        str(price.pk),
        admin_user,
        {"plan": price.plan_id, "effective_from": next_month.isoformat(), "monthly_fee_twd": 900, "tiers": []},
    )


def test_the_plan_page_schedules_a_new_price_through_its_inline(admin_client):
    # given
    medium = plan("medium")
    next_month = next_month_start(month_start(local_date(timezone.now())))
    page = admin_client.get(admin_url(medium, "change", medium.pk))
    data = {**inline_management(page), "name_zh_hant": "中用量", "name_en": "Medium", "free_message_quota": 3000}
    data.update(
        {
            "prices-2-TOTAL_FORMS": 1,
            "prices-2-0-effective_from": next_month.isoformat(),
            "prices-2-0-monthly_fee_twd": 850,
        }
    )

    # when
    response = admin_client.post(admin_url(medium, "change", medium.pk), data)

    # then
    assert response.status_code == 302
    assert list(medium.prices.values_list("effective_from", "monthly_fee_twd")) == [
        (next_month, 850),
        (PlanPrice.objects.get(plan=medium, monthly_fee_twd=800).effective_from, 800),
    ]
    assert AuditRecord.objects.get().action == "plan_price.add"


def inline_management(page) -> dict:
    """The management form values and existing inline rows of a change page, as the browser would post them."""
    data = {}
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        for form in formset.formset.initial_forms:
            data.update({form.add_prefix(name): value for name, value in form.initial.items() if value is not None})
    return data


# ---- subscriptions --------------------------------------------------------------------------


def test_cancel_downgrade_action_cancels_and_reports_the_ones_with_nothing_scheduled(admin_client, admin_user):
    # given
    scheduled = SubscriptionFactory(high=True, scheduled_plan=plan("medium"), account__basic_id="@scheduled")
    unscheduled = SubscriptionFactory(high=True, account__basic_id="@unscheduled")

    # when
    response = post_action(admin_client, scheduled, "cancel_downgrade", [scheduled, unscheduled])

    # then
    scheduled.refresh_from_db()
    assert scheduled.scheduled_plan is None
    change = PlanChange.objects.get(subscription=scheduled)
    assert (change.kind, change.from_plan.code, change.actor) == (
        PlanChangeKind.DOWNGRADE_CANCELLED,
        "medium",
        admin_user,
    )
    assert not PlanChange.objects.filter(subscription=unscheduled).exists()
    assert messages_of(response) == [
        (ERROR, "@unscheduled: No downgrade is scheduled."),
        (SUCCESS, "1 scheduled downgrade cancelled."),
    ]


# ---- what staff add goes through the services -----------------------------------------------


def test_an_account_added_by_staff_starts_on_its_plan_with_its_members(admin_client, admin_user):
    # given
    owner = UserFactory()
    data = {
        "name": "新開小店", "basic_id": "@newshop", "region": "TW", "plan": plan("light").pk,
        "memberships-TOTAL_FORMS": 1, "memberships-INITIAL_FORMS": 0,
        "memberships-0-user": owner.pk, "memberships-0-role": "admin",
    }  # fmt: skip

    # when
    response = admin_client.post(admin_url(OfficialAccount, "add"), data)

    # then
    assert response.status_code == 302
    account = OfficialAccount.objects.get(basic_id="@newshop")
    assert (account.name, account.subscription.plan.code) == ("新開小店", "light")
    assert list(account.memberships.values_list("user", "role")) == [(owner.pk, "admin")]
    assert PlanChange.objects.get(subscription=account.subscription).kind == PlanChangeKind.STARTED
    assert list(AuditRecord.objects.filter(account=account).order_by("id").values_list("action", flat=True)) == [
        "subscription.start",
        "membership.add",
    ]


def test_the_audit_trail_shows_before_and_after(admin_client, admin_user):
    # given
    subscription = SubscriptionFactory()
    record = audit_record(actor=admin_user, action="subscription.start", obj=subscription, after={"plan": "light"})

    # when
    response = admin_client.get(admin_url(AuditRecord, "change", record.pk))

    # then
    assert response.status_code == 200
    assert "<pre>{\n  &quot;plan&quot;: &quot;light&quot;\n}</pre>" in response.content.decode()


# ---- plain edits of billing data are audited too --------------------------------------------


def formset_management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_changing_an_accounts_region_and_adding_a_member_leave_audit_records(admin_client, admin_user):
    # given
    account = SubscriptionFactory().account
    member = UserFactory()
    data = (
        {"name": account.name, "basic_id": account.basic_id, "region": "JP"}
        | formset_management("memberships", total=1)
        | {"memberships-0-user": str(member.pk), "memberships-0-role": "admin"}
    )

    # when
    response = admin_client.post(admin_url(OfficialAccount, "change", account.pk), data)

    # then
    assert response.status_code == 302
    change = AuditRecord.objects.get(action="officialaccount.change")
    assert (change.actor, change.account, change.before, change.after) == (
        admin_user,
        account,
        {"region": "TW"},
        {"region": "JP"},
    )
    added = AuditRecord.objects.get(action="membership.add")
    assert (added.account, added.after["user"], added.after["role"]) == (account, member.pk, "admin")


def test_saving_an_unchanged_account_writes_no_audit_record(admin_client):
    account = SubscriptionFactory().account
    data = {"name": account.name, "basic_id": account.basic_id, "region": "TW"} | formset_management("memberships")
    response = admin_client.post(admin_url(OfficialAccount, "change", account.pk), data)
    assert response.status_code == 302
    assert not AuditRecord.objects.exists()


# ---- renewals -------------------------------------------------------------------------------


def test_staff_can_retry_a_failed_renewal_before_its_day(admin_client):
    # given a failed renewal of an account that now has a working card
    subscription = SubscriptionFactory(medium=True, period_start=date(2026, 6, 1))
    add_card(subscription.account)
    renewal = RenewalFactory(
        failed=True,
        subscription=subscription,
        period_start=date(2026, 7, 1),
        plan=plan("medium"),
        next_retry_on=date(2099, 1, 3),
        attempts=1,
    )
    # when
    response = post_action(admin_client, Renewal, "retry_now", [renewal])
    # then
    assert response.status_code == 302
    renewal.refresh_from_db()
    subscription.refresh_from_db()
    assert renewal.status == RenewalStatus.RENEWED
    assert (renewal.attempts, renewal.charge.total_twd) == (2, 840)
    assert subscription.period_start == date(2026, 7, 1)
