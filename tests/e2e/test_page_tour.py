"""Every account page, on the desktop and in the webstore, at 1280 px and at 375 px, in both languages: saved under
artifacts/ to be looked at, with what can be measured checked on each (issue 13: no header or button breaks a word,
and the webstore never scrolls sideways on a phone).

The account is a busy Medium one: a registered code, a main card and a spare LINE Pay, e-invoice information,
charges of every sort, this month's messages by kind; a checkout it started has its summary page too.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.periods import local_date, month_start
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.pages import log_in
from tests.e2e.test_admin_way import LINES_OF, records_of_a_busy_account
from tests.factories import PaymentMethodFactory, PromoCodeFactory, message_kind
from tests.helpers import ready_admin, start_checkout
from usage.models import DailyUsage, MonthlyUsage, UsageSource

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "plans/",
    "payment-methods/",
    "payment-methods/add/",
    "einvoice/",
    "promo-code/",
    "payments/",
    "usage/",
    "usage/estimate/",
    "usage/channel/",
]
SIZES = {"1280": DESKTOP, "375": PHONE}


def busy_account(language):
    membership = ready_admin(medium=True)
    account = membership.account
    PaymentMethodFactory(account=account, linepay=True, spare=True)
    PromoCodeFactory(registered=True, registered_account=account)
    records_of_a_busy_account(account, language)
    today = local_date(timezone.now())
    MonthlyUsage.objects.create(account=account, month=month_start(today), billed_messages=2400, source=UsageSource.API)
    first = month_start(today)
    DailyUsage.objects.bulk_create(
        DailyUsage(account=account, day=first + timedelta(days=i), kind=message_kind(code), count=n)
        for i in range((today - first).days + 1)
        for code, n in (("broadcast", 80), ("apiReply", 40))
    )
    return membership


def one_line_each(page, selector: str) -> dict:
    """The text of each visible element matching `selector` in the page's main part that takes more than one line."""
    elements = page.locator(f"main {selector}:visible")
    broken = {}
    for i in range(elements.count()):
        element = elements.nth(i)
        if element.inner_text().strip() and element.evaluate(LINES_OF) > 1:
            broken[element.inner_text().strip()] = element.evaluate(LINES_OF)
    return broken


@pytest.mark.parametrize("language", ["zh-hant", "en"])
@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_page_on_both_sides_keeps_its_headers_and_buttons_on_one_line(new_context, size, language, screenshot):
    membership = busy_account(language)
    account = membership.account
    checkout = start_checkout(membership, "high")
    page = new_context(SIZES[size], locale="en-US" if language == "en" else "zh-TW").new_page()
    log_in(page, membership.user)
    width = SIZES[size]["viewport"]["width"]
    for side in ("", "webstore/"):
        named = {f"/{side}accounts/{account.pk}/{p}": p.strip("/").replace("/", "-") for p in PAGES}
        named[f"/{side}checkout/{checkout.token}/"] = "checkout-summary"
        for path, name in named.items():
            response = page.goto(path)
            assert response.status == 200, path
            expect(page.locator("main h1").first).to_be_visible()
            screenshot(page, f"{side.strip('/') or 'desktop'}-{name}")
            assert one_line_each(page, "thead th") == {}, path
            assert one_line_each(page, ".btn") == {}, path
            if side or width > 375:  # the webstore is the phone's side; the desktop's manager needs a desktop
                assert page.evaluate("document.documentElement.scrollWidth") <= width, path
