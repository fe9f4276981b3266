"""What an admin meets on the way (issue 13 §1, and the seed's words of §2), in Chromium.

The QR code on 推廣方案 is drawn and decoded; the webstore's ☰ menu reaches every billing page at 375 px; pages
opened from the webstore keep its layout; no table header or small button breaks a word; /favicon.ico answers;
the terms box opens the terms in a new tab; the e-invoice form speaks each side's word and starts on one kind.
"""

import io
import re
from urllib.parse import quote

import pytest
import zxingcpp
from django.conf import settings
from PIL import Image
from playwright.sync_api import expect

from invoices.models import EInvoiceProfile
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.pages import (
    CHECKOUT_URL,
    choose_account,
    enter_code,
    expect_deduction,
    log_in,
    settings_nav,
    text,
    upgrade,
    webstore_menu,
)
from tests.factories import ChargeFactory, InvoiceFactory, PaymentMethodFactory, PromoCodeFactory
from tests.helpers import new_admin, ready_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Lines of text an element's words take, from the boxes of its text (one box per line per text node).
LINES_OF = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
}"""


def loaded_width(image) -> int:
    """The natural width of an <img> once the browser is done with it (0 for a broken image)."""
    return image.evaluate(
        """img => img.complete ? img.naturalWidth : new Promise(done => {
             img.addEventListener("load", () => done(img.naturalWidth), {once: true});
             img.addEventListener("error", () => done(0), {once: true});
           })"""
    )


def decoded_qr(page, locator) -> str:
    """The text of the QR code the browser drew in `locator` (its screenshot, read by zxing-cpp)."""
    assert loaded_width(locator) > 0
    image = Image.open(io.BytesIO(locator.screenshot()))
    found = zxingcpp.read_barcodes(image)
    assert [barcode.format for barcode in found] == [zxingcpp.BarcodeFormat.QRCode]
    return found[0].text


# ---- the QR code on 推廣方案 ----------------------------------------------------------------------


def test_the_qr_code_is_drawn_and_leads_to_the_account_s_webstore(desktop, new_context, live_server, screenshot):
    # given an admin on the desktop's 推廣方案, LINE Login not configured
    membership = new_admin()
    account = membership.account
    log_in(desktop, membership.user)
    choose_account(desktop, account)
    settings_nav(desktop, "plans")
    # then the QR image is drawn (a broken image has no natural width)
    qr = desktop.get_by_test_id("webstore-qr")
    expect(qr).to_be_visible()
    assert loaded_width(qr) > 0
    # and it reads as the account's plans in the webstore
    target = decoded_qr(desktop, qr)
    assert target == f"{live_server.url}/webstore/accounts/{account.pk}/plans/"
    # 情境一 1-3 from the decoded address on a phone: the log-in page in the webstore's layout, then the account
    phone = new_context(PHONE).new_page()
    phone.goto(target)
    expect(phone).to_have_url(re.compile(r"/login/\?next="))
    expect(phone.get_by_test_id("webstore-nav")).to_be_visible()
    expect(phone.get_by_test_id("desktop-nav")).to_have_count(0)
    phone.locator("input[name=username]").fill(membership.user.username)
    phone.locator("input[name=password]").fill("pass-for-tests-1")
    phone.get_by_test_id("login").click()
    expect(phone).to_have_url(re.compile(rf"/webstore/accounts/{account.pk}/plans/$"))
    screenshot(desktop)


def test_with_line_login_the_qr_code_leads_through_line_login(desktop, new_context, live_server, line_login_on):
    # given LINE Login is configured
    membership = new_admin()
    account = membership.account
    log_in(desktop, membership.user)
    desktop.goto(f"/accounts/{account.pk}/plans/")
    # then the QR code leads to 以LINE登入, which then returns to the account's webstore
    target = decoded_qr(desktop, desktop.get_by_test_id("webstore-qr"))
    webstore = f"/webstore/accounts/{account.pk}/plans/"
    assert target == f"{live_server.url}/auth/line/login/?next={quote(webstore, safe='')}"
    # and on a phone that page is the webstore's, with the 以LINE登入 button (seed step 2)
    phone = new_context(PHONE).new_page()
    phone.goto(target)
    expect(phone.get_by_test_id("webstore-nav")).to_be_visible()
    expect(phone.get_by_test_id("line-login-continue")).to_have_text(text("Continue with LINE"))


@pytest.fixture
def line_login_on():
    """LINE Login configured for the live server (the same process: the settings object is shared)."""
    before = settings.SOCIALACCOUNT_PROVIDERS
    settings.SOCIALACCOUNT_PROVIDERS = {
        "line": {**before["line"], "APP": {"client_id": "1650000000", "secret": "fake-line-login-channel-secret"}}
    }
    yield
    settings.SOCIALACCOUNT_PROVIDERS = before


# ---- the webstore's ☰ menu --------------------------------------------------------------------------

MENU = [
    ("plans", r"/plans/$", "Plans"),
    ("payment-methods", r"/payment-methods/$", "Payment methods"),
    ("einvoice", r"/einvoice/$", "E-invoice information"),
    ("promo-code", r"/promo-code/$", "Promo codes"),
    ("payment-records", r"/payments/$", "Payment records"),
    ("usage", r"/usage/$", "Message usage"),
    ("usage-estimate", r"/usage/estimate/$", "Which plan costs least?"),
]


def test_the_menu_reaches_every_billing_page_on_a_phone(phone, screenshot):
    # given an admin in the webstore on a phone (375 px)
    membership = ready_admin()
    account = membership.account
    log_in(phone, membership.user, next_url="/webstore/")
    # the account chooser says the seed's words (step 3)
    expect(phone.get_by_test_id("account-chooser")).to_have_text(text("Choose the official account to top up"))
    expect(phone.get_by_test_id("account-chooser")).to_have_text("選擇要加值的官方帳號")
    choose_account(phone, account)
    # then every item of ☰ opens its page, in the webstore, with its own heading
    for item, path, heading in MENU:
        webstore_menu(phone, item)
        expect(phone).to_have_url(re.compile(rf"/webstore/accounts/{account.pk}{path}"))
        expect(phone.locator("main h1").first).to_have_text(text(heading))
        # and nothing is wider than the phone
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375, item
    screenshot(phone)


# ---- layout: no word broken one character a line; the favicon ------------------------------------------


def records_of_a_busy_account(account, language):
    """The rows that squeezed 付款紀錄's headers: a code's deduction and forfeit, a renewal with extra messages, a
    decline with its reason, each paid by LINE Pay with its masked card."""
    linepay = PaymentMethodFactory(account=account, linepay=True, spare=True)
    ChargeFactory(
        account=account,
        payment_method=linepay,
        plan_code="high",
        fee_twd=400,
        deduction_twd=400,
        forfeited_twd=800,
        net_twd=0,
        tax_twd=0,
        total_twd=0,
    )
    renewal = ChargeFactory(
        account=account,
        payment_method=linepay,
        purpose="renewal",
        plan_code="high",
        fee_twd=1200,
        extra_messages_twd=12345,
        net_twd=13545,
        tax_twd=677,
        total_twd=14222,
    )
    InvoiceFactory(charge=renewal, sales_twd=13545, tax_twd=677, total_twd=14222)
    ChargeFactory(
        account=account,
        payment_method=linepay,
        failed=True,
        failure_reason=text("The card has insufficient funds or credit. Use another card.", language),
    )


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_the_payment_records_headers_keep_one_line_at_1280_px(new_context, language, screenshot):
    # given an admin with charges of every sort on 付款紀錄 at 1280 px
    membership = ready_admin()
    account = membership.account
    records_of_a_busy_account(account, language)
    desktop = new_context(DESKTOP, locale="en-US" if language == "en" else "zh-TW").new_page()
    log_in(desktop, membership.user)
    desktop.goto(f"/accounts/{account.pk}/payments/")
    expect(desktop.get_by_test_id("charge")).to_have_count(3)
    screenshot(desktop)
    # then each header (營業稅, 狀態, 發票, ...) is on one line
    headers = desktop.locator("thead th")
    expect(headers).to_have_count(9)
    lines = {headers.nth(i).inner_text(): headers.nth(i).evaluate(LINES_OF) for i in range(9)}
    assert set(lines.values()) == {1}, lines
    # and the table fits the page: nothing to scroll sideways at 1280 px
    assert desktop.locator(".table-responsive").evaluate("box => box.scrollWidth <= box.clientWidth")


def test_the_payment_methods_buttons_keep_one_line_at_375_px(phone, screenshot):
    # given an admin with a main Mastercard, a spare LINE Pay and an expired card in the webstore at 375 px
    membership = new_admin()
    account = membership.account
    PaymentMethodFactory(account=account, brand="mastercard", last_four="5454")
    PaymentMethodFactory(account=account, linepay=True, spare=True)
    PaymentMethodFactory(account=account, expired=True)
    log_in(phone, membership.user, next_url=f"/webstore/accounts/{account.pk}/payment-methods/")
    expect(phone.get_by_test_id("method")).to_have_count(3)
    # then each 移除 (and 設為主要) button is on one line and inside the screen
    buttons = phone.get_by_test_id("method").locator("button")
    expect(buttons).to_have_count(4)
    for i in range(4):
        assert buttons.nth(i).evaluate(LINES_OF) == 1, buttons.nth(i).inner_text()
        box = buttons.nth(i).bounding_box()
        assert box["x"] + box["width"] <= 375
    assert phone.get_by_test_id("remove-method").first.inner_text() == text("Remove")
    screenshot(phone)


def test_every_page_has_an_icon_and_favicon_ico_answers(desktop):
    # given any page of ours
    membership = new_admin()
    log_in(desktop, membership.user)
    # then it names an icon that is served
    icon = desktop.locator("link[rel=icon]").get_attribute("href")
    assert desktop.request.get(icon).status == 200
    # and /favicon.ico, which browsers ask for on every page (the admin's too), is that icon, not a 404
    response = desktop.request.get("/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.body() == desktop.request.get(icon).body()


# ---- the terms box ----------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["zh-TW", "en-US"])
def test_the_terms_open_in_a_new_tab_and_the_summary_stays(new_context, locale, screenshot):
    # given an admin at the checkout summary with a code entered
    language = "en" if locale == "en-US" else "zh-hant"
    membership = ready_admin()
    code = PromoCodeFactory()
    page = new_context(DESKTOP, locale=locale).new_page()
    log_in(page, membership.user)
    page.goto(f"/accounts/{membership.account.pk}/plans/")
    upgrade(page, "medium")
    expect(page).to_have_url(CHECKOUT_URL)
    enter_code(page, code.code)
    summary_url = page.url
    # when the terms in the box are opened
    with page.expect_popup() as opened:
        page.get_by_test_id("terms-link").click()
    terms = opened.value
    # then they are in a new tab, in the admin's language, with the plans' fees from the data
    expect(terms).to_have_url(re.compile(r"/terms/$"))
    expect(terms.locator("h1")).to_have_text(text("Paid plan terms", language))
    expect(terms.get_by_test_id("terms-plan")).to_have_count(3)
    expect(terms.get_by_test_id("terms")).to_contain_text("NT$800")
    # and the summary is as it was, with its code
    assert page.url == summary_url
    expect_deduction(page, deduction="NT$800", forfeited="NT$400")
    screenshot(terms)


@pytest.mark.parametrize("locale", ["zh-TW", "en-US"])
def test_the_webstore_summary_is_no_wider_than_a_phone(new_context, locale):
    # given an admin at the webstore's checkout summary on a 375 px phone
    membership = ready_admin()
    page = new_context(PHONE, locale=locale).new_page()
    log_in(page, membership.user, next_url=f"/webstore/accounts/{membership.account.pk}/plans/")
    upgrade(page, "medium")
    expect(page).to_have_url(re.compile(r"/webstore" + CHECKOUT_URL.pattern))
    # then its rows' headers wrap between words and nothing runs off the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # and its terms open in the webstore's layout
    with page.expect_popup() as opened:
        page.get_by_test_id("terms-link").click()
    expect(opened.value).to_have_url(re.compile(r"/webstore/terms/$"))
    expect(opened.value.get_by_test_id("webstore-nav")).to_be_visible()


# ---- 電子發票資訊: the seed's word on each side, and one kind's fields -------------------------------------

KIND_FIELDS = ["name", "email", "carrier_number", "donation_code", "company_title", "ubn", "address"]


def visible_fields(page) -> list[str]:
    form = page.get_by_test_id("einvoice-form")
    return [name for name in KIND_FIELDS if form.locator(f"[name={name}]").is_visible()]


def test_the_einvoice_form_says_save_on_the_desktop_and_starts_on_one_kind(desktop):
    # given an admin with no e-invoice information on the desktop
    membership = new_admin()
    log_in(desktop, membership.user)
    desktop.goto(f"/accounts/{membership.account.pk}/einvoice/")
    # then the button says 儲存 (情境二 step 5) and only the first kind's fields show
    expect(desktop.get_by_test_id("save-einvoice")).to_have_text("儲存")
    assert visible_fields(desktop) == ["name", "email"]
    # and choosing the company shows the company's, with its optional 手機條碼 (issue 15 §5)
    desktop.locator("input[name=kind][value=company]").check()
    assert visible_fields(desktop) == ["email", "carrier_number", "company_title", "ubn", "address"]


def test_the_einvoice_form_says_register_in_the_webstore(phone):
    # given the same page in the webstore
    membership = new_admin()
    log_in(phone, membership.user, next_url=f"/webstore/accounts/{membership.account.pk}/einvoice/")
    # then the button says 登錄 (情境一 step 7: 輸入發票資訊 > 登錄)
    expect(phone.get_by_test_id("save-einvoice")).to_have_text("登錄")
    assert visible_fields(phone) == ["name", "email"]


def test_without_javascript_the_einvoice_form_shows_every_field_and_still_saves(new_context):
    # given a browser without JavaScript
    membership = new_admin()
    page = new_context({**DESKTOP, "java_script_enabled": False}).new_page()
    log_in(page, membership.user, next_url=f"/accounts/{membership.account.pk}/einvoice/")
    # then every field shows, and a company's information saves
    assert visible_fields(page) == KIND_FIELDS
    form = page.get_by_test_id("einvoice-form")
    form.locator("input[name=kind][value=company]").check()
    form.locator("[name=company_title]").fill("小明商行")
    form.locator("[name=ubn]").fill("22099131")
    form.locator("[name=email]").fill("books@example.tw")
    form.locator("[name=address]").fill("臺北市信義區市府路1號")
    page.get_by_test_id("save-einvoice").click()
    expect(
        page.get_by_test_id("message").filter(has_text=text("Your e-invoice information was saved."))
    ).to_be_visible()
    assert EInvoiceProfile.objects.get(account=membership.account).company_title == "小明商行"
