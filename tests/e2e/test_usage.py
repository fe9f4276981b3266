"""In Chromium: 訊息用量 with its charts for a High account over its quota, on the desktop and on a phone, and the
estimator's cheapest plan going through the usual checkout."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.periods import local_date, month_start
from billing.models import Checkout
from tests.e2e.pages import choose_account, log_in, settings_nav, webstore_menu
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
