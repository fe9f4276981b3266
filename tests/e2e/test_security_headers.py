"""The Content-Security-Policy in Chromium: the pages an admin clicks through break none of its rules.

Chromium reports every refused script, style or frame as a `securitypolicyviolation` event; an init script
(which the policy does not govern) relays each one to the console, where the test collects them.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import (
    CHECKOUT_URL,
    agree_and_purchase,
    choose_account,
    confirm_einvoice_prompt,
    expect_receipt,
    fill_card,
    fill_einvoice,
    log_in,
    plan_name,
    settings_nav,
    upgrade,
    webstore_menu,
)
from tests.helpers import new_admin, ready_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RELAY = """document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI + " at " + event.documentURI);
});"""


def watch_policy(page) -> list[str]:
    """The policy's violations on this page and its frames, as Chromium reports them, from now on."""
    violations = []
    page.context.add_init_script(RELAY)
    page.on("console", lambda message: violations.append(message.text) if "CSP violation" in message.text else None)
    return violations


def test_the_desktop_flow_breaks_no_rule_of_the_policy(desktop, screenshot):
    # given an admin with nothing registered, and the browser watching the policy
    membership = new_admin()
    page = desktop
    violations = watch_policy(page)
    # when they log in, register the e-invoice information, add a card in the hosted fields and buy an upgrade
    log_in(page, membership.user)
    choose_account(page, membership.account)
    settings_nav(page, "plans")
    upgrade(page, "medium")
    confirm_einvoice_prompt(page)
    fill_einvoice(page)  # the invoice type's fields are shown by the page's inline script
    page.get_by_test_id("add-card").click()
    fill_card(page)  # the sandbox's fields, framed by our page, hand the token over by postMessage
    expect(page).to_have_url(CHECKOUT_URL)
    agree_and_purchase(page)
    expect_receipt(page, plan=plan_name("medium"), deduction=None)
    # and switch the language from the menu (a static script now, not an onchange attribute)
    page.get_by_test_id("language").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page)
    # then
    assert violations == []


def test_the_policy_is_enforced_so_the_watch_would_see_a_violation(desktop):
    # given a page under the policy
    membership = ready_admin()
    page = desktop
    violations = watch_policy(page)
    log_in(page, membership.user)
    # when a script without the page's nonce is added to it
    page.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "document.body.dataset.injected = 'yes'";
      document.body.appendChild(script);
    }""")
    # then Chromium refuses it, and the watch reports it
    expect(page.locator("body")).not_to_have_attribute("data-injected", "yes")
    for _ in range(20):  # the console message reaches the test a moment after the event
        if violations:
            break
        page.wait_for_timeout(100)
    assert len(violations) == 1
    assert re.match(r"CSP violation: script-src(-elem)? inline at ", violations[0])


def test_the_webstore_menu_breaks_no_rule_of_the_policy(phone, screenshot):
    # given
    membership = ready_admin()
    page = phone
    violations = watch_policy(page)
    # when they open the webstore, its ☰ menu (Bootstrap's script) and the plans
    log_in(page, membership.user, next_url="/webstore/")
    choose_account(page, membership.account)
    webstore_menu(page, "plans")
    expect(page.get_by_test_id("upgrade-medium")).to_be_visible()
    screenshot(page)
    # then
    assert violations == []
