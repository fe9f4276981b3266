import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import AuditRecord, Membership, OfficialAccount, Role
from billing.checkout import checkout_purchase, checkout_start
from billing.models import CheckoutStatus, ExtraMessagesBill, Plan, Renewal, Subscription
from invoices.models import Allowance, EInvoiceProfile, Invoice
from payments.models import Charge, ChargeStatus, MethodKind, PaymentMethod
from promos.models import Campaign, CodeBatch, CodeStatus, PromoCode

pytestmark = pytest.mark.django_db

MODELS = [
    get_user_model(),
    OfficialAccount,
    Membership,
    Subscription,
    EInvoiceProfile,
    PaymentMethod,
    Campaign,
    CodeBatch,
    PromoCode,
    AuditRecord,
    Charge,
    Invoice,
    Allowance,
    Renewal,
    ExtraMessagesBill,
]


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seed_demo_twice_changes_nothing_and_prints_the_logins(settings):
    # given
    settings.DEBUG = True
    seed()
    first = row_counts()

    # when
    output = seed()

    # then
    assert row_counts() == first
    assert first == {
        "User": 3,
        "OfficialAccount": 8,
        "Membership": 11,
        "Subscription": 8,
        "EInvoiceProfile": 7,
        "PaymentMethod": 6,
        "Campaign": 2,
        "CodeBatch": 2,
        "PromoCode": 55,
        "AuditRecord": 41,
        # this month's renewals of the three paid accounts with a card, their invoices, @demo-medium's refund
        "Charge": 3,
        "Invoice": 3,
        "Allowance": 1,
        "Renewal": 3,
        "ExtraMessagesBill": 1,  # @demo-high's last month, carried by its renewal
    }
    for login in ("staff     demo-staff-2026", "admin     demo-admin-2026", "operator  demo-operator-2026"):
        assert login in output
    assert "@demo-light-new   TW  light   nothing registered" in output


def test_seed_demo_sets_up_users_accounts_and_codes(settings):
    # given
    settings.DEBUG = True

    # when
    output = seed()

    # then
    staff = get_user_model().objects.get(username="staff")
    assert staff.is_staff and staff.is_superuser and staff.check_password("demo-staff-2026")
    assert get_user_model().objects.get(username="admin").check_password("demo-admin-2026")
    tw_accounts = set(OfficialAccount.objects.filter(region="TW"))
    admin_accounts = {m.account for m in Membership.objects.filter(user__username="admin", role=Role.ADMIN)}
    assert len(tw_accounts) == 7
    assert tw_accounts <= admin_accounts
    assert Membership.objects.filter(user__username="operator", role=Role.OPERATOR).count() == 3
    assert OfficialAccount.objects.get(region="JP").basic_id == "@demo-jp"
    assert PaymentMethod.objects.filter(is_main=True, kind=MethodKind.LINEPAY).count() == 2
    assert set(PaymentMethod.objects.values_list("gateway", flat=True)) == {"sandbox"}
    assert AuditRecord.objects.filter(action="payment_method.add").count() == 6
    assert AuditRecord.objects.filter(action="subscription.start").count() == 8
    assert AuditRecord.objects.filter(action="einvoice_profile.create").count() == 7
    current = Campaign.objects.get(name="Demo NT$1,200 優惠活動代碼")
    assert current.face_value_twd == 1200
    assert current.codes.filter(status=CodeStatus.AVAILABLE).count() == 50
    shown = [code.display_code for code in current.codes.order_by("pk")[:5]]
    assert all(code in output for code in shown)


def test_seed_demo_tops_up_the_campaign_to_fifty_codes(settings):
    # given
    settings.DEBUG = True
    seed()
    campaign = Campaign.objects.get(name="Demo NT$1,200 優惠活動代碼")
    PromoCode.objects.filter(pk__in=list(campaign.codes.order_by("-pk").values_list("pk", flat=True)[:10])).delete()

    # when
    seed()

    # then
    assert campaign.codes.count() == 50
    assert CodeBatch.objects.filter(campaign=campaign).order_by("-pk").first().requested == 10


def test_seed_demo_refuses_without_debug(settings):
    # given
    settings.DEBUG = False

    # when
    with pytest.raises(CommandError) as error:
        seed()

    # then
    assert str(error.value) == ("seed_demo creates users with known passwords: it runs only with DEBUG on, or --force.")
    assert set(row_counts().values()) == {0}


def test_seed_demo_runs_without_debug_when_forced(settings):
    # given
    settings.DEBUG = False

    # when
    seed("--force")

    # then
    assert OfficialAccount.objects.count() == 8


@pytest.mark.parametrize("basic_id", ["@demo-medium", "@demo-medium-lp"])
def test_the_demo_payment_methods_really_pay_at_the_sandbox(settings, basic_id):
    # given the demo data, as `make run` loads it
    settings.DEBUG = True
    seed()
    account = OfficialAccount.objects.get(basic_id=basic_id)
    admin = get_user_model().objects.get(username="admin")
    # when its admin buys the High plan
    checkout = checkout_start(account=account, plan=Plan.objects.get(code="high"), user=admin, channel="desktop")
    checkout = checkout_purchase(checkout=checkout, expected_total_twd=420, actor=admin)
    # then the sandbox charged the method the demo registered
    assert checkout.status == CheckoutStatus.PAID
    assert checkout.charge.status == ChargeStatus.SUCCEEDED
    # and the demo's 字軌 numbers its invoice
    assert checkout.charge.invoice.number.startswith("DM")


def test_the_demo_shows_every_part_of_message_usage(settings, client):
    # given the demo, whatever day of the month it is
    settings.DEBUG = True
    seed()
    from django.utils import timezone

    from accounts.periods import local_date, month_start
    from usage.models import MessagingChannel, MonthlyUsage

    this_month = month_start(local_date(timezone.now()))
    billed = dict(MonthlyUsage.objects.filter(month=this_month).values_list("account__basic_id", "billed_messages"))
    # then High is over its 6,000 free messages, under its cap, with a connected channel; Medium is near its 3,000
    assert billed["@demo-high"] > 6_000 and billed["@demo-medium"] > 0.8 * 3_000
    high = OfficialAccount.objects.get(basic_id="@demo-high")
    assert high.subscription.extra_message_cap == 10_000
    assert MessagingChannel.objects.get().account == high
    # and its usage page says so to the demo admin
    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get(f"/accounts/{high.pk}/usage/")
    assert page.status_code == 200 and 'data-testid="usage-extra"' in page.content.decode()


def test_this_months_renewals_are_paid_invoiced_and_high_carries_last_months_extra_messages(settings):
    settings.DEBUG = True
    seed()
    high = OfficialAccount.objects.get(basic_id="@demo-high")
    charge = Charge.objects.get(account=high)
    assert (charge.purpose, charge.status, charge.fee_twd) == ("renewal", "succeeded", 1200)
    assert 0 < charge.extra_messages_twd <= 10_000 * 0.2  # under the cap of 10,000
    bill = ExtraMessagesBill.objects.get(account=high)
    assert (bill.status, bill.cap, bill.renewal.charge) == ("renewal", 10_000, charge)
    assert Invoice.objects.get(charge=charge).number.startswith("DM")
    medium = Charge.objects.get(account__basic_id="@demo-medium")
    assert Allowance.objects.get(invoice__charge=medium).total_twd == 100
