"""A refund's checks have one home, payments.services.refund_start: billing's refund through the gateway uses it."""

import pytest

from accounts.errors import ServiceError
from billing.checkout import checkout_purchase
from billing.refunds import charge_refund_through_gateway
from payments.models import ChargeStatus, Refund, SandboxRefund
from payments.services import refund_start
from tests.helpers import ready_admin, start_checkout

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]


@pytest.fixture
def charge():
    """A NT$840 upgrade paid by a sandbox card."""
    return checkout_purchase(checkout=start_checkout(ready_admin()), expected_total_twd=840, actor=None).charge


@pytest.mark.parametrize("start", [refund_start, charge_refund_through_gateway], ids=["payments", "billing"])
def test_a_refund_without_a_reason_is_refused_by_either_door_and_nothing_is_recorded(charge, start):
    # when staff ask for a refund giving only spaces as the reason
    with pytest.raises(ServiceError) as refused:
        start(charge=charge, amount_twd=100, reason="   ", actor=None)
    # then it is refused with the one message, and neither we nor the gateway recorded anything
    assert refused.value.code == "reason"
    assert str(refused.value.message) == "Give the reason for the refund."
    assert not Refund.objects.exists()
    assert not SandboxRefund.objects.exists()
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.SUCCEEDED
