"""The built-in sandbox: a card gateway and LINE Pay, emulated in this process with no outside service.

Two halves, kept apart as a real gateway and its merchant are:
- the gateway's side (`tokenise_card`, `linepay_api`, `charge_card_token`): what TapPay or LINE Pay
  would do on their servers, with its own tables (SandboxCard, SandboxLinePayTransaction);
- the merchant's adapter (`SandboxGateway`), which speaks to it in LINE Pay v3's request and
  response shapes, so the real LINE Pay adapter drops in behind the same interface.

Card numbers reach only `tokenise_card`, which keeps brand, last four and the test behaviour.
"""

import contextlib
import os
import queue
import secrets
import threading
import time
from datetime import date

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from accounts.audit import move_status, move_statuses
from payments.gateways import (
    ChargeRequest,
    ChargeResult,
    GatewayError,
    LinePayApproval,
    LinePayRequest,
    Outcome,
    SavedCard,
    charge_concurrently,
    charge_or_unknown,
    in_charge_pool,
)
from payments.gateways.linepay import METHOD_GONE, READ_BACK, preapproved_pay_body, request_body
from payments.models import MethodKind, SandboxCard, SandboxCharge, SandboxLinePayTransaction, SandboxRefund

# Test cards (any future expiry, any 3-digit CVC). Other Luhn-valid Visa, Mastercard or JCB numbers succeed.
# "timeout": the charge goes through at the gateway but its answer is lost on the way back.
TEST_CARDS = {
    "4242424242424242": "success",
    "4000000000000119": "timeout",
    "5555555555554444": "success",
    "3530111333300000": "success",
    "4000000000000002": "declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
}
# The cards bound to LINE Pay in the sandbox's "LINE app": masked number, brand, behaviour.
LINEPAY_CARDS = [
    ("**** **** **** 1111", "VISA", "success"),
    ("**** **** **** 0000", "JCB", "success"),
    ("**** **** **** 0002", "VISA", "declined"),
    ("**** **** **** 9995", "MASTER", "insufficient_funds"),
]
LINEPAY_CARD_BY_MASK = {card[0]: card for card in LINEPAY_CARDS}
DECLINE_REASONS = {
    "declined": _("The card issuer declined the payment. Use another card or contact the bank."),
    "insufficient_funds": _("The card has insufficient funds or credit. Use another card."),
    "expired_card": _("The card has expired. Register a new payment method."),
}
# LINE Pay v3 return codes the sandbox answers with (shared/reference domain-facts §2.7).
LINEPAY_CODES = {"success": "0000", "declined": "1281", "insufficient_funds": "1288", "expired_card": "1287"}


class CardError(GatewayError):
    pass


# ---- the gateway's side ---------------------------------------------------------------------


def ascii_digits(text: str) -> bool:
    """Only 0-9: str.isdigit() also takes ² or ٣, which int() refuses or reads as another number."""
    return text.isascii() and text.isdigit()


@sensitive_variables()
def luhn_valid(number: str) -> bool:
    if not ascii_digits(number):
        return False
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


@sensitive_variables()
def card_brand(number: str) -> str | None:
    if number.startswith("4"):
        return "visa"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if 3528 <= int(number[:4]) <= 3589:
        return "jcb"
    return None


@sensitive_variables()
def tokenise_card(*, number: str, expiry: str, cvc: str, today: date) -> SandboxCard:
    """What the hosted fields post to: check the card, keep only what a merchant may see, return a token.

    The number and CVC are hidden from error reports (sensitive_variables), in this function and those it calls.
    """
    number = "".join(ch for ch in number if ch not in " -")  # the separators people type; anything else is wrong
    if not 13 <= len(number) <= 19 or not luhn_valid(number):
        raise CardError(_("The card number is not valid. Check the digits."), code="number")
    brand = card_brand(number)
    if brand is None:
        raise CardError(_("Only Visa, Mastercard and JCB cards are accepted."), code="brand")
    month, year = parse_expiry(expiry)
    if (year, month) < (today.year, today.month):
        raise CardError(_("The expiry date has passed."), code="expiry")
    if not (ascii_digits(cvc) and len(cvc) == 3):
        raise CardError(_("The security code (CVC) is the 3 digits on the back of the card."), code="cvc")
    return SandboxCard.objects.create(
        one_time_token=f"sbx_ot_{secrets.token_hex(16)}",
        saved_token=f"sbx_card_{secrets.token_hex(16)}",
        brand=brand,
        last_four=number[-4:],
        expiry_month=month,
        expiry_year=year,
        behaviour=TEST_CARDS.get(number, "success"),
    )


@sensitive_variables()
def parse_expiry(expiry: str) -> tuple[int, int]:
    parts = expiry.replace(" ", "").split("/")
    if len(parts) != 2 or not all(ascii_digits(p) and len(p) <= 4 for p in parts) or not 1 <= int(parts[0]) <= 12:
        raise CardError(_("Enter the expiry date as MM/YY."), code="expiry_format")
    year = int(parts[1])
    return int(parts[0]), year + 2000 if year < 100 else year


def pause_like_a_gateway() -> None:
    delay = getattr(settings, "SANDBOX_CHARGE_DELAY_MS", 0)
    if delay and not getattr(_desk_thread, "active", False):  # the desk answers what has waited already
        time.sleep(delay / 1000)


_desk_thread = threading.local()
_desks: dict[int, "_Desk"] = {}
_desks_lock = threading.Lock()


class _Desk:
    """The sandbox's server side for the threads of a charge pool: one thread of this process, with one
    database connection, answers their orders once each has waited out the delay in its own thread (the card
    orders waiting together in one batch). A real gateway's server keeps no connection of ours; without the
    desk, each of up to PAYMENTS_MAX_IN_FLIGHT threads a worker would hold a database connection of its own."""

    def __init__(self):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="sandbox-desk", daemon=True).start()

    def call(self, work, card_order: tuple | None = None):
        """`work()` at the desk, or with `card_order` (token, amount, order ID) its answer from charge_card_tokens."""
        done, outcome = threading.Event(), {}
        self._calls.put((work, card_order, outcome, done))
        done.wait()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def _serve(self) -> None:
        _desk_thread.active = True
        while True:
            calls = [self._calls.get()]
            with contextlib.suppress(queue.Empty):
                while len(calls) < 200:
                    calls.append(self._calls.get_nowait())
            cards = [call for call in calls if call[1] is not None]
            try:
                answers = charge_card_tokens([call[1] for call in cards]) if cards else []
            except Exception as error:  # noqa: BLE001 - raised again in each thread that asked
                answers = None
                for _work, _order, outcome, _done in cards:
                    outcome["error"] = error
            for (_work, _order, outcome, done), answer in zip(cards, answers or [None] * len(cards), strict=True):
                if answers is not None:
                    outcome["value"] = answer
                done.set()
            for work, order, outcome, done in calls:
                if order is not None:
                    continue
                try:
                    outcome["value"] = work()
                except Exception as error:  # noqa: BLE001 - raised again in the thread that asked
                    outcome["error"] = error
                finally:
                    done.set()


def at_the_desk(work, card_order: tuple | None = None):
    """`work()` on this process's sandbox desk (see _Desk); a card order is answered with the others waiting."""
    with _desks_lock:
        desk = _desks.get(os.getpid()) or _desks.setdefault(os.getpid(), _Desk())
    return desk.call(work, card_order)


def charge_card_token(*, saved_token: str, amount: int, order_id: str) -> dict:
    """Pay by card token, answered as TapPay does: status 0 and a rec_trade_id, or an error status.

    One order is charged once: asked again, the sandbox gives the first answer.
    """
    pause_like_a_gateway()
    return charge_card_tokens([(saved_token, amount, order_id)])[0]


def charge_card_tokens(orders: list[tuple[str, int, str]]) -> list[dict]:
    """`charge_card_token` for many (token, amount, order ID) at once: the sandbox's batch endpoint."""
    cards = {card.saved_token: card for card in SandboxCard.objects.filter(saved_token__in={o[0] for o in orders})}
    fresh, records = {}, []
    for token, amount, order_id in orders:
        card = cards.get(token)
        if card is None:
            continue
        if card.behaviour in ("success", "timeout"):
            answer = {"status": 0, "rec_trade_id": f"D{secrets.token_hex(8).upper()}", "order_number": order_id}
        else:
            answer = {"status": 10005, "msg": card.behaviour}
        fresh[order_id] = answer
        records.append(
            SandboxCharge(
                order_id=order_id,
                amount=amount,
                succeeded=answer["status"] == 0,
                reference=answer.get("rec_trade_id", ""),
                answer=answer,
            )
        )
    SandboxCharge.objects.bulk_create(records, ignore_conflicts=True)  # an order seen before keeps its first answer
    recorded = dict(SandboxCharge.objects.filter(order_id__in=list(fresh)).values_list("order_id", "answer"))
    answers = []
    for token, _amount, order_id in orders:
        if order_id not in fresh:
            answers.append({"status": 10003, "msg": "card token not found"})
        elif cards[token].behaviour == "timeout" and recorded[order_id] == fresh[order_id]:
            answers.append({"status": -1, "msg": "timeout"})  # charged, but the answer never reaches the merchant
        else:
            answers.append(recorded[order_id])
    return answers


def _record_charge(order_id: str, amount: int, succeeded: bool, reference: str, answer: dict) -> SandboxCharge:
    charge, _created = SandboxCharge.objects.get_or_create(
        order_id=order_id,
        defaults={"amount": amount, "succeeded": succeeded, "reference": reference, "answer": answer},
    )
    return charge


def charge_record(order_id: str) -> dict:
    """The record query: what the sandbox did with an order, or status 404 when it never saw it."""
    charge = SandboxCharge.objects.filter(order_id=order_id).first()
    if charge is None:
        return {"status": 404, "msg": "no such order"}
    return {"status": 0, "succeeded": charge.succeeded, "reference": charge.reference, "amount": charge.amount}


def new_transaction_id() -> str:
    """LINE Pay's transactionId: a 19-digit number, kept as a string so no float ever rounds it."""
    return str(secrets.randbelow(9 * 10**18) + 10**18)


def linepay_api(method: str, path: str, body: dict | None = None) -> dict:
    """The sandbox's LINE Pay v3 server: the paths and JSON of the real API, answered in-process."""
    parts = path.strip("/").split("/")
    if "preapprovedPay" in parts and (len(parts) < 5 or not parts[3]):  # an empty regKey matches nothing
        return {"returnCode": "1190", "returnMessage": "regKey does not exist."}
    if method == "GET" and path == "/v3/payments":
        return _linepay_payment_details((body or {}).get("orderId", ""))
    if method == "POST" and path == "/v3/payments/request":
        return _linepay_request(body)
    if method == "POST" and parts[:2] == ["v3", "payments"] and parts[-1] == "confirm":
        return _linepay_confirm(parts[2], body)
    if method == "POST" and parts[:3] == ["v3", "payments", "preapprovedPay"] and parts[-1] == "payment":
        return _linepay_preapproved_pay(parts[3], body)
    if method == "GET" and parts[:3] == ["v3", "payments", "preapprovedPay"] and parts[-1] == "check":
        return _linepay_check(parts[3])
    if method == "POST" and parts[:3] == ["v3", "payments", "preapprovedPay"] and parts[-1] == "expire":
        move_statuses(
            SandboxLinePayTransaction.objects.filter(reg_key=parts[3]), from_statuses=["confirmed"], to_status="expired"
        )
        return {"returnCode": "0000", "returnMessage": "Success."}
    return {"returnCode": "2101", "returnMessage": "Parameter error."}


def _linepay_request(body: dict) -> dict:
    if body.get("options", {}).get("payment", {}).get("payType") != "PREAPPROVED":
        return {"returnCode": "2101", "returnMessage": "Parameter error."}
    tx = SandboxLinePayTransaction.objects.create(
        transaction_id=new_transaction_id(),
        order_id=body["orderId"],
        amount=body["amount"],
        confirm_url=body["redirectUrls"]["confirmUrl"],
        cancel_url=body["redirectUrls"]["cancelUrl"],
    )
    url = reverse("sandbox:linepay_approval", args=[tx.transaction_id])
    return {
        "returnCode": "0000",
        "returnMessage": "Success.",
        "info": {
            "transactionId": tx.transaction_id,
            "paymentAccessToken": secrets.token_hex(6),
            "paymentUrl": {"web": url, "app": url},
        },
    }


def _linepay_confirm(transaction_id: str, body: dict) -> dict:
    with transaction.atomic():
        tx = SandboxLinePayTransaction.objects.select_for_update().filter(transaction_id=transaction_id).first()
        if tx is None or tx.status not in ("approved", "confirmed"):
            return {"returnCode": "1150", "returnMessage": "Transaction record not found."}
        if body.get("amount") != tx.amount:
            return {"returnCode": "1153", "returnMessage": "Payment amount differs."}
        if tx.status == "approved":
            move_status(tx, "confirmed")
            tx.reg_key = f"{secrets.randbelow(9 * 10**14) + 10**14}"
            tx.save(update_fields=["status", "reg_key"])
    masked, brand, _behaviour = LINEPAY_CARD_BY_MASK[tx.card]
    return {
        "returnCode": "0000",
        "returnMessage": "Success.",
        "info": {
            "orderId": tx.order_id,
            "transactionId": tx.transaction_id,
            "regKey": tx.reg_key,
            "payInfo": [
                {
                    "method": "CREDIT_CARD",
                    "amount": tx.amount,
                    "creditCardBrand": brand,
                    "maskedCreditCardNumber": masked,
                }
            ],
        },
    }


def _linepay_check(reg_key: str) -> dict:
    tx = SandboxLinePayTransaction.objects.filter(reg_key=reg_key).first()
    if tx is None:
        return {"returnCode": "1190", "returnMessage": "regKey does not exist."}
    if tx.status == "expired":
        return {"returnCode": "1193", "returnMessage": "regKey expired."}
    return {"returnCode": "0000", "returnMessage": "Success."}


def _linepay_preapproved_pay(reg_key: str, body: dict) -> dict:
    pause_like_a_gateway()
    tx = SandboxLinePayTransaction.objects.filter(reg_key=reg_key).first()
    if tx is None:
        return {"returnCode": "1190", "returnMessage": "regKey does not exist."}
    if tx.status == "expired":
        return {"returnCode": "1193", "returnMessage": "regKey expired."}
    if SandboxCharge.objects.filter(order_id=body["orderId"]).exists():
        return {"returnCode": "1172", "returnMessage": "Existing same orderId."}
    _masked, _brand, behaviour = LINEPAY_CARD_BY_MASK[tx.card]
    code = LINEPAY_CODES[behaviour]
    if code != "0000":
        answer = {"returnCode": code, "returnMessage": behaviour}
    else:
        answer = {
            "returnCode": "0000",
            "returnMessage": "Success.",
            "info": {
                "orderId": body["orderId"],
                "transactionId": new_transaction_id(),
                "transactionDate": "2026-01-01T00:00:00Z",
            },
        }
    reference = answer.get("info", {}).get("transactionId", "")
    _record_charge(body["orderId"], body["amount"], code == "0000", reference, answer)
    return answer


def _linepay_payment_details(order_id: str) -> dict:
    """GET /v3/payments?orderId=…: captured payments only, as LINE Pay answers."""
    charge = SandboxCharge.objects.filter(order_id=order_id, succeeded=True).first()
    if charge is None:
        return {"returnCode": "1150", "returnMessage": "Transaction record not found."}
    return {
        "returnCode": "0000",
        "returnMessage": "Success.",
        "info": [{"transactionId": charge.reference, "orderId": order_id, "payStatus": "CAPTURE"}],
    }


# ---- the merchant's adapter -----------------------------------------------------------------


class SandboxGateway:
    name = "sandbox"
    card_fields_url_name = "sandbox:card_fields"

    def save_card(self, *, one_time_token: str, cardholder: dict | None = None) -> SavedCard:
        with transaction.atomic():
            card = SandboxCard.objects.select_for_update().filter(one_time_token=one_time_token).first()
            if card is None or card.used:
                raise GatewayError(_("The card form expired. Enter the card again."), code="token")
            card.used = True
            card.save(update_fields=["used"])
        return SavedCard(card.saved_token, card.brand, card.last_four, card.expiry_month, card.expiry_year)

    def linepay_request(
        self, *, order_id: str, amount_twd: int, product_name: str, confirm_url: str, cancel_url: str
    ) -> LinePayRequest:
        body = request_body(
            order_id=order_id,
            amount_twd=amount_twd,
            product_name=product_name,
            confirm_url=confirm_url,
            cancel_url=cancel_url,
        )
        answer = linepay_api("POST", "/v3/payments/request", body)
        if answer["returnCode"] != "0000":
            raise GatewayError(_("LINE Pay refused the request (%(code)s).") % {"code": answer["returnCode"]})
        info = answer["info"]
        return LinePayRequest(transaction_id=str(info["transactionId"]), payment_url=info["paymentUrl"]["web"])

    def linepay_confirm(self, *, transaction_id: str, amount_twd: int) -> LinePayApproval:
        answer = linepay_api(
            "POST", f"/v3/payments/{transaction_id}/confirm", {"amount": amount_twd, "currency": "TWD"}
        )
        if answer["returnCode"] != "0000":
            raise GatewayError(_("LINE Pay did not confirm (%(code)s).") % {"code": answer["returnCode"]})
        info = answer["info"]
        return LinePayApproval(reg_key=info["regKey"], masked_card=info["payInfo"][0]["maskedCreditCardNumber"])

    def linepay_check(self, *, reg_key: str, credit_card_auth: bool = False) -> bool:
        """As LINE Pay's check: False for a regKey it does not know (1190) or that expired (1193)."""
        code = linepay_api("GET", f"/v3/payments/preapprovedPay/{reg_key}/check")["returnCode"]
        if code in ("1190", "1193"):
            return False
        if code != "0000":
            raise GatewayError(_("LINE Pay refused the request (%(code)s).") % {"code": code}, code=code)
        return True

    def linepay_expire(self, *, reg_key: str) -> None:
        linepay_api("POST", f"/v3/payments/preapprovedPay/{reg_key}/expire", {})

    def charge(self, *, method, amount_twd: int, order_id: str, description: str) -> ChargeResult:
        if in_charge_pool() and settings.SANDBOX_CHARGE_DELAY_MS:  # the wait here, the gateway's work at its desk
            pause_like_a_gateway()
            if method.kind == MethodKind.CARD:
                return self._card_result(at_the_desk(None, (method.gateway_token, amount_twd, order_id)))
            return at_the_desk(
                lambda: self.charge(method=method, amount_twd=amount_twd, order_id=order_id, description=description)
            )
        if method.kind == MethodKind.LINEPAY:
            body = preapproved_pay_body(amount_twd=amount_twd, order_id=order_id, description=description)
            answer = linepay_api("POST", f"/v3/payments/preapprovedPay/{method.gateway_token}/payment", body)
            code = answer["returnCode"]
            if code == "0000":
                return ChargeResult(Outcome.SUCCEEDED, reference=str(answer["info"]["transactionId"]))
            if code in READ_BACK:
                return self._linepay_read_back(order_id)
            behaviour = answer["returnMessage"] if answer["returnMessage"] in DECLINE_REASONS else "declined"
            return ChargeResult(
                Outcome.DECLINED, reason=str(DECLINE_REASONS[behaviour]) + f" ({code})", method_gone=code in METHOD_GONE
            )
        answer = charge_card_token(saved_token=method.gateway_token, amount=amount_twd, order_id=order_id)
        return self._card_result(answer)

    @property
    def orders_per_call(self) -> int | None:
        """All of them in one batch request; with a delay, one request per order, as a real gateway."""
        return settings.PAYMENTS_MAX_IN_FLIGHT if settings.SANDBOX_CHARGE_DELAY_MS else None

    def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        """Many charges: card orders in one batch request, LINE Pay ones each in turn.

        With SANDBOX_CHARGE_DELAY_MS set, each order takes its time, PAYMENTS_MAX_IN_FLIGHT at once, as
        with a real gateway's one request per order.
        """
        if settings.SANDBOX_CHARGE_DELAY_MS:
            return charge_concurrently(self.charge, requests)
        cards = [request for request in requests if request.method.kind == MethodKind.CARD]
        answers = charge_card_tokens([(r.method.gateway_token, r.amount_twd, r.order_id) for r in cards])
        by_order = {request.order_id: self._card_result(answer) for request, answer in zip(cards, answers, strict=True)}
        for r in requests:  # LINE Pay orders, each in turn
            if r.order_id not in by_order:
                by_order[r.order_id] = charge_or_unknown(self.charge, r)
        return [by_order[request.order_id] for request in requests]

    @staticmethod
    def _card_result(answer: dict) -> ChargeResult:
        if answer["status"] == 0:
            return ChargeResult(Outcome.SUCCEEDED, reference=answer["rec_trade_id"])
        if answer["status"] == -1:
            return ChargeResult(Outcome.UNKNOWN, reason=str(_("The gateway did not answer in time.")))
        behaviour = answer["msg"] if answer["msg"] in DECLINE_REASONS else "declined"
        return ChargeResult(
            Outcome.DECLINED, reason=str(DECLINE_REASONS[behaviour]), method_gone=behaviour == "expired_card"
        )

    def charge_status(self, *, method, order_id: str) -> ChargeResult:
        """What became of an order: read back from the gateway, never guessed (reconciliation)."""
        if method.kind == MethodKind.LINEPAY:
            return self._linepay_read_back(order_id, absent_if_missing=True)
        record = charge_record(order_id)
        if record["status"] == 404:
            return ChargeResult(Outcome.ABSENT)
        if record["succeeded"]:
            return ChargeResult(Outcome.SUCCEEDED, reference=record["reference"])
        return ChargeResult(Outcome.DECLINED, reason=str(DECLINE_REASONS["declined"]))

    def _linepay_read_back(self, order_id: str, *, absent_if_missing: bool = False) -> ChargeResult:
        # After 1172 (same orderId) or 1198 (duplicate call) the real result is read back, never guessed.
        answer = linepay_api("GET", "/v3/payments", {"orderId": order_id})
        if answer["returnCode"] == "0000":
            return ChargeResult(Outcome.SUCCEEDED, reference=str(answer["info"][0]["transactionId"]))
        if absent_if_missing:
            return ChargeResult(Outcome.ABSENT)
        return ChargeResult(Outcome.UNKNOWN, reason=str(_("LINE Pay has no record of this payment yet.")))

    def refund(self, *, method, reference: str, amount_twd: int | None = None, refund_key: str = "") -> ChargeResult:
        """Give money back on a payment the sandbox made (by its reference), as a real gateway does: never more
        than is left of it, and a second request with the same refund key gets the first one's answer."""
        with transaction.atomic():
            charge = SandboxCharge.objects.select_for_update().filter(reference=reference, succeeded=True).first()
            if charge is None:
                return ChargeResult(Outcome.DECLINED, reason=str(_("The gateway has no such payment to refund.")))
            done = charge.refunds.filter(refund_key=refund_key).first() if refund_key else None
            if done is not None:
                return ChargeResult(Outcome.SUCCEEDED, reference=done.reference)
            left = charge.amount - (charge.refunds.aggregate(total=Sum("amount"))["total"] or 0)
            amount = left if amount_twd is None else amount_twd
            if not 0 < amount <= left:
                return ChargeResult(Outcome.DECLINED, reason=str(_("The refund is more than is left of the payment.")))
            made = SandboxRefund.objects.create(
                refund_key=refund_key or f"anonymous-{secrets.token_hex(8)}",
                charge=charge,
                amount=amount,
                reference=f"R{secrets.token_hex(8).upper()}",
            )
        return ChargeResult(Outcome.SUCCEEDED, reference=made.reference)

    def refund_status(self, *, method, reference: str, amount_twd: int, refund_key: str) -> ChargeResult:
        """What became of a refund whose answer was lost: made (with its reference), or never received."""
        made = SandboxRefund.objects.filter(refund_key=refund_key, charge__reference=reference).first()
        if made is None:
            return ChargeResult(Outcome.ABSENT)
        return ChargeResult(Outcome.SUCCEEDED, reference=made.reference)
