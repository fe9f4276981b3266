"""What an admin should know before the 1st, and what to do when it failed (issue 13 §3–4), in Chromium: the next
charge 推廣方案 shows is what the renewal run then charges; a declined renewal, a changed card and 立即付款 charge
once and clear past due."""

import re
from datetime import datetime, time

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.periods import BILLING_TZ, local_date, month_start, next_month_start
from billing.models import Renewal, RenewalStatus, SubscriptionStatus
from payments.models import Charge, ChargeStatus, SandboxCharge
from promos.services import promo_code_register
from tests.e2e.pages import expect_message, fill_card, log_in, text
from tests.factories import PromoCodeFactory
from tests.helpers import add_card, new_admin
from tests.races import past_due_admin
from usage.models import MonthlyUsage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_next_charge_on_the_plans_page_is_what_the_renewal_run_charges(desktop, screenshot):
    # given a High admin this month with a NT$500 code, 16,000 messages so far and a cap of 8,000
    membership = new_admin(high=True)
    account = membership.account
    this_month = month_start(local_date(timezone.now()))
    account.subscription.period_start = this_month
    account.subscription.extra_message_cap = 8_000
    account.subscription.save()
    add_card(account)
    code = PromoCodeFactory(campaign__face_value_twd=500)
    promo_code_register(account=account, text=code.code, actor=None, at=timezone.now())
    MonthlyUsage.objects.create(account=account, month=this_month, billed_messages=16_000)
    # when the admin opens 推廣方案
    log_in(desktop, membership.user, next_url=f"/accounts/{account.pk}/plans/")
    preview = desktop.get_by_test_id("next-charge")
    # then: NT$1,200 − NT$500 + 8,000 extra messages NT$1,600 = NT$2,415 (tax included), with the card
    expect(preview).to_contain_text(f"{next_month_start(this_month):%Y-%m-%d}")
    expect(preview).to_contain_text("NT$1,200")
    expect(preview).to_contain_text("NT$500")
    expect(preview).to_contain_text("NT$1,600")
    expect(preview).to_contain_text("NT$2,415")
    expect(preview).to_contain_text("4242")
    screenshot(desktop)
    # and when LINE closes the month and the renewal runs on the 1st, it charges just that
    MonthlyUsage.objects.filter(account=account).update(final=True)
    renewal_at = datetime.combine(next_month_start(this_month), time(0, 5), tzinfo=BILLING_TZ)
    with time_machine.travel(renewal_at, tick=False):
        call_command("renew_subscriptions", "--as-of", renewal_at.isoformat())
    charge = Charge.objects.get(account=account, purpose="renewal")
    assert (charge.fee_twd, charge.deduction_twd, charge.extra_messages_twd, charge.total_twd) == (
        1200,
        500,
        1600,
        2415,
    )


def test_a_declined_renewal_a_changed_card_and_pay_now_charge_once_and_clear_past_due(desktop, screenshot):
    # given an admin whose Medium renewal into this month was declined on the 1st
    membership = past_due_admin(card=None)
    account = membership.account
    log_in(desktop, membership.user, next_url=f"/accounts/{account.pk}/plans/")
    past_due = desktop.get_by_test_id("past-due")
    expect(past_due).to_contain_text("NT$840")
    expect(desktop.get_by_test_id("next-charge")).to_have_count(0)
    screenshot(desktop, "past-due")
    # when the admin adds a new card, makes it the main one, and comes back to pay now
    desktop.goto(f"/accounts/{account.pk}/payment-methods/add/card/")
    fill_card(desktop)
    expect(desktop).to_have_url(re.compile(rf"/accounts/{account.pk}/payment-methods/$"))
    expect(desktop.get_by_test_id("method")).to_have_count(2)
    desktop.get_by_test_id("make-main").click()
    expect(desktop.get_by_test_id("make-main")).to_have_count(1)  # now on the declined card
    desktop.goto(f"/accounts/{account.pk}/plans/")
    desktop.get_by_test_id("pay-now").click()
    # then it is paid once with the new card, and the account is no longer past due
    expect_message(desktop, text("Paid. The account is up to date again."))
    expect(desktop.get_by_test_id("past-due")).to_have_count(0)
    expect(desktop.get_by_test_id("next-charge")).to_be_visible()
    screenshot(desktop, "paid")
    renewal = Renewal.objects.get(subscription__account=account)
    assert renewal.status == RenewalStatus.RENEWED
    account.subscription.refresh_from_db()
    assert account.subscription.status == SubscriptionStatus.ACTIVE
    paid = Charge.objects.filter(account=account, status=ChargeStatus.SUCCEEDED)
    assert paid.count() == 1
    assert SandboxCharge.objects.filter(order_id=paid.get().idempotency_key, succeeded=True).count() == 1
    # and 立即付款 again (a second tab) finds nothing due
    desktop.goto(f"/accounts/{account.pk}/plans/")
    expect(desktop.get_by_test_id("pay-now")).to_have_count(0)
