"""The staff admin across the apps: every list opens and keeps a query budget, financial rows stay as services
wrote them.

Each app's own admin pages and actions are tested next to it: tests/<app>/test_admin.py.
"""

import uuid
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditRecord, OfficialAccount, UserPreference
from accounts.periods import local_date, month_start
from billing.models import Checkout, Plan, PlanChange, PlanPrice, Renewal, RenewalRun, Subscription
from invoices.models import EInvoiceProfile, Invoice, InvoiceNumberRange
from payments.models import Charge, LinePayRegistration, PaymentMethod, Refund
from promos.models import Campaign, CodeBatch, CodeGuess, PromoCode, Redemption
from tests.admin_rows import admin_url
from tests.factories import (
    AccountFactory,
    AuditRecordFactory,
    CampaignFactory,
    ChargeFactory,
    CodeBatchFactory,
    DailyUsageFactory,
    EInvoiceProfileFactory,
    InvoiceFactory,
    InvoiceNumberRangeFactory,
    MessagingChannelFactory,
    MonthlyUsageFactory,
    PaymentMethodFactory,
    PlanChangeFactory,
    PlanFactory,
    PlanPriceFactory,
    PromoCodeFactory,
    RedemptionFactory,
    RefundFactory,
    RenewalFactory,
    SubscriptionFactory,
    UserFactory,
    plan,
)
from usage.models import DailyUsage, MessageKind, MessagingChannel, MonthlyUsage

# These tests read the English source strings; tests/test_i18n.py checks the zh-Hant ones.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def action_names(changelist) -> set[str]:
    action_form = changelist.context["action_form"]  # None when no action is offered
    return {name for name, _ in action_form.fields["action"].choices} if action_form else set()


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
    registered = PromoCodeFactory.create_batch(n // 2, registered=True)
    return registered + PromoCodeFactory.create_batch(n - n // 2)


def checkouts(n):
    return [
        Checkout.objects.create(account=s.account, user=UserFactory(), target_plan=plan("high"), charge=ChargeFactory())
        for s in SubscriptionFactory.create_batch(n)
    ]


def linepay_registrations(n):
    return [
        LinePayRegistration.objects.create(
            account=AccountFactory(),
            order_id=f"reg-{uuid.uuid4().hex}",
            actor=UserFactory(),
            payment_method=PaymentMethodFactory(),
        )
        for _ in range(n)
    ]


def renewal_runs(n):
    totals = {"renewed": 1, "charged_twd": 840, "failed": 0}
    return [
        RenewalRun.objects.create(command="renew_subscriptions", as_of=timezone.now(), host="h", pid=1, totals=totals)
        for _ in range(n)
    ]


def renewals(n):
    return [
        RenewalFactory(
            failed=True, subscription=s, period_start=date(2026, 7, 1), plan=plan("medium"), charge=ChargeFactory()
        )
        for s in SubscriptionFactory.create_batch(n)
    ]


ROWS = {
    OfficialAccount: lambda n: [s.account for s in SubscriptionFactory.create_batch(n)],
    Plan: plans_with_prices,
    PlanPrice: PlanPriceFactory.create_batch,
    Subscription: subscriptions,
    PlanChange: plan_changes,
    MonthlyUsage: MonthlyUsageFactory.create_batch,
    DailyUsage: DailyUsageFactory.create_batch,
    MessageKind: lambda n: [
        MessageKind.objects.create(
            code=f"kind-{uuid.uuid4().hex[:8]}", name_zh_hant="新種類", name_en="New kind", billed=True
        )
        for _ in range(n)
    ],
    MessagingChannel: MessagingChannelFactory.create_batch,
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
    "dailyusage": 8,
    "messagingchannel": 5,
    "messagekind": 5,
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


SERVICE_WRITTEN = [AuditRecord, PlanChange, Charge, Refund, Redemption, MessagingChannel]


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
