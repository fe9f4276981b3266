"""Payment gateways behind one interface (SPEC §5). `gateway()` returns the one the settings name.

Each adapter turns its protocol's answers into the outcomes below; nothing outside this package
knows a gateway's return codes.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    DECLINED = "declined", _("Declined")
    # The gateway did not say (a time-out, a duplicate answer): never guessed, settled by reconciliation.
    UNKNOWN = "unknown", _("Unknown")
    # Asked about an order, the gateway has none: nothing was charged, so charging it is safe.
    ABSENT = "absent", _("No such payment")


@dataclass(frozen=True)
class ChargeResult:
    outcome: Outcome
    reference: str = ""
    reason: str = ""
    method_gone: bool = False  # the card or regKey is expired or removed: ask the admins for a new one


@dataclass(frozen=True)
class SavedCard:
    token: str
    brand: str
    last_four: str
    expiry_month: int
    expiry_year: int


@dataclass(frozen=True)
class LinePayRequest:
    transaction_id: str
    payment_url: str


@dataclass(frozen=True)
class LinePayApproval:
    reg_key: str
    masked_card: str


class GatewayError(Exception):
    """The gateway refused a request; `message` is for the admin."""

    def __init__(self, message, *, code: str = ""):
        super().__init__(str(message))
        self.message = message
        self.code = code


ADAPTERS = {
    "sandbox": "payments.gateways.sandbox.SandboxGateway",
    "linepay": "payments.gateways.linepay.LinePayGateway",
    "tappay": "payments.gateways.tappay.TapPayGateway",
}
# With a real gateway on, each kind of method goes to the gateway that speaks it: LINE Pay regKeys to
# LINE Pay, card tokens to TapPay. The sandbox does both itself.
REAL_ADAPTER_FOR_KIND = {"linepay": "linepay", "card": "tappay"}


def gateway():
    name = settings.PAYMENTS_GATEWAY
    if name not in ADAPTERS:
        raise GatewayError(f"PAYMENTS_GATEWAY={name!r} has no adapter yet", code="no_adapter")
    return import_string(ADAPTERS[name])()


def partner_for(kind: str):
    """The real adapter for a kind of method ("card" or "linepay"), whichever PAYMENTS_GATEWAY names.

    Adapters also have `refund(method=, reference=, amount_twd=None) -> ChargeResult` (SUCCEEDED with the
    refund's reference, DECLINED with a reason, or UNKNOWN) and the LINE Pay one `linepay_check(reg_key=)`.
    """
    return import_string(ADAPTERS[REAL_ADAPTER_FOR_KIND[kind]])()


def gateway_name_for(kind: str) -> str:
    """The gateway that keeps (and will charge) a method of this kind: what a PaymentMethod records."""
    if settings.PAYMENTS_GATEWAY == "sandbox":
        return "sandbox"
    return REAL_ADAPTER_FOR_KIND[kind]
