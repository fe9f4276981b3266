"""Payment gateways behind one interface (SPEC §5). `gateway()` returns the router to the enabled ones.

Each adapter turns its protocol's answers into the outcomes below; nothing outside this package
knows a gateway's return codes.
"""

import json
import logging
import math
import os
import queue
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import requests
from django.conf import settings
from django.db import connection, models
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from requests.adapters import HTTPAdapter

from payments.models import MethodStatus


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


def max_in_flight(name: str) -> int:
    """How many orders may be at gateway `name` at once, per worker: PAYMENTS_MAX_IN_FLIGHT_<NAME> for a real
    gateway (LINE Pay, TapPay), which defaults to PAYMENTS_MAX_IN_FLIGHT; that one for the sandbox."""
    return max(1, getattr(settings, f"PAYMENTS_MAX_IN_FLIGHT_{name.upper()}", settings.PAYMENTS_MAX_IN_FLIGHT))


_sessions: dict[tuple[int, str], requests.Session] = {}
_sessions_lock = threading.Lock()


def http_session(name: str) -> requests.Session:
    """Gateway `name`'s HTTP session in this process: its connections kept alive and reused, a pool of as many as
    it may have requests in flight. Shared by the threads of a charge pool (urllib3's pool is thread-safe; no
    cookie is kept). A forked worker makes its own: sockets are never shared across processes."""
    key = (os.getpid(), name)
    session = _sessions.get(key)
    if session is None:
        with _sessions_lock:
            session = _sessions.get(key)
            if session is None:
                session = requests.Session()
                session.cookies.set_policy(_NoCookies())
                size = max_in_flight(name)
                http_adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size, max_retries=0)
                session.mount("https://", http_adapter)
                session.mount("http://", http_adapter)
                _sessions[key] = session
    return session


class _NoCookies:
    """A cookie policy that keeps none: the gateways' APIs need none, and the session is shared by threads."""

    netscape, rfc2965, hide_cookie2 = True, False, False

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False

    def domain_return_ok(self, domain, request):
        return False

    def path_return_ok(self, path, request):
        return False


_pool_thread = threading.local()


def in_charge_pool() -> bool:
    """Whether this thread is one of a ChargePool's (the sandbox then keeps its own tables off this thread)."""
    return getattr(_pool_thread, "active", False)


class ChargePool:
    """Up to `size` orders at one gateway at once, each sent as a slot frees up (a continuous pool: no order
    waits for a slower one). `send` hands an order over; its answer goes to `answers` as (tag, result).

    The threads start as orders come, and are told to stop by `close`. An order handed over but not sent yet
    when the pool is closed is never sent (its answer never comes). With `size` 1, each order is charged in the
    caller's thread, at once.
    """

    def __init__(self, charge, size: int, answers: queue.SimpleQueue):
        self._charge, self.size, self._answers = charge, size, answers
        self._orders: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closing = False
        self.outstanding = 0  # handed over and not answered yet (the caller's count: send adds, it subtracts)
        self.latency = 0.0  # seconds an order takes at the gateway, a moving average (0: none answered yet)

    def send(self, tag, request: ChargeRequest) -> None:
        self.outstanding += 1
        if self.size <= 1:
            self._answers.put((tag, charge_or_unknown(self._charge, request)))
            return
        self._orders.put((tag, request))
        if len(self._threads) < min(self.size, self.outstanding):
            thread = threading.Thread(target=self._work, name=f"charge-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        _pool_thread.active = True
        try:
            while (item := self._orders.get()) is not None:
                if self._closing:
                    continue  # closed: what is left is never sent
                tag, request = item
                began = time.monotonic()
                result = charge_or_unknown(self._charge, request)
                self.latency = (
                    0.8 * self.latency + 0.2 * (time.monotonic() - began) if self.latency else time.monotonic() - began
                )
                self._answers.put((tag, result))
        finally:
            connection.close()  # this thread's own connection, if the adapter opened one

    def close(self) -> None:
        """Stop: the orders in flight finish (their answers are kept in `answers`), the others are never sent."""
        self._closing = True
        for _thread in self._threads:
            self._orders.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []


def charge_concurrently(charge, requests: list[ChargeRequest], *, in_flight: int | None = None) -> list[ChargeResult]:
    """`charge_many` for a gateway that takes one order per request: up to `in_flight` (PAYMENTS_MAX_IN_FLIGHT)
    at once, each sent as a slot frees up.

    Each call is a network round trip that mostly waits, so threads overlap the waits. An exception
    from a call is an answer never received: UNKNOWN, for reconciliation to read back.
    """
    size = min(in_flight or settings.PAYMENTS_MAX_IN_FLIGHT, len(requests))
    answers: queue.SimpleQueue = queue.SimpleQueue()
    pool = ChargePool(charge, size, answers)
    try:
        for index, request in enumerate(requests):
            pool.send(index, request)
        results = [None] * len(requests)
        for _request in requests:
            index, result = answers.get()
            results[index] = result
        return results
    finally:
        pool.close()


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


class OneOrderPerRequest:
    """For adapters whose API charges one order per HTTP request (LINE Pay, TapPay)."""

    name = ""

    @property
    def orders_per_call(self) -> int:
        """How many orders a caller should hand `charge_many` at once: the requests in flight together."""
        return max_in_flight(self.name)

    def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        return charge_concurrently(self.charge, requests, in_flight=self.orders_per_call)


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

    def charge_pools(self) -> "ChargePools | None":
        """A continuous pool per enabled gateway, for a stream of orders; None when the gateway takes many
        orders in one call (the sandbox without a delay): `charge_many` them a batch at a time instead."""
        return ChargePools(self) if self.orders_per_call else None

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


AHEAD_SECONDS = 1.5  # orders handed to a pool wait at most about this long for a slot


class ChargePools:
    """Orders to the enabled gateways, each gateway up to its own in-flight count at once (`max_in_flight`), each
    order sent as a slot frees up. `room(name)` says how many more orders that gateway's pool takes now (those in
    flight, `size(name)`, and the rounds after them that leave within about AHEAD_SECONDS, at the latency seen
    so far); `send` hands one over; `answers` returns
    (tag, result) as they come. An order whose method no enabled gateway keeps is answered at once: declined as gone."""

    def __init__(self, router: "GatewayRouter"):
        self._router = router
        self._answers: queue.SimpleQueue = queue.SimpleQueue()
        self._pools: dict[str, ChargePool] = {}
        self.outstanding = 0

    def _pool(self, name: str) -> ChargePool:
        if name not in self._pools:
            keeper = self._router._main if name == self._router.name else adapter(name)
            self._pools[name] = ChargePool(keeper.charge, max_in_flight(name), self._answers)
        return self._pools[name]

    def size(self, name: str) -> int:
        return self._pool(name).size

    def room(self, name: str) -> int:
        pool = self._pool(name)
        rounds = min(16, 1 + math.ceil(AHEAD_SECONDS / pool.latency)) if pool.latency else 1
        return (1 + rounds) * pool.size - pool.outstanding

    def send(self, tag, request: ChargeRequest, name: str | None) -> None:
        self.outstanding += 1
        if name is None:
            self._answers.put((tag, GONE, None))
            return
        pool = self._pool(name)
        pool.send((tag, name), request)

    def answers(self, *, timeout: float | None) -> list[tuple]:
        """(tag, result) of the orders answered since the last call; waits up to `timeout` for the first."""
        found = []
        try:
            found.append(self._answers.get(timeout=timeout) if timeout else self._answers.get_nowait())
            while True:
                found.append(self._answers.get_nowait())
        except queue.Empty:
            pass
        done = []
        for item in found:
            if len(item) == 3:  # answered here: no gateway
                tag, result, _name = item
            else:
                (tag, name), result = item
                self._pools[name].outstanding -= 1
            self.outstanding -= 1
            done.append((tag, result))
        return done

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()


GONE = ChargeResult(
    Outcome.DECLINED, reason="the gateway that keeps this payment method is not enabled", method_gone=True
)
UNREACHABLE = ChargeResult(Outcome.UNKNOWN, reason="the gateway that keeps this payment method is not enabled")


def gateway() -> GatewayRouter:
    """The payment gateways, behind one router (see GatewayRouter)."""
    if settings.PAYMENTS_GATEWAY not in ADAPTERS:
        raise GatewayError(f"PAYMENTS_GATEWAY={settings.PAYMENTS_GATEWAY!r} has no adapter yet", code="no_adapter")
    return GatewayRouter()


def pending_charge_read_back(charge, *, description: str) -> ChargeResult:
    """What became of a pending charge's order (a lost answer, a process that died), never guessed: the gateway's
    own record of it; an order the gateway never saw is sent now, unless its method is no longer active (then
    declined: nothing is charged). A call that gets no answer is UNKNOWN, to be read back again later."""
    method = charge.payment_method
    result = gateway().charge_status(method=method, order_id=charge.idempotency_key)
    if result.outcome != Outcome.ABSENT:
        return result
    if method.status != MethodStatus.ACTIVE:  # removed or expired since: the order is not sent
        return ChargeResult(Outcome.DECLINED, reason="the payment method is no longer usable")
    request = ChargeRequest(method, charge.total_twd, charge.idempotency_key, description)
    return charge_or_unknown(gateway().charge, request)
