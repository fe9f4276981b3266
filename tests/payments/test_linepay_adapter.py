"""The real LINE Pay v3 adapter against the fake LINE Pay server (real HTTP on 127.0.0.1)."""

import base64
import hashlib
import hmac
import json
import logging
import uuid
from datetime import date, datetime

import pytest
import requests

from accounts.periods import BILLING_TZ
from billing.checkout import checkout_purchase, checkout_reconcile, checkout_start
from billing.models import CheckoutStatus, Renewal, RenewalStatus
from billing.renewals import Totals, renew_subscription, renewal_recover
from billing.services import payment_method_remove
from payments.gateways import GatewayError, Outcome, gateway
from payments.gateways.linepay import LinePayGateway, sign
from payments.models import ChargeStatus, MethodKind, MethodStatus, PaymentMethod
from payments.services import linepay_registration_confirm, linepay_registration_start
from tests.factories import EInvoiceProfileFactory, MembershipFactory, SubscriptionFactory, plan

# The real adapter against the fake (tests/payments/fakes/fixtures.py), the site in English (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("linepay_on", "english")]


def register(fake, account=None, card="**** **** **** 1111") -> PaymentMethod:
    """The admin adds LINE Pay: request → approves in LINE (on the fake) → confirm."""
    account = account or SubscriptionFactory().account
    registration, url = linepay_registration_start(
        account=account, actor=None, confirm_url=lambda o: f"https://x/c/{o}", cancel_url=lambda o: f"https://x/x/{o}"
    )
    assert url.startswith(fake.base_url + "/approve/")
    fake.approve(registration.transaction_id, card=card)
    return linepay_registration_confirm(
        registration=registration, transaction_id=registration.transaction_id, actor=None
    )


def pay(method, order_id="order-1", amount=840):
    return LinePayGateway().charge(method=method, amount_twd=amount, order_id=order_id, description="Medium plan")


# ---- the protocol ---------------------------------------------------------------------------


def test_the_signature_is_the_documented_hmac():
    message = b"secret" + b"/v3/payments/request" + b'{"a":1}' + b"nonce"
    expected = base64.b64encode(hmac.new(b"secret", message, hashlib.sha256).digest()).decode()
    assert sign("secret", "/v3/payments/request", '{"a":1}', "nonce") == expected


def test_a_request_signed_with_another_secret_or_a_changed_body_is_refused_with_1106(fake_linepay):
    body = json.dumps({"orderId": "o", "amount": 1})
    for secret, sent in (("wrong-secret", body), (fake_linepay.secret, body + " ")):
        nonce = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "X-LINE-ChannelId": fake_linepay.channel_id,
            "X-LINE-Authorization-Nonce": nonce,
            "X-LINE-Authorization": sign(secret, "/v3/payments/request", body, nonce),
        }
        answer = requests.post(fake_linepay.base_url + "/v3/payments/request", data=sent, headers=headers, timeout=5)
        assert answer.json()["returnCode"] == "1106"
    assert fake_linepay.refused == ["1106", "1106"]


def test_the_adapter_with_a_wrong_secret_is_refused_and_says_so(settings, fake_linepay):
    settings.LINEPAY_CHANNEL_SECRET = "not-the-secret"
    with pytest.raises(GatewayError) as refused:
        register(fake_linepay)
    assert refused.value.code == "1106"
    assert fake_linepay.refused == ["1106"]


def test_every_call_has_a_fresh_nonce_and_transaction_ids_stay_19_digit_strings(fake_linepay):
    method = register(fake_linepay)
    result = pay(method)
    payment = fake_linepay.payments["order-1"]
    assert result.reference == str(payment["transactionId"]) and len(result.reference) == 19
    assert len(fake_linepay.nonces) == len(fake_linepay.requests)


# ---- registration -------------------------------------------------------------------------


def test_registering_keeps_the_regkey_and_masked_card_and_voids_the_nt1_authorisation(fake_linepay):
    method = register(fake_linepay, card="**** **** **** 0000")
    assert (method.kind, method.gateway, method.masked_card) == (MethodKind.LINEPAY, "linepay", "**** **** **** 0000")
    assert method.gateway_token in fake_linepay.reg_keys
    (tx,) = fake_linepay.transactions.values()
    assert (tx["amount"], tx["capture"], tx["status"]) == (1, False, "voided")
    assert fake_linepay.payments == {}  # nothing captured for registering


def test_confirming_an_unapproved_request_is_refused(fake_linepay):
    account = SubscriptionFactory().account
    registration, _url = linepay_registration_start(
        account=account, actor=None, confirm_url=lambda o: "https://x/c", cancel_url=lambda o: "https://x/x"
    )
    with pytest.raises(GatewayError) as refused:
        linepay_registration_confirm(registration=registration, transaction_id=registration.transaction_id, actor=None)
    assert refused.value.code == "1150"


def test_check_and_expire_the_regkey(fake_linepay, django_capture_on_commit_callbacks):
    method = register(fake_linepay)
    assert LinePayGateway().linepay_check(reg_key=method.gateway_token) is True
    assert LinePayGateway().linepay_check(reg_key="RK0") is False
    with django_capture_on_commit_callbacks(execute=True):
        payment_method_remove(method=method, actor=None)
    assert fake_linepay.reg_keys[method.gateway_token]["status"] == "expired"
    assert LinePayGateway().linepay_check(reg_key=method.gateway_token) is False


def test_expiring_when_line_pay_does_not_answer_is_logged_not_raised(settings, caplog):
    settings.LINEPAY_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    LinePayGateway().linepay_expire(reg_key="RK123456789012345")
    assert "expire_regkey" in caplog.text and "RK123456789012345" not in caplog.text


# ---- charges --------------------------------------------------------------------------------


def test_a_preapproved_payment_succeeds_once(fake_linepay):
    method = register(fake_linepay)
    assert pay(method, amount=840).outcome == Outcome.SUCCEEDED
    assert fake_linepay.payments["order-1"]["amount"] == 840
    status = LinePayGateway().charge_status(method=method, order_id="order-1")
    assert (status.outcome, status.reference) == (
        Outcome.SUCCEEDED,
        str(fake_linepay.payments["order-1"]["transactionId"]),
    )


def test_a_time_out_that_did_charge_reads_back_as_succeeded_and_charges_nothing_more(fake_linepay):
    method = register(fake_linepay)
    fake_linepay.fail_next("preapproved_pay", "timeout")
    result = pay(method)
    assert (result.outcome, result.reference) == (
        Outcome.SUCCEEDED,
        str(fake_linepay.payments["order-1"]["transactionId"]),
    )
    assert fake_linepay.calls["preapproved_pay"] == 1 and fake_linepay.calls["payment_details"] == 1
    assert pay(method).outcome == Outcome.SUCCEEDED  # asked again: 1172, read back, still one payment
    assert len(fake_linepay.payments) == 1


@pytest.mark.parametrize("code", ["1172", "1198"])
def test_a_duplicate_answer_is_read_back(fake_linepay, code):
    method = register(fake_linepay)
    fake_linepay.fail_next("preapproved_pay", code)
    result = pay(method)
    assert result.outcome == Outcome.SUCCEEDED
    assert result.reference == str(fake_linepay.payments["order-1"]["transactionId"])


def test_a_time_out_with_nothing_charged_is_unknown_then_absent(fake_linepay):
    method = register(fake_linepay)
    fake_linepay.fail_next("preapproved_pay", "lost_request")
    assert pay(method).outcome == Outcome.UNKNOWN  # never guessed
    assert LinePayGateway().charge_status(method=method, order_id="order-1").outcome == Outcome.ABSENT
    assert fake_linepay.payments == {}


def test_no_connection_at_all_is_unknown(settings, fake_linepay):
    method = register(fake_linepay)
    settings.LINEPAY_API_BASE = "http://127.0.0.1:9"
    assert pay(method).outcome == Outcome.UNKNOWN
    assert LinePayGateway().charge_status(method=method, order_id="order-1").outcome == Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("code", "words"),
    [("1281", "declined the payment"), ("1288", "insufficient funds"), ("1280", "temporary"), ("1179", "declined")],
)
def test_a_decline_says_why_and_charges_nothing(fake_linepay, code, words):
    method = register(fake_linepay)
    fake_linepay.fail_next("preapproved_pay", code)
    result = pay(method)
    assert (result.outcome, result.method_gone) == (Outcome.DECLINED, False)
    assert words in result.reason and f"({code})" in result.reason
    assert LinePayGateway().charge_status(method=method, order_id="order-1").outcome == Outcome.ABSENT


def test_an_expired_or_unknown_regkey_is_method_gone(fake_linepay):
    method = register(fake_linepay)
    fake_linepay.expire(method.gateway_token)
    expired = pay(method)
    assert (expired.outcome, expired.method_gone) == (Outcome.DECLINED, True) and "(1193)" in expired.reason
    method.gateway_token = "RK404"
    assert pay(method, order_id="order-2").method_gone is True


def test_a_decline_whose_answer_was_lost_is_unknown_then_declined_when_the_order_is_sent_again(fake_linepay):
    # given LINE Pay declined order-1 but its answer was lost: the orderId is used up, no payment is listed
    method = register(fake_linepay)
    fake_linepay.fail_next("preapproved_pay", "lost:1281")
    lost = pay(method)
    # when recovery asks about the order, then sends it again
    status = LinePayGateway().charge_status(method=method, order_id="order-1")
    resent = pay(method)
    # then the first answer is never guessed, the resend's 1172 with nothing listed is a decline, nothing is charged
    assert lost.outcome == Outcome.UNKNOWN
    assert status.outcome == Outcome.ABSENT
    assert (resent.outcome, resent.method_gone) == (Outcome.DECLINED, False)
    assert (
        resent.reason == "LINE Pay has already refused this order: its order ID is used and it has no payment. (1172)"
    )
    assert fake_linepay.payments == {}
    assert fake_linepay.calls["preapproved_pay"] == 2 and fake_linepay.calls["payment_details"] == 3


def test_a_duplicate_call_answered_while_line_pay_is_busy_stays_unknown(fake_linepay):
    # given LINE Pay answers 1198 (a duplicate call, still at work on the first): the order may yet be paid
    method = register(fake_linepay)
    fake_linepay.fail_next("preapproved_pay", "busy")
    # when
    result = pay(method)
    # then it is not called a decline; asked later, the order can still be paid once
    assert result.outcome == Outcome.UNKNOWN
    assert fake_linepay.payments == {}
    assert pay(method).outcome == Outcome.SUCCEEDED
    assert len(fake_linepay.payments) == 1


@pytest.mark.parametrize(
    ("pay_status", "outcome"),
    [
        ("CAPTURE", Outcome.SUCCEEDED),
        ("AUTHORIZATION", Outcome.SUCCEEDED),
        ("VOIDED_AUTHORIZATION", Outcome.DECLINED),
        ("EXPIRED_AUTHORIZATION", Outcome.DECLINED),
        ("SOMETHING_NEW", Outcome.UNKNOWN),
    ],
)
def test_payment_details_is_read_by_its_pay_status(fake_linepay, pay_status, outcome):
    # given a payment that Payment Details reports with this payStatus
    method = register(fake_linepay)
    pay(method)
    fake_linepay.set_pay_status("order-1", pay_status)
    # when
    status = LinePayGateway().charge_status(method=method, order_id="order-1")
    # then only a captured or authorised payment is money taken; a status we do not know is never guessed
    assert status.outcome == outcome
    expected = str(fake_linepay.payments["order-1"]["transactionId"]) if outcome == Outcome.SUCCEEDED else ""
    assert status.reference == expected


# ---- refunds --------------------------------------------------------------------------------


def test_refund_in_part_then_the_rest(fake_linepay):
    method = register(fake_linepay)
    reference = pay(method, amount=840).reference
    part = LinePayGateway().refund(method=method, reference=reference, amount_twd=40)
    rest = LinePayGateway().refund(method=method, reference=reference)
    assert (part.outcome, rest.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert [r["refundAmount"] for r in fake_linepay.payments["order-1"]["refunds"]] == [-40, -800]
    again = LinePayGateway().refund(method=method, reference=reference, amount_twd=1)
    assert again.outcome == Outcome.DECLINED and "(1165)" in again.reason


def test_a_refund_whose_answer_was_lost_reads_back_and_is_not_repeated(fake_linepay):
    method = register(fake_linepay)
    reference = pay(method, amount=840).reference
    fake_linepay.fail_next("refund", "timeout")
    result = LinePayGateway().refund(method=method, reference=reference, amount_twd=100)
    refunds = fake_linepay.payments["order-1"]["refunds"]
    assert (result.outcome, result.reference) == (Outcome.SUCCEEDED, str(refunds[0]["refundTransactionId"]))
    assert len(refunds) == 1


# ---- through the billing flows ----------------------------------------------------------------


def test_an_upgrade_checkout_is_paid_through_line_pay(fake_linepay):
    membership = MembershipFactory()
    SubscriptionFactory(account=membership.account)
    EInvoiceProfileFactory(account=membership.account)
    method = register(fake_linepay, account=membership.account)
    assert method.is_main and gateway().name == "linepay"
    checkout = checkout_start(account=membership.account, plan=plan("medium"), user=membership.user, channel="desktop")
    checkout = checkout_purchase(checkout=checkout, expected_total_twd=840, actor=membership.user)
    assert checkout.status == CheckoutStatus.PAID
    payment = fake_linepay.payments[checkout.charge.idempotency_key]
    assert (payment["amount"], payment["regKey"]) == (840, method.gateway_token)
    assert checkout.charge.gateway_reference == str(payment["transactionId"])
    membership.account.subscription.refresh_from_db()
    assert membership.account.subscription.plan.code == "medium"


def test_a_renewal_is_charged_through_line_pay_and_a_lost_answer_is_not_charged_twice(fake_linepay):
    sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
    register(fake_linepay, account=sub.account)
    fake_linepay.fail_next("preapproved_pay", "timeout")
    totals = Totals()
    renew_subscription(
        subscription_id=sub.pk, as_of=datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ), run=None, totals=totals
    )
    sub.refresh_from_db()
    assert (totals.renewed, totals.charged_twd, sub.period_start) == (1, 840, date(2026, 7, 1))
    assert Renewal.objects.get(subscription=sub).status == RenewalStatus.RENEWED
    (payment,) = fake_linepay.payments.values()
    assert payment["orderId"] == f"renewal:{sub.pk}:2026-07:1" and payment["amount"] == 840


def test_a_renewal_whose_decline_was_lost_ends_declined_on_recovery_not_unknown(fake_linepay):
    # given a renewal whose charge LINE Pay declined (1281) with the answer lost: the renewal stays `charging`
    sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
    register(fake_linepay, account=sub.account)
    fake_linepay.fail_next("preapproved_pay", "lost:1281")
    first = Totals()
    renew_subscription(
        subscription_id=sub.pk, as_of=datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ), run=None, totals=first
    )
    renewal = Renewal.objects.select_related("charge__payment_method").get(subscription=sub)
    assert (first.pending, renewal.status) == (1, RenewalStatus.CHARGING)
    # when recovery reads the order back (none listed), sends it again and gets 1172
    totals = Totals()
    renewal_recover(renewal=renewal, as_of=datetime(2026, 7, 1, 1, 0, tzinfo=BILLING_TZ), totals=totals)
    # then the renewal ends declined, with its retry day, and nothing was charged
    renewal.refresh_from_db()
    sub.refresh_from_db()
    assert (renewal.status, renewal.next_retry_on, totals.failed) == (RenewalStatus.FAILED, date(2026, 7, 3), 1)
    assert renewal.charge.status == ChargeStatus.FAILED
    assert renewal.last_error.endswith("(1172)")
    assert sub.period_start == date(2026, 6, 1)
    assert fake_linepay.payments == {}
    assert fake_linepay.calls["preapproved_pay"] == 2


def test_a_checkout_whose_decline_was_lost_is_reopened_by_reconciliation(fake_linepay):
    # given an upgrade whose payment LINE Pay declined with the answer lost: the checkout is `processing`
    membership = MembershipFactory()
    SubscriptionFactory(account=membership.account)
    EInvoiceProfileFactory(account=membership.account)
    register(fake_linepay, account=membership.account)
    checkout = checkout_start(account=membership.account, plan=plan("medium"), user=membership.user, channel="desktop")
    fake_linepay.fail_next("preapproved_pay", "lost:1281")
    checkout = checkout_purchase(checkout=checkout, expected_total_twd=840, actor=membership.user)
    assert checkout.status == CheckoutStatus.PROCESSING
    # when
    settled = checkout_reconcile(checkout=checkout)
    # then the checkout is open again for another try, its charge failed, and nothing was charged
    checkout.refresh_from_db()
    assert settled is True
    assert (checkout.status, checkout.attempt, checkout.charge.status) == (CheckoutStatus.OPEN, 2, ChargeStatus.FAILED)
    assert fake_linepay.payments == {}
    membership.account.subscription.refresh_from_db()
    assert membership.account.subscription.plan.code == "light"


def test_a_renewal_on_an_expired_regkey_marks_the_method_expired(fake_linepay):
    sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
    method = register(fake_linepay, account=sub.account)
    fake_linepay.expire(method.gateway_token)
    renew_subscription(
        subscription_id=sub.pk, as_of=datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ), run=None, totals=Totals()
    )
    method.refresh_from_db()
    assert method.status == MethodStatus.EXPIRED
    assert sub.account.charges.get().status == ChargeStatus.FAILED


# ---- secrets stay out of the logs -------------------------------------------------------------


def test_register_and_charge_log_order_ids_and_codes_but_no_secret(fake_linepay, caplog):
    caplog.set_level(logging.DEBUG)
    method = register(fake_linepay)
    pay(method, order_id="order-0")
    fake_linepay.fail_next("preapproved_pay", "timeout")
    pay(method)
    LinePayGateway().linepay_check(reg_key=method.gateway_token)
    assert "order-1" in caplog.text and "returnCode=0000" in caplog.text
    for secret in (fake_linepay.secret, method.gateway_token):
        assert secret not in caplog.text
