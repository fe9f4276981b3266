from datetime import datetime

import pytest
import time_machine
from django.utils import translation

from accounts.errors import ServiceError
from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from payments.models import Charge
from promos.codes import format_code
from promos.eligibility import CodeRefusal
from promos.models import CodeStatus, PromoCode, Redemption, default_charge_kinds
from promos.services import (
    CodeNotUsable,
    promo_code_hold,
    promo_code_redeem,
    promo_code_register,
    promo_code_unregister,
    promo_codes_void,
)
from tests.factories import (
    CampaignFactory,
    PaymentMethodFactory,
    PromoCodeFactory,
    SubscriptionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 10, 12, tzinfo=BILLING_TZ)


@pytest.fixture
def account():
    subscription = SubscriptionFactory(medium=True)
    PaymentMethodFactory(account=subscription.account)
    return subscription.account


def make_charge(account, key="k1"):
    return Charge.objects.create(
        account=account,
        purpose="renewal",
        period_start=NOW.date().replace(day=1),
        fee_twd=800,
        deduction_twd=800,
        forfeited_twd=400,
        net_twd=0,
        tax_twd=0,
        total_twd=0,
        idempotency_key=key,
    )


def state(code):
    code.refresh_from_db()
    return code.status, code.registered_account_id


# ---- registering a code for the next renewal (情境四) -----------------------------------------


def test_register_reserves_the_code_for_the_account(account):
    # given
    code = PromoCodeFactory()
    admin = UserFactory()
    # when
    promo_code_register(account=account, text=format_code(code.code).lower(), actor=admin, at=NOW)
    # then
    assert state(code) == (CodeStatus.REGISTERED, account.pk)
    record = AuditRecord.objects.get(action="promo_code.register")
    assert record.actor == admin
    assert record.before == {"status": "available", "registered_account": None}
    assert record.after == {"status": "registered", "registered_account": account.pk}


def test_unregister_makes_the_code_available_again(account):
    code = PromoCodeFactory()
    promo_code_register(account=account, text=code.code, actor=None, at=NOW)
    promo_code_unregister(account=account, actor=None)
    assert state(code) == (CodeStatus.AVAILABLE, None)
    assert AuditRecord.objects.filter(action="promo_code.unregister").count() == 1


def test_a_registered_code_a_renewal_is_paying_with_cannot_be_taken_back(account):
    # given the account's registered code, held by the renewal charge in progress
    code = PromoCodeFactory()
    promo_code_register(account=account, text=code.code, actor=None, at=NOW)
    promo_code_hold(text=code.code, account=account, charge=make_charge(account), actor=None)
    # when
    with pytest.raises(CodeNotUsable) as error:
        promo_code_unregister(account=account, actor=None)
    # then a readable refusal, and the code stays held for the renewal
    assert error.value.refusal == CodeRefusal.IN_USE
    assert state(code) == (CodeStatus.HELD, account.pk)
    assert not AuditRecord.objects.filter(action="promo_code.unregister").exists()


def test_one_registered_code_per_account(account):
    first, second = PromoCodeFactory(), PromoCodeFactory()
    promo_code_register(account=account, text=first.code, actor=None, at=NOW)
    with pytest.raises(ServiceError) as error:
        promo_code_register(account=account, text=second.code, actor=None, at=NOW)
    assert error.value.code == "already_registered"
    assert state(second) == (CodeStatus.AVAILABLE, None)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hant", "此代碼的有效期間在下次續約（2026-07-01）前結束，無法登錄於續約使用。"),
        (
            "en",
            "This code's validity period ends before the next renewal (2026-07-01), so it cannot be registered "
            "for the renewal.",
        ),
    ],
)
def test_a_code_still_valid_but_ending_before_the_next_renewal_is_refused_with_its_own_message(
    account, language, message
):
    # given a code valid today (June 10th) whose window closes on the 30th, before the renewal on July 1st
    campaign = CampaignFactory(valid_until=datetime(2026, 6, 30, 23, 59, 59, tzinfo=BILLING_TZ))
    code = PromoCodeFactory(campaign=campaign)
    # when
    with translation.override(language), pytest.raises(CodeNotUsable) as error:
        promo_code_register(account=account, text=code.code, actor=None, at=NOW)
    # then it says why, in the admin's language, and nothing changed
    assert error.value.refusal == CodeRefusal.ENDS_BEFORE_RENEWAL
    assert error.value.code == "ends_before_renewal"
    assert error.value.message == message
    assert state(code) == (CodeStatus.AVAILABLE, None)
    assert not AuditRecord.objects.filter(action="promo_code.register").exists()


@pytest.mark.parametrize(
    ("language", "message"), [("zh-hant", "此代碼的有效期間已結束。"), ("en", "This code's validity period has ended.")]
)
def test_a_code_whose_window_has_already_ended_is_refused_as_expired(account, language, message):
    # given a code whose window closed on June 9th, the day before the admin types it
    campaign = CampaignFactory(valid_until=datetime(2026, 6, 9, 23, 59, 59, tzinfo=BILLING_TZ))
    code = PromoCodeFactory(campaign=campaign)
    # when
    with translation.override(language), pytest.raises(CodeNotUsable) as error:
        promo_code_register(account=account, text=code.code, actor=None, at=NOW)
    # then
    assert error.value.refusal == CodeRefusal.EXPIRED
    with translation.override(language):  # the label is lazy: it reads in the language it is shown in
        assert str(error.value.message) == message
    assert state(code) == (CodeStatus.AVAILABLE, None)
    assert not AuditRecord.objects.filter(action="promo_code.register").exists()


def test_a_code_marked_expired_is_refused_as_expired_even_inside_its_window(account):
    # given a code the expiry job already marked expired (its campaign was shortened since, say)
    code = PromoCodeFactory(expired=True)
    # when
    with translation.override("en"), pytest.raises(CodeNotUsable) as error:
        promo_code_register(account=account, text=code.code, actor=None, at=NOW)
    # then
    assert error.value.refusal == CodeRefusal.EXPIRED
    with translation.override("en"):
        assert str(error.value.message) == "This code's validity period has ended."
    assert state(code) == (CodeStatus.EXPIRED, None)


@pytest.mark.parametrize(
    ("setup", "refusal"),
    [
        ("other_region", CodeRefusal.WRONG_REGION),
        ("card_only_campaign_linepay_account", CodeRefusal.WRONG_PAYMENT_METHOD),
        ("redeemed", CodeRefusal.REDEEMED),
        ("void", CodeRefusal.VOID),
        ("registered_elsewhere", CodeRefusal.REGISTERED_ELSEWHERE),
        ("upgrade_only_campaign", CodeRefusal.WRONG_CHARGE),
        ("unknown", CodeRefusal.UNKNOWN),
    ],
)
def test_registration_is_refused_with_the_reason(setup, refusal):
    # given
    subscription = SubscriptionFactory(medium=True, account__region="JP" if setup == "other_region" else "TW")
    account = subscription.account
    PaymentMethodFactory(account=account, linepay=setup == "card_only_campaign_linepay_account")
    campaign = CampaignFactory(
        payment_method_kinds=["card"] if setup == "card_only_campaign_linepay_account" else ["card", "linepay"],
        charge_kinds=["upgrade_to_medium"] if setup == "upgrade_only_campaign" else default_charge_kinds(),
    )
    code = PromoCodeFactory(campaign=campaign, redeemed=setup == "redeemed", void=setup == "void")
    if setup == "registered_elsewhere":
        other = SubscriptionFactory(medium=True).account
        PaymentMethodFactory(account=other)
        promo_code_register(account=other, text=code.code, actor=None, at=NOW)
    before = state(code)
    # when
    with pytest.raises(CodeNotUsable) as error:
        promo_code_register(
            account=account, text="NO-SUCH-CODE" if setup == "unknown" else code.code, at=NOW, actor=None
        )
    # then
    assert error.value.refusal == refusal
    assert str(error.value.message) == str(refusal.label)
    assert state(code) == before
    assert not PromoCode.objects.filter(registered_account=account).exists()


def test_a_light_account_may_register_a_code_that_waits_for_a_paid_renewal():
    subscription = SubscriptionFactory()
    PaymentMethodFactory(account=subscription.account)
    code = PromoCodeFactory()
    promo_code_register(account=subscription.account, text=code.code, actor=None, at=NOW)
    assert state(code) == (CodeStatus.REGISTERED, subscription.account.pk)


# ---- redeeming --------------------------------------------------------------------------------


def test_redeem_records_applied_and_forfeited_amounts(account):
    code = PromoCodeFactory()
    charge = make_charge(account)
    redemption = promo_code_redeem(
        text=code.code, account=account, charge=charge, applied_twd=800, forfeited_twd=400, actor=None
    )
    assert (redemption.applied_twd, redemption.forfeited_twd, redemption.charge) == (800, 400, charge)
    assert state(code) == (CodeStatus.REDEEMED, None)
    assert AuditRecord.objects.get(action="promo_code.redeem").after["forfeited_twd"] == 400


def test_a_registered_code_is_consumed_by_its_own_account_at_an_upgrade(account):
    code = PromoCodeFactory()
    promo_code_register(account=account, text=code.code, actor=None, at=NOW)
    promo_code_redeem(
        text=code.code, account=account, charge=make_charge(account), applied_twd=800, forfeited_twd=400, actor=None
    )
    assert state(code) == (CodeStatus.REDEEMED, None)


@pytest.mark.parametrize("status", [CodeStatus.REDEEMED, CodeStatus.VOID])
def test_a_used_or_void_code_cannot_be_redeemed(account, status):
    code = PromoCodeFactory(redeemed=status == CodeStatus.REDEEMED, void=status == CodeStatus.VOID)
    with pytest.raises(CodeNotUsable):
        promo_code_redeem(
            text=code.code, account=account, charge=make_charge(account), applied_twd=800, forfeited_twd=400, actor=None
        )
    assert not Redemption.objects.exists()
    assert state(code) == (status, None)


def test_a_code_registered_by_another_account_cannot_be_redeemed(account):
    other = SubscriptionFactory(high=True).account
    PaymentMethodFactory(account=other)
    code = PromoCodeFactory()
    promo_code_register(account=other, text=code.code, actor=None, at=NOW)
    with pytest.raises(CodeNotUsable) as error:
        promo_code_redeem(
            text=code.code, account=account, charge=make_charge(account), applied_twd=800, forfeited_twd=400, actor=None
        )
    assert error.value.refusal == CodeRefusal.REGISTERED_ELSEWHERE
    assert state(code) == (CodeStatus.REGISTERED, other.pk)


# ---- voiding ----------------------------------------------------------------------------------


def test_void_skips_redeemed_codes_and_audits_each_voided_one(account):
    available, redeemed = PromoCodeFactory(), PromoCodeFactory(redeemed=True)
    registered = PromoCodeFactory()
    promo_code_register(account=account, text=registered.code, actor=None, at=NOW)
    voided = promo_codes_void(codes=[available, redeemed, registered], actor=None, reason="leaked")
    assert voided == 2
    assert state(available) == (CodeStatus.VOID, None)
    assert state(registered) == (CodeStatus.VOID, None)
    assert state(redeemed) == (CodeStatus.REDEEMED, None)
    assert AuditRecord.objects.filter(action="promo_code.void").count() == 2


def test_register_checks_the_window_against_the_clock_when_no_time_is_given(account):
    # given a code valid until the end of 2027 and a clock in December 2027: the next renewal is in 2028
    code = PromoCodeFactory()
    # when / then
    with time_machine.travel(datetime(2027, 12, 15, tzinfo=BILLING_TZ)), pytest.raises(CodeNotUsable) as error:
        promo_code_register(account=account, text=code.code, actor=None)
    assert error.value.refusal == CodeRefusal.ENDS_BEFORE_RENEWAL
    assert "2028-01-01" in str(error.value.message)
    with time_machine.travel(datetime(2027, 11, 15, tzinfo=BILLING_TZ)):
        promo_code_register(account=account, text=code.code, actor=None)
    assert state(code)[0] == CodeStatus.REGISTERED
