"""What goes wrong, in the browser: each refused code with its own message, an operator, a stranger,
two purchases at once and a declined card."""

import re
from datetime import datetime

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.periods import BILLING_TZ
from billing.checkout import checkout_start
from billing.models import Checkout, CheckoutStatus
from payments.gateways.sandbox import DECLINE_REASONS
from payments.models import Charge, ChargeStatus
from promos.eligibility import CodeRefusal
from promos.models import CodeStatus, Redemption
from tests.e2e.pages import (
    CHECKOUT_URL,
    agree_and_purchase,
    enter_code,
    expect_message,
    expect_receipt,
    log_in,
    log_in_quickly,
    plan_name,
    refusal,
    text,
    upgrade,
)
from tests.factories import (
    CampaignFactory,
    PromoCodeFactory,
    RedemptionFactory,
    plan,
)
from tests.helpers import new_admin, ready_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def summary_url(checkout, side="billing"):
    return reverse(f"{side}:checkout", args=[checkout.token])


# ---- each refused code shows its own message on the summary --------------------------------------


def unknown_code():
    return {}, "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ"


def expired_code():
    campaign = CampaignFactory(
        valid_from=datetime(2025, 1, 1, tzinfo=BILLING_TZ),
        valid_until=datetime(2025, 12, 31, 23, 59, 59, tzinfo=BILLING_TZ),
    )
    return {}, PromoCodeFactory(campaign=campaign).code


def used_code():
    return {}, RedemptionFactory().code.code  # redeemed by another account


def other_region_code():
    return {"region": "JP"}, PromoCodeFactory().code  # a Taiwan-only campaign, a Japanese account


def wrong_method_code():
    campaign = CampaignFactory(payment_method_kinds=["card"])
    return {"linepay": True}, PromoCodeFactory(campaign=campaign).code  # the main method is LINE Pay


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (unknown_code, CodeRefusal.UNKNOWN),
        (expired_code, CodeRefusal.EXPIRED),
        (used_code, CodeRefusal.REDEEMED),
        (other_region_code, CodeRefusal.WRONG_REGION),
        (wrong_method_code, CodeRefusal.WRONG_PAYMENT_METHOD),
    ],
    ids=["unknown", "expired", "used", "other-region", "wrong-method"],
)
def test_a_refused_code_shows_its_own_message_on_the_summary(desktop, live_server, screenshot, arrange, reason):
    admin_kwargs, code_text = arrange()
    membership = ready_admin(**admin_kwargs)
    checkout = checkout_start(account=membership.account, plan=plan("medium"), user=membership.user, channel="desktop")
    log_in_quickly(desktop, membership.user, live_server)
    desktop.goto(summary_url(checkout))
    enter_code(desktop, code_text)
    expect_message(desktop, refusal(reason))
    # the summary is still there, without a deduction, ready for another code or none
    expect(desktop.get_by_test_id("deduction")).to_have_count(0)
    expect(desktop.get_by_test_id("code-form")).to_be_visible()
    screenshot(desktop)
    checkout.refresh_from_db()
    assert checkout.code == ""
    assert not Charge.objects.filter(account=membership.account).exists()


# ---- who may buy ---------------------------------------------------------------------------------


def test_an_operator_sees_no_upgrade_button_and_a_post_is_refused(desktop, live_server, screenshot):
    membership = new_admin(role="operator", medium=True)
    account = membership.account
    log_in_quickly(desktop, membership.user, live_server)
    desktop.goto(reverse("billing:plans", args=[account.pk]))
    expect(desktop.get_by_test_id("current-plan")).to_have_text(plan_name("medium"))
    expect(desktop.locator("[data-testid^=upgrade-], [data-testid^=downgrade-]")).to_have_count(0)
    screenshot(desktop)
    # posting the upgrade anyway, with the page's own CSRF token, is a 403
    token = desktop.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    response = desktop.request.post(
        reverse("billing:upgrade_start", args=[account.pk, "high"]), headers={"X-CSRFToken": token}, max_redirects=0
    )
    assert response.status == 403
    assert not Checkout.objects.exists()


def test_another_accounts_checkout_is_a_404(desktop, live_server):
    owner = ready_admin()
    checkout = checkout_start(account=owner.account, plan=plan("medium"), user=owner.user, channel="desktop")
    stranger = new_admin()
    log_in_quickly(desktop, stranger.user, live_server)
    assert desktop.goto(summary_url(checkout)).status == 404
    assert desktop.goto(reverse("billing:plans", args=[owner.account.pk])).status == 404
    assert desktop.goto(summary_url(checkout, side="webstore")).status == 404


# ---- paying ----------------------------------------------------------------------------------------


def test_a_purchase_submitted_again_from_a_second_tab_charges_once(desktop, live_server, screenshot):
    # given the same checkout's summary open in two tabs
    membership = ready_admin()
    checkout = checkout_start(account=membership.account, plan=plan("medium"), user=membership.user, channel="desktop")
    log_in_quickly(desktop, membership.user, live_server)
    second_tab = desktop.context.new_page()
    for tab in (desktop, second_tab):
        tab.goto(summary_url(checkout))
    # when it is bought in the first tab, then the second tab's summary is submitted too
    agree_and_purchase(desktop)
    expect_receipt(desktop, plan=plan_name("medium"), deduction=None)
    agree_and_purchase(second_tab)
    # then the second tab lands on the same receipt and nothing more is charged
    expect_receipt(second_tab, plan=plan_name("medium"), deduction=None)
    assert second_tab.url == desktop.url
    screenshot(second_tab)
    assert Charge.objects.get().status == ChargeStatus.SUCCEEDED


@pytest.mark.postgres  # SQLite's shared in-memory test database answers concurrent writers "table is locked"
def test_two_tabs_purchasing_the_same_checkout_at_once_make_one_charge(new_context, live_server, settings, screenshot):
    # given one checkout open in two browsers, each with the terms ticked, and a card gateway that takes its time
    settings.SANDBOX_CHARGE_DELAY_MS = 500
    membership = ready_admin()
    account = membership.account
    checkout = checkout_start(account=account, plan=plan("medium"), user=membership.user, channel="desktop")
    pages = []
    for _ in range(2):
        page = new_context().new_page()
        log_in_quickly(page, membership.user, live_server)
        page.goto(summary_url(checkout))
        page.locator("#accept-terms").check()
        pages.append(page)
    # when both submit at once
    for page in pages:
        page.evaluate("document.querySelector('[data-testid=purchase-form]').requestSubmit()")
    # then both end on the same receipt (the slower one after its "being processed" page), with one charge
    for page in pages:
        expect(page).to_have_url(re.compile(r"/checkout/[\w-]+/receipt/$"))
        expect_receipt(page, plan=plan_name("medium"), deduction=None)
    screenshot(pages[1])
    charge = Charge.objects.get()
    assert (charge.status, charge.total_twd) == (ChargeStatus.SUCCEEDED, 840)
    account.subscription.refresh_from_db()
    assert account.subscription.plan.code == "medium"


def test_a_declined_card_shows_the_reason_and_changes_nothing(desktop, screenshot):
    # given an admin whose only card is the sandbox's declined one
    membership = ready_admin(card="4000000000000002")
    account = membership.account
    code = PromoCodeFactory()
    log_in(desktop, membership.user)
    desktop.goto(reverse("billing:plans", args=[account.pk]))
    upgrade(desktop, "medium")
    expect(desktop).to_have_url(CHECKOUT_URL)
    enter_code(desktop, code.code)
    # a total that is not zero reaches the card: the fee without the code
    desktop.get_by_test_id("remove-code").click()
    expect(desktop.get_by_test_id("deduction")).to_have_count(0)
    agree_and_purchase(desktop)
    # then the reason is shown on the summary, and plan, code and subscription are untouched
    reason = text(DECLINE_REASONS["declined"])
    expect_message(desktop, reason)
    expect(desktop).to_have_url(CHECKOUT_URL)
    expect(desktop.get_by_test_id("purchase")).to_be_enabled()
    screenshot(desktop)
    account.subscription.refresh_from_db()
    assert account.subscription.plan.code == "light"
    checkout = Checkout.objects.get()
    assert checkout.status == CheckoutStatus.OPEN
    assert Charge.objects.get().status == ChargeStatus.FAILED
    code.refresh_from_db()
    assert code.status == CodeStatus.AVAILABLE
    assert not Redemption.objects.exists()
    assert checkout.last_error == reason
