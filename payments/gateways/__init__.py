"""Payment gateways behind one interface (SPEC §5). `gateway()` returns the router to the enabled ones.

Each adapter turns its protocol's answers into the outcomes below; nothing outside this package
knows a gateway's return codes.
"""

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, models
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
class ChargeRequest:
    """One order for `charge_many`: the arguments of `charge`."""

    method: object
    amount_twd: int
    order_id: str
    description: str


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


class NoAnswer(Exception):
    """A time-out or a connection error: the call may or may not have reached the gateway."""


logger = logging.getLogger(__name__)


# ---- what the real adapters' HTTP clients share ----


def api_base(configured: str, *, use_sandbox: bool, sandbox: str, production: str) -> str:
    """A gateway's API root: the configured one (a local fake in tests), else its sandbox or production."""
    return (configured or (sandbox if use_sandbox else production)).rstrip("/")


def http_timeout() -> tuple[float, float]:
    """(connect, read) seconds for every gateway call."""
    return settings.GATEWAY_CONNECT_TIMEOUT_SECONDS, settings.GATEWAY_TIMEOUT_SECONDS


def parse_answer(content: bytes) -> dict:
    """JSON with no float anywhere: 19-digit IDs and amounts stay exact."""
    return json.loads(content, parse_float=Decimal)


def charge_concurrently(charge, requests: list[ChargeRequest]) -> list[ChargeResult]:
    """`charge_many` for a gateway that takes one order per request: up to PAYMENTS_MAX_IN_FLIGHT at once.

    Each call is a network round trip that mostly waits, so threads overlap the waits. An exception
    from a call is an answer never received: UNKNOWN, for reconciliation to read back.
    """
    in_flight = min(settings.PAYMENTS_MAX_IN_FLIGHT, len(requests))
    if in_flight <= 1:
        return [charge_or_unknown(charge, request) for request in requests]
    with ThreadPoolExecutor(in_flight, thread_name_prefix="charge") as pool:
        return list(pool.map(lambda request: _charge_in_thread(charge, request), requests))


def charge_or_unknown(charge, request: ChargeRequest) -> ChargeResult:
    try:
        return charge(
            method=request.method,
            amount_twd=request.amount_twd,
            order_id=request.order_id,
            description=request.description,
        )
    except Exception:  # noqa: BLE001 - the order may or may not have reached the gateway: never guessed
        logger.exception("charge of order %s got no answer", request.order_id)
        return ChargeResult(Outcome.UNKNOWN, reason="the gateway call failed")


def _charge_in_thread(charge, request: ChargeRequest) -> ChargeResult:
    try:
        return charge_or_unknown(charge, request)
    finally:
        connection.close()  # the pool thread's own connection, if the adapter opened one


class OneOrderPerRequest:
    """For adapters whose API charges one order per HTTP request (LINE Pay, TapPay)."""

    @property
    def orders_per_call(self) -> int:
        """How many orders a caller should hand `charge_many` at once: the requests in flight together."""
        return settings.PAYMENTS_MAX_IN_FLIGHT

    def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        return charge_concurrently(self.charge, requests)


ADAPTERS = {
    "sandbox": "payments.gateways.sandbox.SandboxGateway",
    "linepay": "payments.gateways.linepay.LinePayGateway",
    "tappay": "payments.gateways.tappay.TapPayGateway",
}
# With a real gateway on, each kind of method goes to the gateway that speaks it: LINE Pay regKeys to
# LINE Pay, card tokens to TapPay. The sandbox does both itself.
REAL_ADAPTER_FOR_KIND = {"linepay": "linepay", "card": "tappay"}


def gateway_name_for(kind: str) -> str:
    """The gateway that keeps (and will charge) a new method of this kind: what a PaymentMethod records."""
    if settings.PAYMENTS_GATEWAY == "sandbox":
        return "sandbox"
    return REAL_ADAPTER_FOR_KIND[kind]


def enabled_gateways() -> set[str]:
    """The sandbox alone, or the real gateways together: never a mix, so no sandbox token reaches a real one."""
    return {"sandbox"} if settings.PAYMENTS_GATEWAY == "sandbox" else set(REAL_ADAPTER_FOR_KIND.values())


def adapter(name: str):
    return import_string(ADAPTERS[name])()


class GatewayRouter:
    """The one interface the services call. Each call goes to the adapter that speaks it:

    - a charge, its read-back, a refund and its read-back: the gateway stored on the payment method;
    - adding a card: the card gateway; registering, checking or expiring LINE Pay: LINE Pay's.

    Adapters only speak their own protocol; this is the only place that chooses between them. A method kept by a
    gateway that is not enabled (a sandbox card once real gateways are on) is declined as gone, never sent.
    """

    def __init__(self):
        self.name = settings.PAYMENTS_GATEWAY
        self._main = adapter(self.name)

    @property
    def orders_per_call(self):
        return getattr(self._main, "orders_per_call", None)

    @staticmethod
    def keeper_name(method) -> str | None:
        """The enabled gateway that keeps `method`, or None when the one that keeps it is not enabled."""
        name = method.gateway or gateway_name_for(method.kind)
        return name if name in enabled_gateways() else None

    def keeper_of(self, method):
        name = self.keeper_name(method)
        return adapter(name) if name else None

    def for_kind(self, kind: str):
        return adapter(gateway_name_for(kind))

    # ---- adding methods ----

    @property
    def card_fields_url_name(self):
        return getattr(self.for_kind("card"), "card_fields_url_name", "")

    @property
    def card_fields_template(self):
        return getattr(self.for_kind("card"), "card_fields_template", "")

    def save_card(self, **kwargs) -> SavedCard:
        return self.for_kind("card").save_card(**kwargs)

    def linepay_request(self, **kwargs) -> LinePayRequest:
        return self.for_kind("linepay").linepay_request(**kwargs)

    def linepay_confirm(self, **kwargs) -> LinePayApproval:
        return self.for_kind("linepay").linepay_confirm(**kwargs)

    def linepay_check(self, **kwargs) -> bool:
        return self.for_kind("linepay").linepay_check(**kwargs)

    def linepay_expire(self, **kwargs) -> None:
        return self.for_kind("linepay").linepay_expire(**kwargs)

    # ---- money ----

    def charge(self, *, method, **kwargs) -> ChargeResult:
        keeper = self.keeper_of(method)
        return keeper.charge(method=method, **kwargs) if keeper else GONE

    def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        """Each gateway's orders go to it together (its own way: one call, or several in flight); answers in order."""
        results: list[ChargeResult | None] = [GONE] * len(requests)
        by_keeper: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            name = self.keeper_name(request.method)
            if name:
                by_keeper.setdefault(name, []).append(index)
        for name, indexes in by_keeper.items():
            answers = adapter(name).charge_many([requests[i] for i in indexes])
            for index, answer in zip(indexes, answers, strict=True):
                results[index] = answer
        return results

    def charge_status(self, *, method, **kwargs) -> ChargeResult:
        keeper = self.keeper_of(method)
        return keeper.charge_status(method=method, **kwargs) if keeper else UNREACHABLE

    def refund(self, *, method, **kwargs) -> ChargeResult:
        keeper = self.keeper_of(method)
        return keeper.refund(method=method, **kwargs) if keeper else UNREACHABLE

    def refund_status(self, *, method, **kwargs) -> ChargeResult:
        keeper = self.keeper_of(method)
        return keeper.refund_status(method=method, **kwargs) if keeper else UNREACHABLE


GONE = ChargeResult(
    Outcome.DECLINED, reason="the gateway that keeps this payment method is not enabled", method_gone=True
)
UNREACHABLE = ChargeResult(Outcome.UNKNOWN, reason="the gateway that keeps this payment method is not enabled")


def gateway() -> GatewayRouter:
    """The payment gateways, behind one router (see GatewayRouter)."""
    if settings.PAYMENTS_GATEWAY not in ADAPTERS:
        raise GatewayError(f"PAYMENTS_GATEWAY={settings.PAYMENTS_GATEWAY!r} has no adapter yet", code="no_adapter")
    return GatewayRouter()
