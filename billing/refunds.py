"""Giving money back: the gateway refunds first, then the refund is recorded and the invoice corrected.

SPEC §4: a refund in the invoice's own period voids it, a later one issues an allowance. The gateway is
called outside any transaction; only a refund the gateway confirmed is recorded.
"""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from billing.errors import ServiceError
from invoices.issuing import invoice_correct_for_refund
from payments.gateways import GatewayError, Outcome, gateway
from payments.models import Charge, ChargeStatus, Refund
from payments.services import charge_refund


def charge_refund_through_gateway(*, charge: Charge, amount_twd: int | None, reason: str, actor) -> Refund:
    """Refund `amount_twd` (all that is left when None) of a succeeded charge."""
    if charge.status != ChargeStatus.SUCCEEDED:
        raise ServiceError(_("Only a succeeded charge can be refunded."), code="not_refundable")
    if not reason.strip():
        raise ServiceError(_("Give the reason for the refund."), code="reason")
    remaining = charge.total_twd - charge.refunded_twd
    amount = remaining if amount_twd is None else amount_twd
    if not 0 < amount <= remaining:
        raise ServiceError(_("A refund must be between NT$1 and the amount not yet refunded."), code="refund_amount")
    try:
        result = gateway().refund(method=charge.payment_method, reference=charge.gateway_reference, amount_twd=amount)
    except GatewayError as error:
        raise ServiceError(error.message, code="gateway_error") from None
    if result.outcome == Outcome.UNKNOWN:
        raise ServiceError(_("The gateway's answer is not known. Check the payment at the gateway before refunding "
                             "again."), code="refund_unknown")  # fmt: skip
    if result.outcome != Outcome.SUCCEEDED:
        raise ServiceError(_("The gateway did not refund: %(reason)s") % {"reason": result.reason or result.outcome},
                           code="gateway_refused")  # fmt: skip
    with transaction.atomic():
        refund = charge_refund(charge=charge, amount_twd=amount, reason=reason, actor=actor,
                               gateway_reference=result.reference)  # fmt: skip
        invoice_correct_for_refund(refund=refund, actor=actor)
    return refund
