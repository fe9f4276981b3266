"""One order is charged once at the gateway, and what became of an order can be read back."""

from datetime import date

import pytest

from payments.gateways import Outcome
from payments.gateways.sandbox import SandboxGateway, tokenise_card
from payments.models import SandboxCharge
from payments.services import card_add
from tests.factories import SubscriptionFactory
from tests.helpers import add_linepay

pytestmark = pytest.mark.django_db


def card(number):
    account = SubscriptionFactory().account
    token = tokenise_card(number=number, expiry="12/30", cvc="123", today=date(2026, 6, 1)).one_time_token
    return card_add(account=account, one_time_token=token, actor=None)


def linepay_method(card_index=0):
    return add_linepay(SubscriptionFactory().account, card_index)


def test_the_same_order_twice_is_charged_once_and_answered_the_same():
    method = card("4242424242424242")
    first = SandboxGateway().charge(method=method, amount_twd=840, order_id="o-1", description="x")
    second = SandboxGateway().charge(method=method, amount_twd=840, order_id="o-1", description="x")
    assert first == second
    assert first.outcome == Outcome.SUCCEEDED
    assert SandboxCharge.objects.count() == 1


def test_a_lost_answer_is_unknown_and_the_order_reads_back_as_paid():
    method = card("4000000000000119")
    result = SandboxGateway().charge(method=method, amount_twd=840, order_id="o-2", description="x")
    assert result.outcome == Outcome.UNKNOWN
    status = SandboxGateway().charge_status(method=method, order_id="o-2")
    assert status.outcome == Outcome.SUCCEEDED
    assert status.reference.startswith("D")


def test_an_order_the_gateway_never_saw_is_absent():
    method = card("4242424242424242")
    assert SandboxGateway().charge_status(method=method, order_id="never").outcome == Outcome.ABSENT


def test_a_declined_order_reads_back_declined():
    method = card("4000000000000002")
    SandboxGateway().charge(method=method, amount_twd=840, order_id="o-3", description="x")
    assert SandboxGateway().charge_status(method=method, order_id="o-3").outcome == Outcome.DECLINED


def test_linepay_answers_1172_for_a_repeated_order_and_the_adapter_reads_the_payment_back():
    method = linepay_method()
    first = SandboxGateway().charge(method=method, amount_twd=840, order_id="lp-1", description="x")
    again = SandboxGateway().charge(method=method, amount_twd=840, order_id="lp-1", description="x")
    assert first.outcome == again.outcome == Outcome.SUCCEEDED
    assert again.reference == first.reference
    assert len(first.reference) == 19
    assert SandboxGateway().charge_status(method=method, order_id="lp-2").outcome == Outcome.ABSENT


@pytest.mark.parametrize(
    ("configured", "card", "linepay"),
    [("sandbox", "sandbox", "sandbox"), ("linepay", "tappay", "linepay"), ("tappay", "tappay", "linepay")],
)
def test_a_method_records_the_gateway_that_keeps_its_kind(settings, configured, card, linepay):
    from payments.gateways import gateway_name_for

    settings.PAYMENTS_GATEWAY = configured
    assert (gateway_name_for("card"), gateway_name_for("linepay")) == (card, linepay)


def test_the_cardholder_given_to_a_gateway_is_the_e_invoice_buyer():
    from invoices.selectors import cardholder_of
    from tests.factories import EInvoiceProfileFactory

    profile = EInvoiceProfileFactory(name="王小明", email="ming@example.tw")
    assert cardholder_of(profile.account) == {"name": "王小明", "email": "ming@example.tw", "phone_number": ""}


def test_the_router_sends_each_order_to_the_gateway_stored_on_its_method(settings):
    # given a sandbox card and a sandbox LINE Pay method, charged together with the sandbox on
    from payments.gateways import ChargeRequest, gateway

    methods = [card("4242424242424242"), linepay_method(), card("4000000000000002")]
    requests = [ChargeRequest(m, 840, f"mixed-{i}", "x") for i, m in enumerate(methods)]
    # when
    results = gateway().charge_many(requests)
    # then each answer is its own order's, in the order asked
    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.SUCCEEDED, Outcome.DECLINED]
    assert set(SandboxCharge.objects.values_list("order_id", flat=True)) >= {"mixed-0", "mixed-1"}


def test_a_method_kept_by_a_gateway_that_is_not_enabled_is_declined_as_gone_and_never_sent(settings):
    # given a sandbox card, then the real gateways switched on
    from payments.gateways import ChargeRequest, gateway

    method = card("4242424242424242")
    settings.PAYMENTS_GATEWAY = "tappay"
    # when
    alone = gateway().charge(method=method, amount_twd=840, order_id="gone-1", description="x")
    together = gateway().charge_many([ChargeRequest(method, 840, "gone-2", "x")])
    status = gateway().charge_status(method=method, order_id="gone-1")
    # then
    assert (alone.outcome, alone.method_gone, together[0].outcome) == (Outcome.DECLINED, True, Outcome.DECLINED)
    assert status.outcome == Outcome.UNKNOWN
    assert not SandboxCharge.objects.filter(order_id__startswith="gone-").exists()
