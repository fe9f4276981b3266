"""Giving money back: recorded pending, refunded at the gateway, then settled and the invoice corrected.

SPEC §4: a refund in the invoice's own period voids it, a later one issues an allowance. The refund is
recorded pending under the charge's lock before the gateway is called (with the refund's own key), so
staff clicking at once can never refund more than was paid, and every refund the gateway made is one of
ours. The gateway is called outside any transaction; an answer that never came leaves the refund pending
for `reconcile_payments`, which reads it back.
"""

import logging

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.errors import ServiceError
from invoices.issuing import invoice_correct_for_refund
from payments.gateways import ChargeResult, GatewayError, Outcome, gateway
from payments.models import Charge, Refund, RefundStatus
from payments.services import refund_settle, refund_start

logger = logging.getLogger(__name__)


def charge_refund_through_gateway(*, charge: Charge, amount_twd: int | None, reason: str, actor) -> Refund:
    """Refund `amount_twd` (all that is left when None) of a succeeded charge; refund_start checks the request."""
    refund = refund_start(charge=charge, amount_twd=amount_twd, reason=reason, actor=actor)
    refund = _settle(refund, _ask_gateway(refund), actor=actor)
    if refund.status == RefundStatus.PENDING:
        raise ServiceError(
            _(
                "The gateway's answer is not known. The refund stays pending and will be checked with "
                "the gateway; do not refund again."
            ),
            code="refund_unknown",
        )
    if refund.status == RefundStatus.FAILED:
        raise ServiceError(
            _("The gateway did not refund: %(reason)s") % {"reason": refund.failure_reason}, code="gateway_refused"
        )
    return refund


def refund_reconcile(*, refund: Refund) -> bool:
    """Settle a pending refund whose answer was lost, from the gateway's record. True when settled."""
    charge = refund.charge
    result = gateway().refund_status(
        method=charge.payment_method,
        reference=charge.gateway_reference,
        amount_twd=refund.amount_twd,
        refund_key=refund.idempotency_key,
    )
    if result.outcome == Outcome.ABSENT:  # never reached the gateway: nothing was given back
        result = ChargeResult(Outcome.DECLINED, reason=str(_("The refund did not reach the gateway.")))
    return _settle(refund, result, actor=None).status != RefundStatus.PENDING


def _ask_gateway(refund: Refund) -> ChargeResult:
    charge = refund.charge
    try:
        return gateway().refund(
            method=charge.payment_method,
            reference=charge.gateway_reference,
            amount_twd=refund.amount_twd,
            refund_key=refund.idempotency_key,
        )
    except GatewayError as error:  # refused before anything was sent (no adapter, bad credentials)
        return ChargeResult(Outcome.DECLINED, reason=str(error.message))
    except Exception:  # noqa: BLE001 - the request may or may not have reached the gateway: never guessed
        logger.exception("refund %s got no answer", refund.idempotency_key)
        return ChargeResult(Outcome.UNKNOWN)


def _settle(refund: Refund, result: ChargeResult, *, actor) -> Refund:
    """Record the gateway's answer; a refund made is then the invoice's void or allowance. The money comes
    first: an invoice that cannot be corrected yet (its number still pending) never undoes the record of a
    refund the gateway made. That fault is logged, and staff correct the invoice from the admin."""
    with transaction.atomic():
        refund = refund_settle(
            refund=refund,
            outcome=result.outcome,
            reference=result.reference,
            reason=result.reason or str(result.outcome),
            actor=actor,
        )
        if refund.status == RefundStatus.SUCCEEDED:
            try:
                with transaction.atomic():
                    invoice_correct_for_refund(refund=refund, actor=actor)
            except ServiceError:
                logger.exception("refund %s recorded; its invoice was not corrected", refund.idempotency_key)
    return refund
