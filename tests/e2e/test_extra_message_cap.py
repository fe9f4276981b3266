"""In Chromium: an admin of a High account whose month `sync_message_usage` read from LINE (the fake Messaging API)
sets the extra-message cap; the usage page shows it, and the renewal bills no more than it."""

from datetime import datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.periods import BILLING_TZ, next_month_start
from payments.models import Charge
from tests.e2e.pages import choose_account, expect_message, log_in, settings_nav, text
from tests.factories import MessagingChannelFactory
from tests.helpers import ready_admin
from usage.models import MonthlyUsage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TOKEN = "e2e-cap-channel-access-token"


def month_synced_from_line(account, fake_messaging_api) -> None:
    """The account's month as LINE counts it: 16,000 billed messages (10,000 broadcast, 6,000 push) and 3,000 free
    replies, read by the sync the crontab runs at 23:10 on the month's last day, after LINE closed the month at
    22:59, so the month's figure is final."""
    month = account.subscription.period_start
    last_day = next_month_start(month) - timedelta(days=1)
    MessagingChannelFactory(account=account, token=TOKEN)
    fake_messaging_api.month = month
    fake_messaging_api.channel(TOKEN, basic_id=account.basic_id)
    fake_messaging_api.deliver(TOKEN, month, "broadcast", 10_000)
    fake_messaging_api.deliver(TOKEN, month + timedelta(days=1), "apiPush", 6_000)
    fake_messaging_api.deliver(TOKEN, month + timedelta(days=1), "apiReply", 3_000)
    out = StringIO()
    with time_machine.travel(datetime(last_day.year, last_day.month, last_day.day, 23, 10, tzinfo=BILLING_TZ)):
        call_command("sync_message_usage", "--month", f"{month:%Y-%m}", stdout=out, stderr=out)
    assert "1 channels read" in out.getvalue() and "0 failed" in out.getvalue(), out.getvalue()


def test_an_admin_caps_extra_messages_of_a_month_read_from_line_and_the_renewal_bills_no_more_than_the_cap(
    desktop, screenshot, fake_messaging_api
):
    # given an admin of a High account paying by card, whose month LINE counted at 16,000 billed messages
    membership = ready_admin(high=True)
    account = membership.account
    month = account.subscription.period_start
    month_synced_from_line(account, fake_messaging_api)
    usage = MonthlyUsage.objects.get(account=account, month=month)
    assert (usage.billed_messages, usage.source, usage.final) == (16_000, "api", True)
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
    # then the plans page says so, with the thousands grouped
    expect_message(page, text("Extra messages now stop at %(cap)s a month.") % {"cap": "1,000"})
    expect(page.get_by_test_id("extra-message-cap")).to_contain_text(
        text("Extra-message cap: %(cap)s a month") % {"cap": "1,000"}
    )
    # and the usage page shows LINE's final figure and the cap (10,000 extra messages: the cap is all used)
    settings_nav(page, "usage")
    expect(page.get_by_test_id("usage-billed")).to_contain_text("16,000")
    expect(page.get_by_test_id("usage-updated")).to_contain_text(text("This month's figure is final."))
    expect(page.get_by_test_id("usage-cap")).to_contain_text(
        text("Extra-message cap: %(cap)s a month (%(percent)s%% used).") % {"cap": "1,000", "percent": 100}
    )
    screenshot(page)
    # and the next month's renewal bills 1,000 extra messages, not 10,000: NT$1,200 + NT$200, 5% tax
    next_month = next_month_start(month)
    call_command("renew_subscriptions", "--as-of", f"{next_month.isoformat()}T00:05:00+08:00", stdout=StringIO())
    charge = Charge.objects.get()
    assert (charge.fee_twd, charge.extra_messages_twd, charge.total_twd) == (1200, 200, 1470)
    assert {"kind": "extra_messages", "messages": 1000, "amount_twd": 200} in charge.lines
