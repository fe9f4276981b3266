"""情境二 through the real LINE Pay adapter (issue 6): the settings point PAYMENTS_GATEWAY at "linepay" and the
adapter at the fake LINE Pay server (real HTTP on 127.0.0.1), so the pop-up opens on the fake's approval page,
which sends the admin back to our confirm URL as LINE Pay would. pytest-django's live server runs in a thread
of this process, so the `settings` overrides apply to it.

The upgrade with the NT$1,200 code costs NT$0, so nothing is charged then; the next month's renewal run then
charges NT$840 as a preapproved payment on the fake, with the regKey the pop-up registered.
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.periods import next_month_start
from billing.models import Renewal, RenewalStatus
from payments.models import Charge, ChargeStatus, MethodKind, PaymentMethod
from tests.e2e.pages import (
    CHECKOUT_URL,
    add_linepay_in_popup,
    agree_and_purchase,
    choose_account,
    enter_code,
    expect_deduction,
    expect_receipt,
    log_in,
    plan_name,
    settings_nav,
    text,
)
from tests.factories import PromoCodeFactory
from tests.helpers import assert_upgraded_with_code, new_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_scenario_2_through_the_linepay_adapter_on_the_fake_then_renewed_through_it(linepay_on, desktop, screenshot):
    fake = linepay_on
    # given an admin of a Light account with nothing registered, and a NT$1,200 code
    membership = new_admin()
    account = membership.account
    code = PromoCodeFactory()
    page = desktop
    log_in(page, membership.user)
    choose_account(page, account)
    # 1-3: 設定 > 帳務專區 > 推廣方案 > 中用量 > 升級
    settings_nav(page, "plans")
    # 升級, then 4-5: e-invoice information first
    # 6-7: 新增付款方式 > LINE Pay > 新增: the pop-up opens on LINE Pay's (the fake's) approval page
    popup = add_linepay_in_popup(page, "medium")
    expect(popup).to_have_url(re.compile(rf"^{re.escape(fake.base_url)}/approve/\d{{19}}$"))
    (transaction,) = fake.transactions.values()
    assert (transaction["amount"], transaction["capture"], transaction["status"]) == (1, False, "requested")
    expect(popup.get_by_role("heading")).to_have_text("LINE Pay (fake)")
    # 8-10: approve in "LINE": the fake sends the pop-up back to our confirm URL, which closes it
    with popup.expect_event("close"):
        popup.locator("#approve").click()
    assert transaction["status"] == "voided"  # the NT$1 authorisation for registering was released
    # 11: the opener moves on to the summary, with LINE Pay as the main payment method
    expect(page).to_have_url(CHECKOUT_URL)
    expect(page.get_by_test_id("payment-method")).to_contain_text("LINE Pay")
    expect(page.get_by_test_id("payment-method")).to_contain_text("1111")
    method = PaymentMethod.objects.get(account=account)
    assert (method.kind, method.gateway, method.is_main) == (MethodKind.LINEPAY, "linepay", True)
    assert method.gateway_token == transaction["regKey"] and method.gateway_token in fake.reg_keys
    # 12: 輸入優惠活動代碼 > 登錄: NT$800 deducted, NT$400 forfeited
    enter_code(page, code.display_code)
    expect_deduction(page, deduction="NT$800", forfeited="NT$400")
    # 13: 勾選同意條款 > 購買
    agree_and_purchase(page)
    expect_receipt(page, plan=plan_name("medium"), deduction="NT$800")
    expect(page.get_by_test_id("receipt-method")).to_contain_text("LINE Pay")
    screenshot(page, "receipt")
    upgrade_charge = assert_upgraded_with_code(
        account, code, plan="medium", deduction=800, forfeited=400, method_kind=MethodKind.LINEPAY
    )
    assert upgrade_charge.total_twd == 0 and upgrade_charge.payment_method == method
    assert fake.payments == {}  # NT$0: nothing went to LINE Pay

    # then the next month's renewal charges NT$840 as a preapproved payment on the regKey
    account.subscription.refresh_from_db()
    next_month = next_month_start(account.subscription.period_start)
    call_command("renew_subscriptions", "--as-of", f"{next_month.isoformat()}T00:05:00+08:00", stdout=StringIO())
    renewal = Renewal.objects.get(subscription=account.subscription)
    assert renewal.status == RenewalStatus.RENEWED
    charge = renewal.charge
    assert (charge.purpose, charge.status, charge.plan_code) == ("renewal", ChargeStatus.SUCCEEDED, "medium")
    assert (charge.fee_twd, charge.deduction_twd, charge.total_twd, charge.payment_method) == (800, 0, 840, method)
    payment = fake.payments[charge.idempotency_key]
    assert (payment["orderId"], payment["amount"], payment["regKey"]) == (
        f"renewal:{account.subscription.pk}:{next_month:%Y-%m}:1",
        840,
        method.gateway_token,
    )
    assert charge.gateway_reference == str(payment["transactionId"]) and len(charge.gateway_reference) == 19
    assert Charge.objects.filter(account=account).count() == 2
    # the admin sees it in 付款紀錄, paid by LINE Pay
    settings_nav(page, "payment-records")
    renewal_row = page.get_by_test_id("charge").filter(has_text="NT$840")
    expect(renewal_row).to_have_count(1)
    expect(renewal_row).to_contain_text("LINE Pay")
    expect(renewal_row).to_contain_text(text(ChargeStatus.SUCCEEDED.label))
    screenshot(page, "payment-records-after-renewal")
