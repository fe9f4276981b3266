"""Refunds through the sandbox gateway: recorded pending first, settled, and reconciled when the answer is lost."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from accounts.errors import ServiceError
from accounts.models import AuditRecord
from billing.checkout import checkout_purchase
from billing.refunds import charge_refund_through_gateway
from payments.gateways.sandbox import SandboxGateway
from payments.models import ChargeStatus, Refund, RefundStatus, SandboxRefund
from tests.helpers import ready_admin, start_checkout

pytestmark = pytest.mark.django_db


@pytest.fixture
def charge():
    """A NT$840 upgrade paid by a sandbox card."""
    return checkout_purchase(checkout=start_checkout(ready_admin()), expected_total_twd=840, actor=None).charge


def reconcile_later():
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        call_command("reconcile_payments")


def test_a_refund_is_recorded_pending_then_made_with_its_own_key(charge):
    # when staff refund NT$100
    refund = charge_refund_through_gateway(charge=charge, amount_twd=100, reason="客戶要求", actor=None)
    # then the gateway made one refund under our key, and we recorded it as made, with its audit trail
    made = SandboxRefund.objects.get()
    assert (made.refund_key, made.amount) == (refund.idempotency_key, 100)
    assert (refund.status, refund.gateway_reference) == (RefundStatus.SUCCEEDED, made.reference)
    actions = AuditRecord.objects.filter(object_type="payments.refund").values_list("action", flat=True)
    assert sorted(actions) == ["refund.start", "refund.succeeded"]


def test_the_sandbox_refuses_to_refund_more_than_is_left_as_real_gateways_do(charge):
    # given NT$800 of the NT$840 already refunded at the gateway
    gateway = SandboxGateway()
    gateway.refund(method=charge.payment_method, reference=charge.gateway_reference, amount_twd=800, refund_key="a")
    # when NT$41 more is asked of it, and then the same first refund again
    refused = gateway.refund(
        method=charge.payment_method, reference=charge.gateway_reference, amount_twd=41, refund_key="b"
    )
    repeated = gateway.refund(
        method=charge.payment_method, reference=charge.gateway_reference, amount_twd=800, refund_key="a"
    )
    # then the first is refused and the second is the first refund's answer, not a second refund
    assert refused.outcome == "declined"
    assert repeated.outcome == "succeeded"
    assert SandboxRefund.objects.count() == 1


def test_a_refund_whose_answer_was_lost_stays_pending_and_is_reconciled_once(charge, monkeypatch):
    # given a gateway that makes the refund but whose answer never arrives
    make = SandboxGateway.refund

    def answer_lost(self, **kwargs):
        make(self, **kwargs)
        raise ConnectionError("the connection dropped")

    monkeypatch.setattr(SandboxGateway, "refund", answer_lost)
    # when staff refund it all
    with pytest.raises(ServiceError) as unknown:
        charge_refund_through_gateway(charge=charge, amount_twd=None, reason="重複扣款", actor=None)
    # then the refund is pending, and a second refund is refused while it is
    assert unknown.value.code == "refund_unknown"
    assert Refund.objects.get().status == RefundStatus.PENDING
    with pytest.raises(ServiceError) as refused:
        charge_refund_through_gateway(charge=charge, amount_twd=1, reason="again", actor=None)
    assert refused.value.code == "refund_amount"
    # when reconciliation reads it back, twice
    monkeypatch.undo()
    reconcile_later()
    reconcile_later()
    # then it is made, once, and the charge is refunded
    refund = Refund.objects.get()
    assert (refund.status, SandboxRefund.objects.count()) == (RefundStatus.SUCCEEDED, 1)
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.REFUNDED


def test_a_refund_that_never_reached_the_gateway_is_reconciled_as_refused(charge, monkeypatch):
    # given a refund request lost on its way to the gateway
    def never_sent(self, **kwargs):
        raise ConnectionError("no route to the gateway")

    monkeypatch.setattr(SandboxGateway, "refund", never_sent)
    with pytest.raises(ServiceError):
        charge_refund_through_gateway(charge=charge, amount_twd=840, reason="客訴", actor=None)
    monkeypatch.undo()
    # when reconciliation asks the gateway
    reconcile_later()
    # then nothing was given back: the refund is refused and the whole charge may be refunded again
    assert Refund.objects.get().status == RefundStatus.FAILED
    charge.refresh_from_db()
    assert (charge.status, charge.refunded_twd) == (ChargeStatus.SUCCEEDED, 0)
    again = charge_refund_through_gateway(charge=charge, amount_twd=840, reason="客訴", actor=None)
    assert again.status == RefundStatus.SUCCEEDED
