"""SPEC §6's four flows (情境一 to 情境四) in Chromium, from log-in to receipt, as the seed shows them.

Each test checks what the admin sees (the deduction on the summary, the receipt) and what the database
holds afterwards (the plan, the charge, the redemption and the forfeited remainder), and saves its last
page under artifacts/.
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.periods import next_month_start
from invoices.issuing import invoice_period
from invoices.models import InvoiceNumberRange
from payments.models import Charge, MethodKind, PaymentMethod
from promos.models import CodeStatus, Redemption
from tests.e2e.pages import (
    CHECKOUT_URL,
    add_linepay_in_popup,
    agree_and_purchase,
    choose_account,
    enter_code,
    expect_deduction,
    expect_message,
    expect_receipt,
    fill_card,
    fill_einvoice,
    log_in,
    plan_name,
    settings_nav,
    text,
    upgrade,
    webstore_menu,
)
from tests.factories import PromoCodeFactory
from tests.helpers import assert_upgraded_with_code, new_admin, ready_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_scenario_1_webstore_first_time_on_a_phone(phone, screenshot):
    # given an admin of a Light account with no e-invoice information and no payment method, and a NT$1,200 code
    membership = new_admin()
    account = membership.account
    code = PromoCodeFactory()
    # 1-3: the webstore on a phone: log in, choose the official account
    log_in(phone, membership.user, next_url="/webstore/")
    expect(phone).to_have_url(re.compile(r"/webstore/$"))
    choose_account(phone, account)
    expect(phone).to_have_url(re.compile(rf"/webstore/accounts/{account.pk}/plans/$"))
    # 4-6: ☰ > 付款方式 > 新增: the e-invoice information comes first
    webstore_menu(phone, "payment-methods")
    phone.get_by_test_id("add-method").click()
    expect(phone.get_by_test_id("einvoice-form")).to_be_visible()
    expect_message(phone, text("Register your e-invoice information before adding a payment method."))
    # 7: 輸入發票資訊 > 登錄
    fill_einvoice(phone)
    expect_message(phone, text("Your e-invoice information was saved."))
    # 8-11: 新增付款方式 > 信用卡: the gateway's hosted fields
    phone.get_by_test_id("add-card").click()
    fill_card(phone, number="4242 4242 4242 4242", expiry="12/30", cvc="123")
    expect(phone).to_have_url(re.compile(rf"/webstore/accounts/{account.pk}/payment-methods/$"))
    expect(phone.get_by_test_id("method")).to_have_count(1)
    expect(phone.get_by_test_id("method")).to_contain_text("4242")
    expect(phone.get_by_test_id("method")).to_contain_text(text("Main payment method"))
    # 12-14: ☰ > 方案 > 中用量 > 升級
    webstore_menu(phone, "plans")
    upgrade(phone, "medium")
    expect(phone).to_have_url(re.compile(r"/webstore" + CHECKOUT_URL.pattern))
    # 15: 輸入代碼 > 登錄, and see the fee reduced by NT$800, the other NT$400 forfeited
    enter_code(phone, code.code.lower())
    expect_deduction(phone, deduction="NT$800", forfeited="NT$400")
    # 16: 勾選同意條款 > 購買
    agree_and_purchase(phone)
    expect_receipt(phone, plan=plan_name("medium"), deduction="NT$800")
    expect(phone.get_by_test_id("receipt-forfeited")).to_have_text("NT$400")
    screenshot(phone)
    assert_upgraded_with_code(account, code, plan="medium", deduction=800, forfeited=400, method_kind=MethodKind.CARD)
    assert PaymentMethod.objects.get(account=account).last_four == "4242"


def test_scenario_2_desktop_first_time_through_the_linepay_popup(desktop, screenshot):
    # given an admin of a Light account with nothing registered, and a NT$1,200 code
    membership = new_admin()
    account = membership.account
    code = PromoCodeFactory()
    page = desktop
    log_in(page, membership.user)
    choose_account(page, account)
    # 1-3: 設定 > 帳務專區 > 推廣方案 > 中用量 > 升級
    settings_nav(page, "plans")
    expect(page.get_by_test_id("webstore-qr")).to_be_visible()
    # 升級, then 4-5: the prompt: e-invoice information first; fill it in and save
    # 6-7: 新增付款方式 > LINE Pay > 新增: a pop-up, as LINE's own manager opens
    popup = add_linepay_in_popup(page, "medium")
    # 8: the pop-up asks to open LINE on the phone, with the QR code
    expect(popup.locator(".linepay-qr svg")).to_be_visible()
    expect(popup.locator(".linepay-qr")).to_contain_text(text("Open LINE on your phone"))
    # 9: in "LINE": the cards bound to LINE Pay; choose **** 1111 > 下一步
    expect(popup.locator("input[name=card]")).to_have_count(4)
    popup.get_by_label("**** **** **** 1111").check()
    popup.locator("button[name=action][value=next]").click()
    # 10: 確認資訊 (the card chosen) > 新增; the pop-up closes itself
    expect(popup.locator("#linepay-chosen-card")).to_have_text("**** **** **** 1111")
    with popup.expect_event("close"):
        popup.locator("button[name=action][value=confirm]").click()
    # 11: the opener moves on to the summary and says 已新增主要的付款方式為LINE Pay
    expect(page).to_have_url(CHECKOUT_URL)
    expect_message(page, text("LINE Pay is now your main payment method."))
    expect(page.get_by_test_id("payment-method")).to_contain_text("LINE Pay")
    expect(page.get_by_test_id("payment-method")).to_contain_text("1111")
    # 12: 輸入優惠活動代碼 > 登錄
    enter_code(page, code.display_code)
    expect_deduction(page, deduction="NT$800", forfeited="NT$400")
    # 13: 勾選同意條款 > 購買
    agree_and_purchase(page)
    expect_receipt(page, plan=plan_name("medium"), deduction="NT$800")
    expect(page.get_by_test_id("receipt-method")).to_contain_text("LINE Pay")
    screenshot(page)
    assert_upgraded_with_code(
        account, code, plan="medium", deduction=800, forfeited=400, method_kind=MethodKind.LINEPAY
    )
    method = PaymentMethod.objects.get(account=account)
    assert method.is_main and method.gateway_token  # the regKey


def test_scenario_3_desktop_returning_medium_to_high_in_both_languages(desktop, screenshot):
    # given an admin of a Medium account whose e-invoice information and card are registered
    membership = ready_admin(medium=True)
    account = membership.account
    code = PromoCodeFactory()
    page = desktop
    log_in(page, membership.user)
    choose_account(page, account)
    # 1-3: 設定 > 推廣方案 > 高用量 > 升級: straight to the summary
    settings_nav(page, "plans")
    expect(page.get_by_test_id("current-plan")).to_have_text(plan_name("medium"))
    upgrade(page, "high")
    expect(page).to_have_url(CHECKOUT_URL)
    # 4: the code deducts NT$400; the other NT$800 is forfeited
    enter_code(page, code.code)
    expect_deduction(page, deduction="NT$400", forfeited="NT$800")
    # 5: terms > purchase
    agree_and_purchase(page)
    expect_receipt(page, plan=plan_name("high"), deduction="NT$400")
    expect(page.get_by_test_id("receipt-forfeited")).to_have_text("NT$800")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-TW")
    screenshot(page, "zh-hant")
    # and the same receipt in English, through the language selector
    page.get_by_test_id("language").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(text("Thank you: your plan is upgraded", "en"))
    expect_receipt(page, plan=plan_name("high", "en"), deduction="NT$400")
    screenshot(page, "en")
    assert_upgraded_with_code(account, code, plan="high", deduction=400, forfeited=800, method_kind=MethodKind.CARD)


def test_a_paid_upgrade_without_a_code_gets_its_invoice_and_a_printable_proof(desktop, screenshot):
    # given a returning admin (情境三) with no code, and the period's 字軌 registered by staff
    membership = ready_admin(medium=True)
    account = membership.account
    InvoiceNumberRange.objects.create(
        period=invoice_period(timezone.localdate()), prefix="ZX", first_number=100, last_number=199
    )
    page = desktop
    log_in(page, membership.user)
    choose_account(page, account)
    settings_nav(page, "plans")
    upgrade(page, "high")
    # when they buy it for NT$420 (NT$400 and 5% tax)
    expect(page.get_by_test_id("total")).to_have_text("NT$420")
    agree_and_purchase(page)
    # then the receipt names the invoice, and its proof shows the number, the amounts and the barcode
    expect(page.get_by_test_id("receipt-invoice")).to_have_text("ZX00000100")
    page.get_by_test_id("receipt-invoice").get_by_role("link").click()
    expect(page.get_by_test_id("proof-number")).to_have_text("ZX-00000100")
    expect(page.locator("svg").first).to_be_visible()
    screenshot(page)
    invoice = Charge.objects.get(account=account).invoice
    assert (invoice.number, invoice.sales_twd, invoice.tax_twd, invoice.total_twd) == ("ZX00000100", 400, 20, 420)


def test_scenario_4_a_code_registered_removed_registered_again_and_used_by_the_renewal(desktop, screenshot):
    # given an admin of a Medium account that pays by card
    membership = ready_admin(medium=True)
    account = membership.account
    code = PromoCodeFactory()
    page = desktop
    log_in(page, membership.user)
    choose_account(page, account)
    # 1-3: 設定 > 優惠活動代碼 > 輸入代碼 > 登錄
    settings_nav(page, "promo-code")
    form = page.get_by_test_id("register-code-form")
    form.locator("input[name=code]").fill(code.code)
    form.get_by_role("button").click()
    # then it shows as reserved for the next renewal
    expect(page.get_by_test_id("registered-code")).to_contain_text(code.display_code)
    code.refresh_from_db()
    assert (code.status, code.registered_account) == (CodeStatus.REGISTERED, account)
    screenshot(page, "registered")
    # when it is removed, it is available again
    page.get_by_test_id("remove-code").click()
    expect(page.get_by_test_id("registered-code")).to_have_count(0)
    expect(page.get_by_test_id("register-code-form")).to_be_visible()
    screenshot(page)
    code.refresh_from_db()
    assert code.status == CodeStatus.AVAILABLE
    assert code.registered_account is None
    assert not Redemption.objects.exists()
    assert not Charge.objects.exists()
    # and registered again, the next month's renewal run deducts it: NT$800 on Medium, NT$400 forfeited
    form.locator("input[name=code]").fill(code.display_code.lower())
    form.get_by_role("button").click()
    expect(page.get_by_test_id("registered-code")).to_contain_text(code.display_code)
    next_month = next_month_start(account.subscription.period_start)
    call_command("renew_subscriptions", "--as-of", f"{next_month.isoformat()}T00:05:00+08:00", stdout=StringIO())
    charge = Charge.objects.get()
    assert (charge.purpose, charge.fee_twd, charge.deduction_twd, charge.forfeited_twd, charge.total_twd) == (
        "renewal",
        800,
        800,
        400,
        0,
    )
    redemption = Redemption.objects.get()
    assert (redemption.charge, redemption.applied_twd, redemption.forfeited_twd) == (charge, 800, 400)
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED
    # the admin sees it in 付款紀錄 and among the codes used
    settings_nav(page, "payment-records")
    expect(page.get_by_test_id("charge")).to_contain_text("-NT$800")
    settings_nav(page, "promo-code")
    expect(page.get_by_text(code.display_code)).to_be_visible()
    screenshot(page, "after-renewal")
