"""What an admin does in the browser, one helper per step, so the tests read like SPEC §6's flows.

Selectors are the templates' data-testid attributes; texts are looked up in the message catalogues
(`text`) so the tests follow the zh-Hant and English translations as they are.
"""

import re

from django.test import Client
from django.utils import translation
from playwright.sync_api import Page, expect

from promos.eligibility import CodeRefusal

PASSWORD = "pass-for-tests-1"  # tests.factories.UserFactory's
CHECKOUT_URL = re.compile(r"/checkout/[\w-]+/$")


def text(msgid, language: str = "zh-hant") -> str:
    """The UI's wording of `msgid` (or a lazy translation) in `language`: the English itself until the
    catalogue translates it."""
    with translation.override(language):
        return translation.gettext(msgid) if isinstance(msgid, str) else str(msgid)


def refusal(reason: CodeRefusal, language: str = "zh-hant") -> str:
    with translation.override(language):
        return str(reason.label)


# ---- logging in and choosing the account -------------------------------------------------------


def log_in(page: Page, user, *, next_url: str = "") -> None:
    """Django's log-in form at /login/."""
    page.goto(f"/login/?next={next_url}" if next_url else "/login/")
    page.locator("input[name=username]").fill(user.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def log_in_quickly(page: Page, user, live_server) -> None:
    """For the bad paths: the session cookie of a log-in made on the server side, not through the form."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def choose_account(page: Page, account) -> None:
    """選擇要加值的官方帳號: the list of the accounts the user is a member of."""
    page.get_by_test_id(f"account-{account.pk}").click()
    expect(page.get_by_test_id("account-name").first).to_contain_text(account.name)


# ---- the webstore's ☰ menu and the desktop's 設定 > 帳務專區 ------------------------------------------


def webstore_menu(page: Page, item: str) -> None:
    """Tap ☰ at the top right, then `item` ("plans" or "payment-methods")."""
    page.get_by_test_id("menu").click()
    link = page.get_by_test_id(f"menu-{item}")
    expect(link).to_be_visible()
    link.click()


def settings_nav(page: Page, item: str) -> None:
    """設定 > 帳務專區 > `item` ("plans", "payment-methods", "einvoice", "promo-code", "payment-records")."""
    page.get_by_test_id(f"nav-{item}").click()


# ---- e-invoice information and payment methods ---------------------------------------------------


def fill_einvoice(page: Page, *, name="王小明", email="ming@example.tw") -> None:
    """電子發票資訊: a personal invoice with a printed proof (the seller is no carrier platform), then 儲存."""
    form = page.get_by_test_id("einvoice-form")
    form.locator("input[name=kind][value=printed]").check()
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=email]").fill(email)
    page.get_by_test_id("save-einvoice").click()


def confirm_einvoice_prompt(page: Page) -> None:
    """情境二 step 4 on the desktop: 跳出提示登錄電子發票資訊 > 確認."""
    dialog = page.get_by_test_id("einvoice-first-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(text("Register your e-invoice information"))
    dialog.get_by_test_id("einvoice-first-confirm").click()


def add_linepay_in_popup(page: Page, plan_code: str = "medium"):
    """選擇方案 > 升級 with nothing registered: the e-invoice information first (filled in and saved), then
    新增付款方式 > LINE Pay > 新增, which opens LINE Pay's pop-up; returns the pop-up."""
    upgrade(page, plan_code)
    confirm_einvoice_prompt(page)
    expect_message(page, text("You need to register your e-invoice information first."))
    fill_einvoice(page)
    expect_message(page, text("Add a payment method to continue."))
    with page.expect_popup() as opened:
        page.get_by_test_id("add-linepay").click()
    return opened.value


def fill_card(page: Page, *, number="4242 4242 4242 4242", expiry="12/30", cvc="123") -> None:
    """The gateway's hosted fields, in their iframe; our page then receives only the token and submits it."""
    fields = page.frame_locator("[data-testid=card-fields]")
    fields.locator("#card-number").fill(number)
    fields.locator("#card-expiry").fill(expiry)
    fields.locator("#card-cvc").fill(cvc)
    fields.get_by_role("button").click()


# ---- the checkout ------------------------------------------------------------------------------


def upgrade(page: Page, plan_code: str) -> None:
    """選擇方案 > 升級."""
    page.get_by_test_id(f"upgrade-{plan_code}").click()


def enter_code(page: Page, code: str) -> None:
    """輸入代碼 > 登錄."""
    page.get_by_test_id("code-form").locator("input[name=code]").fill(code)
    page.get_by_test_id("register-code").click()


def expect_deduction(page: Page, *, deduction: str, forfeited: str | None) -> None:
    """務必確認費用被折抵: the summary shows the deduction, and what the code loses as a visible warning."""
    expect(page.get_by_test_id("deduction")).to_have_text(f"-{deduction}")
    if forfeited:
        expect(page.get_by_test_id("forfeit-warning")).to_be_visible()
        expect(page.get_by_test_id("forfeit-warning")).to_contain_text(forfeited)
    else:
        expect(page.get_by_test_id("forfeit-warning")).to_have_count(0)


def agree_and_purchase(page: Page) -> None:
    """勾選同意條款 > 購買."""
    page.locator("#accept-terms").check()
    page.get_by_test_id("purchase").click()


def expect_receipt(page: Page, *, plan: str, deduction: str | None) -> None:
    expect(page).to_have_url(re.compile(r"/checkout/[\w-]+/receipt/$"))
    expect(page.get_by_test_id("receipt-plan")).to_have_text(plan)
    expect(page.get_by_test_id("receipt-deduction")).to_have_text(f"-{deduction}" if deduction else "—")


def expect_message(page: Page, message: str) -> None:
    expect(page.get_by_test_id("message").filter(has_text=message)).to_be_visible()


def plan_name(code: str, language: str = "zh-hant") -> str:
    from billing.models import Plan

    with translation.override(language):
        return Plan.objects.get(code=code).display_name
