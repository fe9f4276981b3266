"""The staff admin: every page opens, lists keep a query budget, financial rows stay as services wrote them."""

import csv
import io
import uuid
from datetime import date

import pytest
from django.contrib.messages import ERROR, SUCCESS, WARNING
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.admin import current_month_start
from billing.audit import audit_record
from billing.models import (
    AuditRecord,
    Checkout,
    MonthlyUsage,
    OfficialAccount,
    Plan,
    PlanChange,
    PlanChangeKind,
    PlanPrice,
    Renewal,
    RenewalRun,
    RenewalStatus,
    Subscription,
    UserPreference,
)
from billing.periods import local_date, month_start, next_month_start
from invoices.models import EInvoiceProfile, Invoice, InvoiceNumberRange
from payments.models import Charge, LinePayRegistration, PaymentMethod, Refund
from promos import admin as promos_admin
from promos.codes import format_code
from promos.models import Campaign, CodeBatch, CodeGuess, CodeStatus, PromoCode, Redemption
from tests.factories import (
    AccountFactory,
    AuditRecordFactory,
    CampaignFactory,
    ChargeFactory,
    CodeBatchFactory,
    EInvoiceProfileFactory,
    InvoiceFactory,
    InvoiceNumberRangeFactory,
    MonthlyUsageFactory,
    PaymentMethodFactory,
    PlanChangeFactory,
    PlanFactory,
    PlanPriceFactory,
    PromoCodeFactory,
    RedemptionFactory,
    RefundFactory,
    SubscriptionFactory,
    UserFactory,
    plan,
)
from tests.helpers import add_card, ready_admin, start_checkout

# These tests read the English source strings; tests/test_i18n.py checks the zh-Hant ones.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def post_action(client, model, action: str, rows, **extra):
    data = {"action": action, "_selected_action": [row.pk for row in rows], **extra}
    return client.post(admin_url(model, "changelist"), data)


def action_names(changelist) -> set[str]:
    action_form = changelist.context["action_form"]  # None when no action is offered
    return {name for name, _ in action_form.fields["action"].choices} if action_form else set()


def messages_of(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in response.wsgi_request._messages]


# ---- rows for every changelist --------------------------------------------------------------


def plans_with_prices(n):
    plans = PlanFactory.create_batch(n)
    for each in plans:
        PlanPriceFactory(plan=each, effective_from=month_start(local_date(timezone.now())), monthly_fee_twd=500)
        PlanPriceFactory(plan=each, monthly_fee_twd=600)
    return plans


def subscriptions(n):
    return [SubscriptionFactory(high=True, scheduled_plan=plan("medium")) for _ in range(n)]


def plan_changes(n):
    return PlanChangeFactory.create_batch(n, actor=UserFactory(), charge=ChargeFactory())


def promo_codes(n):
    registered = [
        PromoCodeFactory(
            status=CodeStatus.REGISTERED, registered_account=AccountFactory(), registered_at=timezone.now()
        )
        for _ in range(n // 2)
    ]
    return registered + PromoCodeFactory.create_batch(n - n // 2)


def checkouts(n):
    return [Checkout.objects.create(account=s.account, user=UserFactory(), target_plan=plan("high"),
                                    charge=ChargeFactory()) for s in SubscriptionFactory.create_batch(n)]  # fmt: skip


def linepay_registrations(n):
    return [LinePayRegistration.objects.create(account=AccountFactory(), order_id=f"reg-{uuid.uuid4().hex}",
                                               actor=UserFactory(), payment_method=PaymentMethodFactory())
            for _ in range(n)]  # fmt: skip


def renewal_runs(n):
    totals = {"renewed": 1, "charged_twd": 840, "failed": 0}
    return [RenewalRun.objects.create(command="renew_subscriptions", as_of=timezone.now(), host="h", pid=1,
                                      totals=totals) for _ in range(n)]  # fmt: skip


def renewals(n):
    return [Renewal.objects.create(subscription=s, period_start=date(2026, 7, 1), plan=plan("medium"),
                                   status=RenewalStatus.FAILED, charge=ChargeFactory())
            for s in SubscriptionFactory.create_batch(n)]  # fmt: skip


ROWS = {
    OfficialAccount: lambda n: [s.account for s in SubscriptionFactory.create_batch(n)],
    Plan: plans_with_prices,
    PlanPrice: PlanPriceFactory.create_batch,
    Subscription: subscriptions,
    PlanChange: plan_changes,
    MonthlyUsage: MonthlyUsageFactory.create_batch,
    AuditRecord: lambda n: AuditRecordFactory.create_batch(n, actor=UserFactory()),
    PaymentMethod: PaymentMethodFactory.create_batch,
    Charge: ChargeFactory.create_batch,
    Refund: lambda n: RefundFactory.create_batch(n, actor=UserFactory()),
    Campaign: CampaignFactory.create_batch,
    CodeBatch: lambda n: CodeBatchFactory.create_batch(n, actor=UserFactory()),
    PromoCode: promo_codes,
    Redemption: RedemptionFactory.create_batch,
    EInvoiceProfile: EInvoiceProfileFactory.create_batch,
    InvoiceNumberRange: InvoiceNumberRangeFactory.create_batch,
    Invoice: InvoiceFactory.create_batch,
    Checkout: checkouts,
    LinePayRegistration: linepay_registrations,
    RenewalRun: renewal_runs,
    Renewal: renewals,
    UserPreference: lambda n: [UserPreference.objects.create(user=UserFactory()) for _ in range(n)],
    CodeGuess: lambda n: CodeGuess.objects.bulk_create(
        CodeGuess(account=AccountFactory(), client="203.0.113.1") for _ in range(n)
    ),
}
# Queries per changelist page, whatever the number of rows (measured on SQLite and PostgreSQL).
QUERY_BUDGET = {
    "officialaccount": 8,
    "plan": 6,
    "planprice": 6,
    "subscription": 7,
    "planchange": 8,
    "monthlyusage": 7,
    "auditrecord": 6,
    "paymentmethod": 5,
    "charge": 8,
    "refund": 7,
    "campaign": 7,
    "codebatch": 8,
    "promocode": 5,
    "redemption": 7,
    "einvoiceprofile": 5,
    "invoicenumberrange": 6,
    "invoice": 9,
    "checkout": 8,
    "linepayregistration": 5,
    "codeguess": 7,
    "renewalrun": 8,
    "renewal": 6,
    "userpreference": 5,
}


MODELS = [pytest.param(model, id=model._meta.model_name) for model in ROWS]


# ---- every page opens -----------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_change_page_open(admin_client, model):
    # given
    row = ROWS[model](1)[0]

    # when
    changelist = admin_client.get(admin_url(model, "changelist"))
    change_page = admin_client.get(admin_url(model, "change", row.pk))

    # then
    assert changelist.status_code == 200
    assert row in changelist.context["cl"].result_list
    assert change_page.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_changelist_queries_do_not_grow_with_rows(admin_client, model):
    # given
    make_rows = ROWS[model]
    url = admin_url(model, "changelist")
    make_rows(10)
    admin_client.get(url)  # warm the content-type and site caches

    # when
    with CaptureQueriesContext(connection) as with_10:
        admin_client.get(url)
    make_rows(190)
    with CaptureQueriesContext(connection) as with_200:
        response = admin_client.get(url)

    # then
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 100
    assert len(with_200) == len(with_10)
    assert len(with_10) == QUERY_BUDGET[model._meta.model_name], [query["sql"] for query in with_10]


# ---- financial rows stay as the services wrote them -----------------------------------------

FINANCIAL = [Charge, Refund, Redemption, Invoice, AuditRecord, PlanChange, PromoCode]
SERVICE_WRITTEN = [AuditRecord, PlanChange, Charge, Refund, Redemption]


@pytest.mark.parametrize("model", [pytest.param(m, id=m._meta.model_name) for m in FINANCIAL])
def test_financial_rows_cannot_be_deleted(admin_client, model):
    # given
    row = ROWS[model](1)[0]

    # when
    page = admin_client.get(admin_url(model, "delete", row.pk))
    post = admin_client.post(admin_url(model, "delete", row.pk), {"post": "yes"})
    changelist = admin_client.get(admin_url(model, "changelist"))

    # then
    assert page.status_code == 403
    assert post.status_code == 403
    assert model.objects.filter(pk=row.pk).exists()
    assert "delete_selected" not in action_names(changelist)


@pytest.mark.parametrize("model", [pytest.param(m, id=m._meta.model_name) for m in SERVICE_WRITTEN])
def test_service_written_rows_cannot_be_added_by_hand(admin_client, model):
    # when
    response = admin_client.get(admin_url(model, "add"))

    # then
    assert response.status_code == 403


def test_a_charge_cannot_be_changed_by_a_post(admin_client):
    # given
    charge = ChargeFactory(idempotency_key="upgrade-42")

    # when
    response = admin_client.post(
        admin_url(Charge, "change", charge.pk), {"total_twd": 1, "status": "refunded", "idempotency_key": "x"}
    )

    # then
    charge.refresh_from_db()
    assert response.status_code == 403
    assert (charge.total_twd, charge.status, charge.idempotency_key) == (840, "succeeded", "upgrade-42")


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


def test_a_campaign_keeps_its_face_value_when_a_post_changes_it(admin_client):
    # given
    campaign = CampaignFactory(name="春季優惠")
    data = {
        "name": "春季優惠（延長）",
        "face_value_twd": 1,
        "valid_from_0": "2026-01-01",
        "valid_from_1": "00:00:00",
        "valid_until_0": "2027-12-31",
        "valid_until_1": "23:59:59",
        "regions": ["TW"],
        "payment_method_kinds": ["card", "linepay"],
        "charge_kinds": ["renewal_medium", "renewal_high"],
    }

    # when
    response = admin_client.post(admin_url(Campaign, "change", campaign.pk), data)

    # then
    campaign.refresh_from_db()
    assert response.status_code == 302
    assert campaign.name == "春季優惠（延長）"
    assert campaign.face_value_twd == 1200
    assert campaign.charge_kinds == ["renewal_medium", "renewal_high"]


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
        (6001, "0.180"), (50001, "0.050")]  # fmt: skip
    assert [(t.from_message, str(t.unit_price_twd)) for t in prices[later].tiers.order_by("from_message")] == [
        (6001, "0.180"), (50001, "0.050")]  # fmt: skip
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


# ---- payment methods: the token never shows -------------------------------------------------


def test_the_gateway_token_is_not_in_the_changelist_and_masked_on_the_change_page(admin_client):
    # given
    method = PaymentMethodFactory(gateway_token="tok_sandbox_secret_9876")

    # when
    changelist = admin_client.get(admin_url(PaymentMethod, "changelist"))
    change_page = admin_client.get(admin_url(PaymentMethod, "change", method.pk))

    # then
    assert "tok_sandbox_secret" not in changelist.content.decode()
    assert "tok_sandbox_secret" not in change_page.content.decode()
    assert "••••9876" in change_page.content.decode()


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
        "plan_price.add", str(price.pk), admin_user,
        {"plan": price.plan_id, "effective_from": next_month.isoformat(), "monthly_fee_twd": 900, "tiers": []},
    )  # fmt: skip


def test_the_plan_page_schedules_a_new_price_through_its_inline(admin_client):
    # given
    medium = plan("medium")
    next_month = next_month_start(month_start(local_date(timezone.now())))
    page = admin_client.get(admin_url(medium, "change", medium.pk))
    data = {**inline_management(page), "name_zh_hant": "中用量", "name_en": "Medium", "free_message_quota": 3000}
    data.update({"prices-2-TOTAL_FORMS": 1, "prices-2-0-effective_from": next_month.isoformat(),
                 "prices-2-0-monthly_fee_twd": 850})  # fmt: skip

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


# ---- promo code actions ---------------------------------------------------------------------


def test_void_action_voids_available_and_registered_codes_and_leaves_redeemed_ones(admin_client, admin_user):
    # given
    available = PromoCodeFactory()
    registered = PromoCodeFactory(
        status=CodeStatus.REGISTERED, registered_account=AccountFactory(), registered_at=timezone.now()
    )
    redeemed = RedemptionFactory().code

    # when
    response = post_action(admin_client, PromoCode, "void_codes", [available, registered, redeemed])

    # then
    assert response.status_code == 302
    statuses = dict(PromoCode.objects.values_list("pk", "status"))
    assert statuses == {available.pk: "void", registered.pk: "void", redeemed.pk: "redeemed"}
    audit = AuditRecord.objects.filter(action="promo_code.void").order_by("object_id")
    assert sorted(audit.values_list("object_id", "actor")) == sorted(
        [(str(available.pk), admin_user.pk), (str(registered.pk), admin_user.pk)]
    )
    assert messages_of(response) == [
        (SUCCESS, "2 of 3 codes voided."),
        (WARNING, "Codes already redeemed or void were left as they were."),
    ]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_action_streams_the_selected_codes_formatted(admin_client):
    # given
    campaign = CampaignFactory(name="春季優惠")
    first, second = PromoCodeFactory(campaign=campaign), PromoCodeFactory(campaign=campaign)
    PromoCodeFactory(campaign=campaign)

    # when
    response = post_action(admin_client, PromoCode, "export_codes", [first, second])

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="promo-codes-selected-')
    rows = csv_rows(response)
    assert rows[0] == ["code", "campaign", "status", "valid_until"]
    assert [row[:3] for row in rows[1:]] == [
        [format_code(first.code), "春季優惠", "available"],
        [format_code(second.code), "春季優惠", "available"],
    ]


def test_campaign_export_writes_every_code_once_across_chunks(admin_client, monkeypatch):
    # given
    monkeypatch.setattr(promos_admin, "EXPORT_CHUNK", 2)
    campaign = CampaignFactory()
    codes = PromoCodeFactory.create_batch(5, campaign=campaign)
    PromoCodeFactory()  # another campaign's

    # when
    response = post_action(admin_client, Campaign, "export_codes", [campaign])

    # then
    rows = csv_rows(response)
    assert rows[0] == ["code", "campaign", "status", "valid_until"]
    assert [row[0] for row in rows[1:]] == [format_code(code.code) for code in codes]


def test_generate_action_asks_for_the_count_first(admin_client):
    # given
    campaign = CampaignFactory()

    # when
    response = post_action(admin_client, Campaign, "generate_codes", [campaign])

    # then
    assert response.status_code == 200
    assert response.templates[0].name == "admin/promos/campaign/generate_codes.html"
    assert not response.context["form"].is_bound
    assert not PromoCode.objects.exists()


def test_generate_action_creates_the_codes(admin_client, admin_user):
    # given
    campaign = CampaignFactory(name="春季優惠")

    # when
    response = post_action(admin_client, Campaign, "generate_codes", [campaign], apply="1", count="25")

    # then
    assert response.status_code == 302
    batch = CodeBatch.objects.get()
    assert (batch.campaign, batch.requested, batch.actor) == (campaign, 25, admin_user)
    assert PromoCode.objects.filter(campaign=campaign, batch=batch, status="available").count() == 25
    assert messages_of(response) == [(SUCCESS, "25 codes generated for 春季優惠.")]


@pytest.mark.parametrize("count", ["0", "-3", "1000001"])
def test_generate_action_refuses_a_count_out_of_range(admin_client, count):
    # given
    campaign = CampaignFactory()

    # when
    response = post_action(admin_client, Campaign, "generate_codes", [campaign], apply="1", count=count)

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"count": ["Enter a number of codes from 1 to 1,000,000."]}
    assert not CodeBatch.objects.exists()
    assert not PromoCode.objects.exists()


def test_generate_action_wants_exactly_one_campaign(admin_client):
    # given
    campaigns = CampaignFactory.create_batch(2)

    # when
    response = post_action(admin_client, Campaign, "generate_codes", campaigns, apply="1", count="5")

    # then
    assert response.status_code == 302
    assert messages_of(response) == [(ERROR, "Select exactly one campaign to generate codes for.")]
    assert not PromoCode.objects.exists()


@pytest.mark.parametrize("typed", ["lower", "spaced"])
def test_search_finds_a_code_however_it_is_typed(admin_client, typed):
    # given
    code = PromoCodeFactory()
    PromoCodeFactory()
    term = format_code(code.code).lower() if typed == "lower" else " ".join(format_code(code.code).split("-"))

    # when
    response = admin_client.get(admin_url(PromoCode, "changelist"), {"q": term})

    # then
    assert list(response.context["cl"].result_list) == [code]


def test_search_finds_codes_by_the_account_they_are_registered_to(admin_client):
    # given
    account = AccountFactory(basic_id="@springshop")
    code = PromoCodeFactory(status=CodeStatus.REGISTERED, registered_account=account, registered_at=timezone.now())
    PromoCodeFactory()

    # when
    response = admin_client.get(admin_url(PromoCode, "changelist"), {"q": "@springshop"})

    # then
    assert list(response.context["cl"].result_list) == [code]


def test_redemption_search_finds_a_dashed_lower_case_code(admin_client):
    # given
    redemption = RedemptionFactory()
    RedemptionFactory()

    # when
    response = admin_client.get(admin_url(Redemption, "changelist"), {"q": format_code(redemption.code.code).lower()})

    # then
    assert list(response.context["cl"].result_list) == [redemption]


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


def test_a_number_range_added_by_staff_is_registered_by_the_service(admin_client):
    # given
    data = {"period": "11502", "prefix": "AB", "first_number": 100, "last_number": 199}

    # when
    response = admin_client.post(admin_url(InvoiceNumberRange, "add"), data)

    # then
    assert response.status_code == 302
    number_range = InvoiceNumberRange.objects.get()
    assert (number_range.first_number, number_range.last_number, number_range.next_number) == (100, 199, 100)
    assert AuditRecord.objects.get().action == "invoice_number_range.create"


def test_an_einvoice_profile_saved_by_staff_is_audited(admin_client):
    # given
    profile = EInvoiceProfileFactory()
    data = {"kind": "donation", "email": "owner@example.tw", "donation_code": "168", "name": "王小明"}

    # when
    response = admin_client.post(admin_url(EInvoiceProfile, "change", profile.pk), data)

    # then
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.kind, profile.donation_code, profile.name) == ("donation", "168", "")
    assert AuditRecord.objects.get().action == "einvoice_profile.update"


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
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}  # fmt: skip


def test_changing_an_accounts_region_and_adding_a_member_leave_audit_records(admin_client, admin_user):
    # given
    account = SubscriptionFactory().account
    member = UserFactory()
    data = {"name": account.name, "basic_id": account.basic_id, "region": "JP"} | formset_management(
        "memberships", total=1
    ) | {"memberships-0-user": str(member.pk), "memberships-0-role": "admin"}  # fmt: skip

    # when
    response = admin_client.post(admin_url(OfficialAccount, "change", account.pk), data)

    # then
    assert response.status_code == 302
    change = AuditRecord.objects.get(action="officialaccount.change")
    assert (change.actor, change.account, change.before, change.after) == (
        admin_user, account, {"region": "TW"}, {"region": "JP"})  # fmt: skip
    added = AuditRecord.objects.get(action="membership.add")
    assert (added.account, added.after["user"], added.after["role"]) == (account, member.pk, "admin")


def test_saving_an_unchanged_account_writes_no_audit_record(admin_client):
    account = SubscriptionFactory().account
    data = {"name": account.name, "basic_id": account.basic_id, "region": "TW"} | formset_management("memberships")
    response = admin_client.post(admin_url(OfficialAccount, "change", account.pk), data)
    assert response.status_code == 302
    assert not AuditRecord.objects.exists()


def test_exporting_codes_is_audited(admin_client, admin_user):
    campaign = CampaignFactory()
    PromoCodeFactory(campaign=campaign)
    response = post_action(admin_client, Campaign, "export_codes", [campaign])
    b"".join(response.streaming_content)
    record = AuditRecord.objects.get(action="promo_code.export")
    assert (record.actor, record.object_id, record.after) == (admin_user, str(campaign.pk), {"scope": "campaign"})


def test_staff_can_retry_a_failed_renewal_before_its_day(admin_client):
    # given a failed renewal of an account that now has a working card
    subscription = SubscriptionFactory(medium=True, period_start=date(2026, 6, 1))
    add_card(subscription.account)
    renewal = Renewal.objects.create(
        subscription=subscription, period_start=date(2026, 7, 1), plan=plan("medium"), status=RenewalStatus.FAILED,
        next_retry_on=date(2099, 1, 3), attempts=1,
    )  # fmt: skip
    # when
    response = post_action(admin_client, Renewal, "retry_now", [renewal])
    # then
    assert response.status_code == 302
    renewal.refresh_from_db()
    subscription.refresh_from_db()
    assert renewal.status == RenewalStatus.RENEWED
    assert (renewal.attempts, renewal.charge.total_twd) == (2, 840)
    assert subscription.period_start == date(2026, 7, 1)


def test_staff_refund_a_charge_through_the_gateway_and_the_invoice_is_voided(admin_client, admin_user):
    # given a paid upgrade with its invoice, in this period
    from billing.checkout import checkout_purchase
    from invoices.issuing import invoice_period
    from invoices.models import InvoiceStatus

    membership = ready_admin()
    InvoiceNumberRange.objects.create(period=invoice_period(timezone.localdate()), prefix="AB", first_number=1,
                                      last_number=9)  # fmt: skip
    checkout = start_checkout(membership)
    charge = checkout_purchase(checkout=checkout, expected_total_twd=840, actor=None).charge
    # when staff refund it in full, with a reason
    form = post_action(admin_client, Charge, "refund", [charge])
    assert form.status_code == 200
    done = post_action(admin_client, Charge, "refund", [charge], apply="1", amount_twd="", reason="客戶要求")
    # then the gateway refunded, the charge is refunded and its invoice voided
    assert done.status_code == 302
    charge.refresh_from_db()
    assert charge.status == "refunded"
    refund = charge.refunds.get()
    assert (refund.amount_twd, refund.reason, refund.actor) == (840, "客戶要求", admin_user)
    assert refund.gateway_reference.startswith("R")
    assert charge.invoice.status == InvoiceStatus.VOIDED
