"""In Chromium: an admin of a High account sets the extra-message cap, and the renewal bills no more than it."""

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.periods import next_month_start
from payments.models import Charge
from tests.e2e.pages import choose_account, expect_message, log_in, text
from tests.helpers import ready_admin
from usage.models import MonthlyUsage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_caps_extra_messages_and_the_renewal_bills_no_more_than_the_cap(desktop, screenshot):
    # given an admin of a High account paying by card, with 16,000 billed messages this month
    membership = ready_admin(high=True)
    account = membership.account
    month = account.subscription.period_start
    MonthlyUsage.objects.create(account=account, month=month, billed_messages=16000, final=True)
    page = desktop
    log_in(page, membership.user)
    choose_account(page, account)
    expect(page.get_by_test_id("extra-message-cap")).to_contain_text(
        text("Extra-message cap: none (extra messages are sent without a limit)")
    )
    # when they set the cap to 1,000 as they would write it
    form = page.get_by_test_id("extra-message-cap-form")
    form.locator("input[name=extra_message_cap]").fill("1,000")
    page.get_by_test_id("extra-message-cap-save").click()
    # then the page says so, with the thousands grouped
    expect_message(page, text("Extra messages now stop at %(cap)s a month.") % {"cap": "1,000"})
    expect(page.get_by_test_id("extra-message-cap")).to_contain_text(
        text("Extra-message cap: %(cap)s a month") % {"cap": "1,000"}
    )
    screenshot(page)
    # and the next month's renewal bills 1,000 extra messages, not 10,000: NT$1,200 + NT$200, 5% tax
    next_month = next_month_start(month)
    call_command("renew_subscriptions", "--as-of", f"{next_month.isoformat()}T00:05:00+08:00", stdout=StringIO())
    charge = Charge.objects.get()
    assert (charge.fee_twd, charge.extra_messages_twd, charge.total_twd) == (1200, 200, 1470)
    assert {"kind": "extra_messages", "messages": 1000, "amount_twd": 200} in charge.lines
