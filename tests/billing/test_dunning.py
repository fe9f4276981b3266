"""Retries on the 3rd, 5th and 7th; the Light plan after the last; e-mails in each admin's language;
codes expiring; pending charges reconciled from the gateway."""

import contextlib
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import UserPreference
from accounts.periods import BILLING_TZ
from billing.checkout import checkout_purchase
from billing.models import CheckoutStatus, PlanChange, PlanChangeKind, Renewal, RenewalStatus, SubscriptionStatus
from payments.models import Charge, ChargeStatus, MethodStatus
from payments.services import payment_method_make_main
from promos.models import CodeStatus
from tests.factories import (
    CampaignFactory,
    MembershipFactory,
    PromoCodeFactory,
    SubscriptionFactory,
)
from tests.helpers import add_card, ready_admin, start_checkout

pytestmark = pytest.mark.django_db


def at(day, hour=0, minute=10):
    return datetime(2026, 7, day, hour, minute, tzinfo=BILLING_TZ)


def declining_account(language="zh-hant", card="4000000000000002"):
    membership = MembershipFactory(user__email="owner@example.tw")
    UserPreference.objects.create(user=membership.user, language=language)
    SubscriptionFactory(account=membership.account, medium=True, period_start=date(2026, 6, 1))
    add_card(membership.account, number=card)
    return membership.account


@pytest.fixture(autouse=True)
def commits(django_capture_on_commit_callbacks):
    """E-mails go out when a transaction commits: inside a test's transaction, run them after each command."""
    global CAPTURE
    CAPTURE = django_capture_on_commit_callbacks


CAPTURE = None


def run(command, when, *args):
    # a failure exits non-zero; the state is what these tests read
    with contextlib.suppress(SystemExit), CAPTURE(execute=True):
        call_command(command, "--as-of", when.isoformat(), *args)


def test_retries_on_the_3rd_5th_and_7th_then_the_light_plan():
    account = declining_account()
    run("renew_subscriptions", at(1))
    renewal = Renewal.objects.get()
    assert renewal.next_retry_on == date(2026, 7, 3)
    run("retry_failed_charges", at(2))  # not yet
    assert Charge.objects.count() == 1
    for day, next_day in [(3, date(2026, 7, 5)), (5, date(2026, 7, 7))]:
        run("retry_failed_charges", at(day))
        renewal.refresh_from_db()
        assert (renewal.status, renewal.next_retry_on) == (RenewalStatus.FAILED, next_day)
    run("retry_failed_charges", at(7))
    renewal.refresh_from_db()
    account.subscription.refresh_from_db()
    assert renewal.status == RenewalStatus.DOWNGRADED
    assert (account.subscription.plan.code, account.subscription.period_start) == ("light", date(2026, 7, 1))
    assert account.subscription.status == SubscriptionStatus.ACTIVE
    assert PlanChange.objects.get(kind=PlanChangeKind.DUNNING_DOWNGRADE).to_plan.code == "light"
    keys = list(Charge.objects.order_by("id").values_list("idempotency_key", flat=True))
    assert keys == [f"renewal:{account.subscription.pk}:2026-07:{n}" for n in (1, 2, 3, 4)]
    assert [m.subject for m in mail.outbox][-1] == f"[LINE官方帳號] {account.name}已改為輕用量方案"


def test_running_a_retry_twice_on_the_same_day_charges_once():
    declining_account()
    run("renew_subscriptions", at(1))
    run("retry_failed_charges", at(3))
    run("retry_failed_charges", at(3, 12))
    assert Charge.objects.count() == 2


def test_a_fixed_payment_method_renews_at_the_retry():
    account = declining_account()
    run("renew_subscriptions", at(1))
    payment_method_make_main(method=add_card(account), actor=None)
    run("retry_failed_charges", at(3))
    account.subscription.refresh_from_db()
    assert (account.subscription.status, account.subscription.period_start) == (
        SubscriptionStatus.ACTIVE,
        date(2026, 7, 1),
    )
    assert Renewal.objects.get().status == RenewalStatus.RENEWED
    assert Charge.objects.filter(status=ChargeStatus.SUCCEEDED).count() == 1


@pytest.mark.parametrize(
    ("language", "subject_start"),
    [("zh-hant", "[LINE官方帳號]"), ("en", "[LINE Official Account] The monthly payment for")],
)
def test_the_failure_e_mail_is_in_the_admins_language(language, subject_start):
    declining_account(language=language)
    run("renew_subscriptions", at(1))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith(subject_start)
    assert mail.outbox[0].to == ["owner@example.tw"]
    assert "2026-07-03" in mail.outbox[0].body


def test_an_expired_card_is_marked_and_the_admins_are_asked_for_a_new_one():
    account = declining_account(card="4000000000000069", language="en")
    run("renew_subscriptions", at(1))
    method = account.payment_methods.get()
    assert (method.status, method.is_main) == (MethodStatus.EXPIRED, False)
    subjects = [m.subject for m in mail.outbox]
    assert any("Register a new payment method" in subject for subject in subjects)


# ---- codes past their window ------------------------------------------------------------------


def test_expire_promo_codes_expires_available_and_registered_codes_once():
    campaign = CampaignFactory(valid_until=datetime(2026, 6, 30, 23, 59, 59, tzinfo=BILLING_TZ))
    available = PromoCodeFactory.create_batch(3, campaign=campaign)
    account = declining_account(language="en", card="4242424242424242")
    registered = PromoCodeFactory(campaign=campaign, registered=True, registered_account=account)
    redeemed = PromoCodeFactory(campaign=campaign, redeemed=True)
    current = PromoCodeFactory()
    july = datetime(2026, 7, 1, tzinfo=BILLING_TZ)
    run("expire_promo_codes", july, "--dry-run")
    assert all(c.status == CodeStatus.AVAILABLE for c in available)
    run("expire_promo_codes", july)
    run("expire_promo_codes", july)
    for code, status in [
        (available[0], "expired"),
        (registered, "expired"),
        (redeemed, "redeemed"),
        (current, "available"),
    ]:
        code.refresh_from_db()
        assert code.status == status
    assert registered.registered_account is None
    assert any("has expired" in m.subject for m in mail.outbox)


# ---- reconciliation ---------------------------------------------------------------------------


def reconcile_later(minutes=5):
    """reconcile_payments run a few minutes from now, when the charges left pending are old enough."""
    with time_machine.travel(timezone.now() + timedelta(minutes=minutes)):
        call_command("reconcile_payments")


def test_reconcile_settles_a_checkout_whose_answer_was_lost():
    membership = ready_admin(card="4000000000000119")
    checkout = checkout_purchase(checkout=start_checkout(membership), expected_total_twd=840, actor=None)
    assert checkout.status == CheckoutStatus.PROCESSING
    reconcile_later()
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    assert Charge.objects.get().status == ChargeStatus.SUCCEEDED
    membership.account.subscription.refresh_from_db()
    assert membership.account.subscription.plan.code == "medium"


def test_reconcile_renews_a_renewal_whose_answer_was_lost_and_a_second_run_changes_nothing():
    account = declining_account(card="4000000000000119")
    run("renew_subscriptions", at(1))
    assert Renewal.objects.get().status == RenewalStatus.CHARGING
    reconcile_later()
    reconcile_later(minutes=10)
    account.subscription.refresh_from_db()
    assert account.subscription.period_start == date(2026, 7, 1)
    assert Charge.objects.count() == 1
    assert Charge.objects.get().status == ChargeStatus.SUCCEEDED


def test_reconcile_leaves_a_charge_younger_than_the_gateways_time_outs_alone():
    # given a checkout whose answer was lost a moment ago: the gateway may still be working on it
    membership = ready_admin(card="4000000000000119")
    checkout = checkout_purchase(checkout=start_checkout(membership), expected_total_twd=840, actor=None)
    # when reconciliation runs now with its default age, or is asked for an age below the time-outs
    call_command("reconcile_payments")
    with pytest.raises(CommandError, match="at least 46 seconds"):
        call_command("reconcile_payments", "--older-than", "10")
    # then the checkout is still waiting for its answer, and nothing was asked of the gateway
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PROCESSING
    assert Charge.objects.get().status == ChargeStatus.PENDING
