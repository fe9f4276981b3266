from datetime import date, datetime

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Membership, OfficialAccount, Role
from accounts.periods import BILLING_TZ, next_month_start
from billing.models import Plan, RenewalStatus, Subscription
from billing.renewals.batches import next_retry_day
from invoices.models import EInvoiceProfile, ProfileKind
from payments.models import ChargeStatus, Gateway, MethodKind, MethodStatus, PaymentMethod
from promos.codes import random_code
from promos.models import Campaign, CodeStatus, PromoCode
from usage.models import MessageKind
from usage.tokens import token_encrypt


def plan(code: str) -> Plan:
    return Plan.objects.get(code=code)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.tw")
    password = factory.django.Password("pass-for-tests-1")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OfficialAccount

    name = factory.Sequence(lambda n: f"小店 {n}")
    basic_id = factory.Sequence(lambda n: f"@{n:03d}shop")
    region = "TW"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    account = factory.SubFactory(AccountFactory)
    plan = factory.LazyFunction(lambda: plan("light"))
    period_start = factory.LazyFunction(lambda: datetime.now(BILLING_TZ).date().replace(day=1))

    class Params:
        medium = factory.Trait(plan=factory.LazyFunction(lambda: plan("medium")))
        high = factory.Trait(plan=factory.LazyFunction(lambda: plan("high")))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Role.ADMIN

    class Params:
        operator = factory.Trait(role=Role.OPERATOR)


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod

    account = factory.SubFactory(AccountFactory)
    kind = MethodKind.CARD
    gateway = Gateway.SANDBOX
    gateway_token = factory.Sequence(lambda n: f"tok_sandbox_{n:06d}")
    brand = "visa"
    last_four = "4242"
    expiry_month = 12
    expiry_year = 2030
    is_main = True

    class Params:
        linepay = factory.Trait(
            kind=MethodKind.LINEPAY,
            brand="",
            last_four="",
            expiry_month=None,
            expiry_year=None,
            masked_card="4111-****-****-1111",
            gateway_token=factory.Sequence(lambda n: f"{n:015d}"),
        )
        spare = factory.Trait(is_main=False)
        # Only an active method can be the main one (the constraint main_method_is_active).
        expired = factory.Trait(status=MethodStatus.EXPIRED, is_main=False)


class EInvoiceProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EInvoiceProfile

    account = factory.SubFactory(AccountFactory)
    kind = ProfileKind.PRINTED
    name = "王小明"
    email = "owner@example.tw"


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"優惠活動 {n}")
    face_value_twd = 1200
    valid_from = datetime(2026, 1, 1, tzinfo=BILLING_TZ)
    valid_until = datetime(2027, 12, 31, 23, 59, 59, tzinfo=BILLING_TZ)


class PromoCodeFactory(factory.django.DjangoModelFactory):
    """An available code; `registered=True`, `redeemed=True`, `void=True` or `expired=True` for the others."""

    class Meta:
        model = PromoCode

    campaign = factory.SubFactory(CampaignFactory)
    code = factory.LazyFunction(random_code)

    class Params:
        # A registered code names its account (the constraint code_registered_has_account); the others name none.
        registered = factory.Trait(
            status=CodeStatus.REGISTERED,
            registered_account=factory.SubFactory(AccountFactory),
            registered_at=factory.LazyFunction(timezone.now),
        )
        redeemed = factory.Trait(status=CodeStatus.REDEEMED)
        void = factory.Trait(status=CodeStatus.VOID)
        expired = factory.Trait(status=CodeStatus.EXPIRED)


# ---- added for the admin tests (tests/test_admin_lists.py, tests/<app>/test_admin.py) ---------


class PlanFactory(factory.django.DjangoModelFactory):
    """A plan beyond the three seeded ones, for lists that need many rows."""

    class Meta:
        model = "billing.Plan"

    code = factory.Sequence(lambda n: f"x{n}")
    name_zh_hant = factory.Sequence(lambda n: f"方案 {n}")
    name_en = factory.Sequence(lambda n: f"Plan {n}")
    rank = factory.Sequence(lambda n: 100 + n)
    free_message_quota = 1000


class PlanPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.PlanPrice"

    plan = factory.LazyFunction(lambda: plan("medium"))
    effective_from = factory.Sequence(lambda n: date(2030 + n // 12, n % 12 + 1, 1))
    monthly_fee_twd = 900


class PlanChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.PlanChange"

    subscription = factory.SubFactory(SubscriptionFactory)
    kind = "started"
    to_plan = factory.LazyFunction(lambda: plan("light"))
    effective_on = date(2026, 1, 1)


class MonthlyUsageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "usage.MonthlyUsage"

    account = factory.SubFactory(AccountFactory)
    month = date(2026, 1, 1)
    billed_messages = 1000


class ExtraMessagesBillFactory(factory.django.DjangoModelFactory):
    """A month of extra messages waiting for its final figure (made as a renewal's claim makes it)."""

    class Meta:
        model = "billing.ExtraMessagesBill"

    account = factory.SubFactory(AccountFactory)
    month = date(2026, 1, 1)
    plan = factory.LazyFunction(lambda: plan("high"))


def message_kind(code: str) -> MessageKind:
    return MessageKind.objects.get(code=code)


class DailyUsageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "usage.DailyUsage"

    account = factory.SubFactory(AccountFactory)
    day = date(2026, 1, 1)
    kind = factory.LazyFunction(lambda: message_kind("apiPush"))
    count = 120


class MessagingChannelFactory(factory.django.DjangoModelFactory):
    """A connected channel whose token (encrypted, as stored) is `token`."""

    class Meta:
        model = "usage.MessagingChannel"
        exclude = ("token",)

    account = factory.SubFactory(AccountFactory)
    token = "factory-channel-access-token"
    token_encrypted = factory.LazyAttribute(lambda o: token_encrypt(o.token))
    status = "connected"
    connected_at = factory.LazyFunction(timezone.now)


class AuditRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.AuditRecord"

    account = factory.SubFactory(AccountFactory)
    object_type = "billing.subscription"
    object_id = factory.Sequence(str)
    object_repr = factory.Sequence(lambda n: f"@{n:03d}shop: light 2026-01")
    action = "subscription.start"
    after = factory.LazyFunction(lambda: {"plan": 1, "status": "active"})


class ChargeFactory(factory.django.DjangoModelFactory):
    """A succeeded light→medium upgrade: NT$800 + 5% tax; `pending=True` or `failed=True` for the others."""

    class Meta:
        model = "payments.Charge"

    account = factory.SubFactory(AccountFactory)
    purpose = "upgrade"
    plan_code = "medium"
    period_start = date(2026, 1, 1)
    lines = factory.LazyFunction(
        lambda: [
            {"kind": "fee", "plan": "medium", "amount_twd": 800},
            {"kind": "tax", "rate": "0.05", "amount_twd": 40},
        ]
    )
    fee_twd = 800
    net_twd = 800
    tax_twd = 40
    total_twd = 840
    idempotency_key = factory.Sequence(lambda n: f"upgrade-{n:06d}")
    gateway = Gateway.SANDBOX
    status = ChargeStatus.SUCCEEDED
    settled_at = factory.LazyFunction(timezone.now)

    class Params:
        # A charge the gateway answered was settled then (settled_at); a pending one is still at the gateway.
        pending = factory.Trait(status=ChargeStatus.PENDING, settled_at=None)
        failed = factory.Trait(status=ChargeStatus.FAILED, failure_reason="declined")


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "payments.Refund"

    charge = factory.SubFactory(ChargeFactory)
    amount_twd = 840
    reason = "客訴退款"
    status = "succeeded"
    idempotency_key = factory.Sequence(lambda n: f"refund-{n:06d}")


class CodeBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "promos.CodeBatch"

    campaign = factory.SubFactory(CampaignFactory)
    requested = 10


class RedemptionFactory(factory.django.DjangoModelFactory):
    """A NT$1,200 code used on a medium upgrade: 800 deducted, 400 forfeited."""

    class Meta:
        model = "promos.Redemption"

    code = factory.SubFactory(PromoCodeFactory, redeemed=True)
    account = factory.SubFactory(AccountFactory)
    charge = factory.SubFactory(
        ChargeFactory, account=factory.SelfAttribute("..account"), deduction_twd=800, net_twd=0, tax_twd=0, total_twd=0
    )
    applied_twd = 800
    forfeited_twd = 400


class InvoiceNumberRangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "invoices.InvoiceNumberRange"

    period = "11502"
    prefix = "AB"
    first_number = factory.Sequence(lambda n: n * 1000)
    last_number = factory.LazyAttribute(lambda r: r.first_number + 999)


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An issued B2C invoice of ChargeFactory's NT$840."""

    class Meta:
        model = "invoices.Invoice"

    charge = factory.SubFactory(ChargeFactory)
    status = "issued"
    period = "11502"
    number = factory.Sequence(lambda n: f"AB{n:08d}")
    random_code = "1234"
    buyer = factory.LazyFunction(lambda: {"kind": "member", "name": "王小明", "email": "owner@example.tw"})
    seller = factory.LazyFunction(lambda: {"ubn": "12345675", "name": "LINE 帳單後台"})
    lines = factory.LazyFunction(
        lambda: [{"description": "中用量 2026-01", "quantity": 1, "unit_price_twd": 800, "amount_twd": 800}]
    )
    sales_twd = 800
    tax_twd = 40
    total_twd = 840
    issued_at = factory.LazyFunction(lambda: datetime(2026, 1, 5, 10, 0, tzinfo=BILLING_TZ))


class RenewalFactory(factory.django.DjangoModelFactory):
    """A subscription's renewal into its next month as a run first records it: charging, on its first attempt;
    `failed=True` for one the gateway declined, waiting for its next retry day."""

    class Meta:
        model = "billing.Renewal"

    subscription = factory.SubFactory(SubscriptionFactory)
    period_start = factory.LazyAttribute(lambda r: next_month_start(r.subscription.period_start))
    plan = factory.SelfAttribute("subscription.plan")
    status = RenewalStatus.CHARGING
    attempts = 1

    class Params:
        # Declined on the new period's first day: retried on the next of BILLING_RETRY_DAYS.
        failed = factory.Trait(
            status=RenewalStatus.FAILED,
            last_error="declined",
            next_retry_on=factory.LazyAttribute(lambda r: next_retry_day(r.period_start, after=r.period_start)),
        )
