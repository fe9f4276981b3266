from datetime import datetime

import factory
from django.contrib.auth import get_user_model

from billing.models import Membership, OfficialAccount, Plan, Role, Subscription
from billing.periods import BILLING_TZ
from invoices.models import EInvoiceProfile, ProfileKind
from payments.models import Gateway, MethodKind, PaymentMethod
from promos.codes import random_code
from promos.models import Campaign, PromoCode


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
            kind=MethodKind.LINEPAY, brand="", last_four="", expiry_month=None, expiry_year=None,
            masked_card="4111-****-****-1111", gateway_token=factory.Sequence(lambda n: f"{n:015d}"),
        )  # fmt: skip
        spare = factory.Trait(is_main=False)


class EInvoiceProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EInvoiceProfile

    account = factory.SubFactory(AccountFactory)
    kind = ProfileKind.MEMBER_CARRIER
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
    class Meta:
        model = PromoCode

    campaign = factory.SubFactory(CampaignFactory)
    code = factory.LazyFunction(random_code)
