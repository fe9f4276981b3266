"""Reminders before the renewal on the 1st, each sent once in the admin's language: the registered code (what it
takes off, what is forfeited, or that it expires unused) and a main card expiring first, 7 days before; a LINE
Pay registration LINE Pay no longer accepts, 3 days before."""

from datetime import date, datetime

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from accounts.models import UserPreference
from accounts.periods import BILLING_TZ
from billing.models import BillingReminder, SubscriptionStatus
from billing.reminders import reminders_send
from payments.models import PaymentMethod, SandboxLinePayTransaction
from promos.services import promo_code_register
from tests.factories import CampaignFactory, MembershipFactory, PromoCodeFactory, SubscriptionFactory, plan
from tests.helpers import add_card, add_linepay

pytestmark = pytest.mark.django_db
JUNE = date(2026, 6, 1)


def at(day, hour=9):
    return datetime(2026, 6, day, hour, tzinfo=BILLING_TZ)


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def run(day, **options):
        with time_machine.travel(at(day), tick=False), django_capture_on_commit_callbacks(execute=True):
            return reminders_send(as_of=at(day), **options)

    return run


def account(code="medium", language="zh-hant", card="4242424242424242"):
    sub = SubscriptionFactory(plan=plan(code), period_start=JUNE)
    member = MembershipFactory(account=sub.account, user__email=f"owner{sub.pk}@example.tw")
    UserPreference.objects.create(user=member.user, language=language)
    if card:
        add_card(sub.account, number=card)
    return sub


def register(sub, **campaign):
    code = PromoCodeFactory(**campaign)
    promo_code_register(account=sub.account, text=code.code, actor=None, at=at(10))
    return code


def test_seven_days_before_the_code_reminder_says_what_it_takes_off_and_what_is_forfeited_once(send):
    sub = account()
    code = register(sub)  # NT$1,200 on Medium's NT$800
    assert send(23).due == []  # eight days before: nothing yet
    totals = send(24)
    assert totals.sent == 1
    (message,) = mail.outbox
    assert message.to == [f"owner{sub.pk}@example.tw"]
    assert "2026-07-01" in message.subject and "優惠活動代碼" in message.subject
    assert code.display_code in message.body
    assert "NT$800" in message.body and "NT$0" in message.body and "NT$400" in message.body
    # the next days, and a second host, send nothing more
    assert send(25).sent == 0
    assert send(24).sent == 0
    assert len(mail.outbox) == 1
    assert BillingReminder.objects.get().subject == f"code:{code.pk}"


def test_a_code_whose_window_closes_before_the_renewal_is_said_to_expire_unused_in_english(send):
    sub = account(language="en")
    closes = datetime(2026, 6, 28, 23, 59, 59, tzinfo=BILLING_TZ)
    code = PromoCodeFactory(
        campaign=CampaignFactory(valid_until=closes), registered=True, registered_account=sub.account
    )
    send(24)
    (message,) = mail.outbox
    assert "will expire unused" in message.subject
    assert code.display_code in message.body and "2026-06-28" in message.body


def test_a_code_that_waits_on_the_light_plan_is_not_mentioned(send):
    sub = account("light")
    register(sub)
    assert send(24).due == []


def test_a_main_card_expiring_before_the_renewal_is_reminded_and_one_expiring_after_is_not(send):
    expiring, fine = account(language="en"), account(language="en")
    PaymentMethod.objects.filter(account=expiring.account).update(expiry_month=6, expiry_year=2026)
    PaymentMethod.objects.filter(account=fine.account).update(expiry_month=7, expiry_year=2026)
    totals = send(25)
    assert totals.due == [(expiring.account.basic_id, "card")]
    (message,) = mail.outbox
    assert "expires at the end of 6/2026, before the renewal on 2026-07-01" in message.body


def test_a_linepay_registration_linepay_no_longer_accepts_is_reminded_three_days_before(send):
    sub = account(language="en", card=None)
    method = add_linepay(sub.account)
    SandboxLinePayTransaction.objects.filter(reg_key=method.gateway_token).update(status="expired")
    healthy = account(language="en", card=None)
    add_linepay(healthy.account)
    assert send(24).due == []  # not checked yet
    totals = send(28)
    assert totals.due == [(sub.account.basic_id, "linepay")]
    (message,) = mail.outbox
    assert "Register LINE Pay again" in message.subject
    assert send(29).sent == 0


def test_a_past_due_account_and_the_dry_run_send_nothing(send):
    past_due = account()
    register(past_due)
    past_due.status = SubscriptionStatus.PAST_DUE
    past_due.save(update_fields=["status"])
    sub = account()
    register(sub)
    totals = send(24, dry_run=True)
    assert totals.due == [(sub.account.basic_id, "code")]
    assert (totals.sent, mail.outbox, BillingReminder.objects.count()) == (0, [], 0)


def test_the_command(capsys):
    sub = account()
    register(sub)
    call_command("send_billing_reminders", "--as-of", "2026-06-24T09:00:00+08:00", "--dry-run")
    assert f"would remind {sub.account.basic_id}: code" in capsys.readouterr().out


def test_a_code_that_will_not_be_used_for_want_of_a_main_method_says_why(send):
    sub = account(language="en")
    register(sub)
    PaymentMethod.objects.filter(account=sub.account).update(is_main=False)
    send(24)
    (message,) = [m for m in mail.outbox if "promo code" in m.subject]
    assert "will not be used on 2026-07-01" in message.subject
    assert "Set a main payment method before you use a code." in message.body
