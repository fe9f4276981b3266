"""In Chromium: 訊息用量 with its charts for a High account over its quota, on the desktop and on a phone; the
estimator's cheapest plan going through the usual checkout, and its lower plan scheduled as a downgrade."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.periods import local_date, month_start, previous_month_start
from billing.models import Checkout
from tests.e2e.pages import choose_account, expect_message, log_in, plan_name, settings_nav, text, webstore_menu
from tests.helpers import ready_admin
from usage.models import DailyUsage, MessageKind, MonthlyUsage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def high_account_over_its_quota():
    membership = ready_admin(high=True)
    account = membership.account
    today = local_date(timezone.now())
    kinds = {kind.code: kind for kind in MessageKind.objects.all()}
    DailyUsage.objects.bulk_create(
        DailyUsage(account=account, day=month_start(today) + timedelta(days=n), kind=kinds[code], count=count)
        for n in range(today.day)
        for code, count in (("apiPush", 800), ("apiReply", 300))
    )
    MonthlyUsage.objects.create(account=account, month=month_start(today), billed_messages=9_000, source="api")
    return membership


def test_a_high_account_sees_its_usage_with_charts_and_extra_cost(desktop, screenshot):
    membership = high_account_over_its_quota()
    page = desktop
    log_in(page, membership.user)
    choose_account(page, membership.account)
    settings_nav(page, "usage")
    expect(page.get_by_test_id("usage-billed")).to_contain_text("9,000")
    expect(page.get_by_test_id("usage-extra")).to_contain_text("3,000")
    charts = page.locator(".usage-chart svg")
    expect(charts).to_have_count(3)
    for index in range(3):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
    pushed = 800 * local_date(timezone.now()).day
    expect(page.get_by_test_id("usage-kinds")).to_contain_text(f"{pushed:,}")
    screenshot(page)


def test_the_webstore_shows_the_usage_page_on_a_phone(phone, screenshot):
    membership = high_account_over_its_quota()
    page = phone
    log_in(page, membership.user, next_url="/webstore/")
    page.get_by_test_id(f"account-{membership.account.pk}").click()
    webstore_menu(page, "usage")
    expect(page.get_by_test_id("usage-billed")).to_contain_text("9,000")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, f"the page scrolls sideways ({width} px)"
    screenshot(page)


def test_the_estimator_recommends_the_cheapest_plan_and_its_button_starts_the_checkout(desktop, screenshot):
    membership = ready_admin()
    page = desktop
    log_in(page, membership.user)
    choose_account(page, membership.account)
    page.get_by_test_id("plans-estimate-link").click()
    form = page.get_by_test_id("estimate-form")
    form.locator("input[name=billed_messages]").fill("2500")
    page.get_by_test_id("estimate-submit").click()
    expect(page.get_by_test_id("estimate-advice")).to_be_visible()
    expect(page.get_by_test_id("estimate-medium")).to_have_class("table-success")
    screenshot(page)
    page.get_by_test_id("estimate-upgrade").click()
    expect(page).to_have_url(re.compile(r"/checkout/[^/]+/$"))
    assert Checkout.objects.get().target_plan.code == "medium"


def test_the_estimator_finds_a_lower_plan_for_a_quiet_high_account_and_its_button_schedules_the_downgrade(
    desktop, screenshot
):
    # given an admin of a High account that sent 2,500 billed messages last month (Medium carries 3,000 free)
    membership = ready_admin(high=True)
    account = membership.account
    last_month = previous_month_start(local_date(timezone.now()))
    MonthlyUsage.objects.create(account=account, month=last_month, billed_messages=2_500, final=True)
    page = desktop
    log_in(page, membership.user)
    choose_account(page, account)
    # when they open 哪個方案最划算？ from the plans page: it starts from last month
    page.get_by_test_id("plans-estimate-link").click()
    expect(page.get_by_test_id("estimate-form").locator("input[name=billed_messages]")).to_have_value("2500")
    # then Medium is the cheapest, NT$420 a month less with tax (NT$1,260 against NT$840)
    expect(page.get_by_test_id("estimate-medium")).to_have_class("table-success")
    expect(page.get_by_test_id("estimate-advice")).to_contain_text("NT$420")
    expect(page.get_by_test_id("estimate-upgrade")).to_have_count(0)
    screenshot(page, "estimate")
    # and its button schedules the downgrade for the 1st of next month, which the plans page then shows
    page.get_by_test_id("estimate-downgrade").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{account.pk}/plans/$"))
    medium = plan_name("medium")
    expect_message(page, text("The downgrade to %(plan)s takes effect on the 1st of next month.") % {"plan": medium})
    subscription = account.subscription
    subscription.refresh_from_db()
    expect(page.get_by_test_id("scheduled-downgrade")).to_contain_text(
        text("Downgrade to %(plan)s on %(date)s.") % {"plan": medium, "date": f"{subscription.period_end:%Y-%m-%d}"}
    )
    assert (subscription.plan.code, subscription.scheduled_plan.code) == ("high", "medium")
    assert not Checkout.objects.exists()
    screenshot(page)
