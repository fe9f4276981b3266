"""The real TapPay adapter against the fake TapPay server (real HTTP on 127.0.0.1)."""

import logging

import pytest

from payments.gateways import GatewayError, Outcome, gateway
from payments.gateways.tappay import TapPayGateway, bank_transaction_id
from payments.models import MethodKind
from payments.services import card_add
from tests.factories import SubscriptionFactory

# The real adapter against the fake (tests/payments/fakes/fixtures.py), the site in English (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tappay_on", "english")]


def save(fake, number="4242424242424242", **prime):
    account = SubscriptionFactory().account
    return card_add(account=account, one_time_token=fake.new_prime(number, **prime), actor=None)


def pay(method, order_id="order-1", amount=840):
    return TapPayGateway().charge(method=method, amount_twd=amount, order_id=order_id, description="Medium plan")


def test_saving_a_card_keeps_key_and_token_brand_last_four_expiry_and_refunds_the_nt1(fake_tappay):
    method = save(fake_tappay, "5555555555554444")
    card_key, card_token = method.gateway_token.split(":")
    assert (card_key, card_token) in fake_tappay.cards
    assert (method.kind, method.gateway, method.brand, method.last_four) == (
        MethodKind.CARD,
        "tappay",
        "mastercard",
        "4444",
    )
    assert (method.expiry_month, method.expiry_year) == (12, 2030)
    (registration,) = fake_tappay.records
    assert (registration["amount"], registration["record_status"]) == (1, 3)  # NT$1, refunded


def test_a_prime_is_single_use(fake_tappay):
    prime = fake_tappay.new_prime()
    TapPayGateway().save_card(one_time_token=prime)
    with pytest.raises(GatewayError) as refused:
        TapPayGateway().save_card(one_time_token=prime)
    assert refused.value.code == "91"


def test_a_declined_card_is_not_saved(fake_tappay):
    with pytest.raises(GatewayError) as refused:
        save(fake_tappay, behaviour="declined")
    assert "declined" in str(refused.value.message)


def test_charge_by_token_then_read_it_back(fake_tappay):
    method = save(fake_tappay)
    result = pay(method)
    (record,) = fake_tappay.records_for("order-1")
    assert (result.outcome, result.reference, record["amount"]) == (Outcome.SUCCEEDED, record["rec_trade_id"], 840)
    assert record["bank_transaction_id"] == bank_transaction_id("order-1")
    status = TapPayGateway().charge_status(method=method, order_id="order-1")
    assert (status.outcome, status.reference) == (Outcome.SUCCEEDED, record["rec_trade_id"])
    assert TapPayGateway().charge_status(method=method, order_id="never").outcome == Outcome.ABSENT


def test_a_time_out_that_did_charge_reads_back_and_a_retry_charges_nothing_more(fake_tappay):
    method = save(fake_tappay)
    fake_tappay.fail_next("pay_by_token", "timeout")
    first = pay(method)
    second = pay(method)  # the same order again: TapPay refuses the bank_transaction_id (10013), read back
    (record,) = fake_tappay.records_for("order-1")
    assert first == second
    assert (first.outcome, first.reference) == (Outcome.SUCCEEDED, record["rec_trade_id"])
    assert fake_tappay.calls["query"] == 2


def test_no_connection_is_unknown(settings, fake_tappay):
    method = save(fake_tappay)
    settings.TAPPAY_API_BASE = "http://127.0.0.1:9"
    assert pay(method).outcome == Outcome.UNKNOWN
    assert TapPayGateway().charge_status(method=method, order_id="order-1").outcome == Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("fault", "words", "gone"),
    [("declined", "declined the payment", False), ("insufficient", "declined", False), ("expired", "expired", True)],
)
def test_a_bank_decline_says_why(fake_tappay, fault, words, gone):
    method = save(fake_tappay)
    fake_tappay.fail_next("pay_by_token", fault)
    result = pay(method)
    assert (result.outcome, result.method_gone) == (Outcome.DECLINED, gone)
    assert words in result.reason
    assert TapPayGateway().charge_status(method=method, order_id="order-1").outcome == Outcome.DECLINED


def test_an_unknown_card_token_is_method_gone(fake_tappay):
    method = save(fake_tappay)
    method.gateway_token = "nope:nope"
    assert pay(method).method_gone is True


def test_refund_in_part_then_the_rest(fake_tappay):
    method = save(fake_tappay)
    reference = pay(method).reference
    assert TapPayGateway().refund(method=method, reference=reference, amount_twd=40).outcome == Outcome.SUCCEEDED
    assert TapPayGateway().refund(method=method, reference=reference).outcome == Outcome.SUCCEEDED
    (record,) = fake_tappay.records_for("order-1")
    assert (record["refunded_amount"], record["record_status"]) == (840, 3)
    assert TapPayGateway().refund(method=method, reference=reference).outcome == Outcome.DECLINED


def test_a_wrong_partner_key_is_refused_by_the_fake(settings, fake_tappay):
    method = save(fake_tappay)
    settings.TAPPAY_PARTNER_KEY = "partner_wrong"
    result = pay(method)
    assert result.outcome == Outcome.DECLINED and "TAPPAY_PARTNER_KEY" in result.reason
    assert fake_tappay.refused == 1 and fake_tappay.records_for("order-1") == []


def test_with_line_pay_on_a_card_goes_to_tappay(settings, fake_tappay, fake_linepay):
    method = save(fake_tappay)
    settings.PAYMENTS_GATEWAY = "linepay"
    result = gateway().charge(method=method, amount_twd=840, order_id="order-1", description="x")
    assert result.outcome == Outcome.SUCCEEDED and fake_tappay.records_for("order-1")
    assert fake_linepay.requests == []


def test_save_and_charge_log_order_numbers_and_statuses_but_no_key_or_token(fake_tappay, caplog):
    caplog.set_level(logging.DEBUG)
    method = save(fake_tappay)
    pay(method)
    assert "order-1" in caplog.text and "status=0" in caplog.text
    card_key, card_token = method.gateway_token.split(":")
    for secret in (fake_tappay.partner_key, card_key, card_token):
        assert secret not in caplog.text
