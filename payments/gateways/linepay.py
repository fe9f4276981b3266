"""LINE Pay Online API v3 (domain-facts §2), behind the sandbox's interface.

- Registration: Request with payType=PREAPPROVED for NT$1 with capture=false, so Confirm only
  authorises; right after Confirm the authorisation is voided, so the admin is never charged for
  registering. Confirm gives the regKey (kept as PaymentMethod.gateway_token) and the masked card.
- Charges: preapproved pay (captured at once) with our charge's idempotency key as orderId. A
  time-out, a connection error, 1172 (same orderId) or 1198 (duplicate call) is settled by reading
  the order back through payment details; when it is still not there the answer is UNKNOWN, except
  after 1172: LINE Pay says the orderId is used, and a declined preapproved pay leaves no
  transaction for payment details to list, so a used orderId with no payment is a decline. That is
  how a decline whose answer was lost ends: recovery finds nothing (ABSENT), sends the order again,
  and LINE Pay's 1172 is the record that it was refused. (1198 with nothing listed stays UNKNOWN:
  LINE Pay may still be working on the first call.)
- Payment details is read by payStatus: CAPTURE or AUTHORIZATION is money taken (or held);
  VOIDED_AUTHORIZATION or EXPIRED_AUTHORIZATION is nothing taken, a decline; any other is UNKNOWN.
- Card methods are not LINE Pay's: the router sends them to TapPay (see `payments.gateways.GatewayRouter`).

Secrets stay out of logs and exceptions: only the endpoint's name, the order ID and the return
code are logged; the request path (which holds the regKey) never is.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import uuid
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from payments.gateways import (
    ChargeResult,
    GatewayError,
    LinePayApproval,
    LinePayRequest,
    NoAnswer,
    OneOrderPerRequest,
    Outcome,
    api_base,
    http_session,
    http_timeout,
    parse_answer,
)

logger = logging.getLogger(__name__)

PRODUCTION_BASE = "https://api-pay.line.me"
SANDBOX_BASE = "https://sandbox-api-pay.line.me"
SUCCESS = "0000"
ORDER_USED = "1172"  # a transaction with this orderId exists (or was refused): the order is spent
READ_BACK = {ORDER_USED, "1198"}
NOT_FOUND = "1150"
# Payment details' payStatus (domain-facts §2.7 sources): what took or holds the money, and what did not.
PAID = {"CAPTURE", "AUTHORIZATION"}
NOT_PAID = {"VOIDED_AUTHORIZATION", "EXPIRED_AUTHORIZATION"}
METHOD_GONE = {"1190", "1193", "1154", "1287"}
DECLINE_REASONS = [
    ({"1190", "1193"}, _("The LINE Pay authorisation (regKey) is expired or was removed. Register LINE Pay again.")),
    ({"1154"}, _("The card chosen for LINE Pay automatic payments is no longer available. Register LINE Pay again.")),
    ({"1287"}, _("The card bound to LINE Pay has expired. Register a new payment method.")),
    ({"1142", "1288", "1289", "1290"}, _("The card has insufficient funds or credit. Use another card.")),
    ({"1280"}, _("The card company had a temporary error. Try again later.")),
    ({"1110", "1281", "1282", "1283", "1296", "1298"},
     _("The card issuer declined the payment. Use another card or contact the bank.")),
    ({"1291", "1292", "1294"}, _("The card is suspended or reported lost. Register another payment method.")),
    ({"1285", "1286", "1293", "1295"}, _("The card's details were refused. Check the card bound to LINE Pay.")),
    ({"1101", "1102", "1141", "1169", "1170"},
     _("The LINE Pay account cannot pay now. The admin must check it in the LINE app.")),
    ({"1104", "1105", "1106", "1194"},
     _("LINE Pay refused our merchant settings. Staff must check LINEPAY_CHANNEL_ID and LINEPAY_CHANNEL_SECRET.")),
]  # fmt: skip
OTHER_DECLINE = _("LINE Pay declined the payment.")
NO_ANSWER = _("LINE Pay did not answer in time; the payment will be checked with LINE Pay.")
ORDER_REFUSED = _("LINE Pay has already refused this order: its order ID is used and it has no payment.")
PAYMENT_VOIDED = _("LINE Pay lists this order as a voided or expired authorisation: nothing was charged.")


class RedactRegKeys(logging.Filter):
    """urllib3 logs each request line at DEBUG; a preapproved-pay path holds the regKey: hide it."""

    pattern = re.compile(r"(/preapprovedPay/)[^/?\s]+")

    def filter(self, record):
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(self.pattern.sub(r"\1[regKey]", a) if isinstance(a, str) else a for a in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(RedactRegKeys())


def decline_reason(code: str) -> str:
    reason = next((text for codes, text in DECLINE_REASONS if code in codes), OTHER_DECLINE)
    return f"{reason} ({code})"


@sensitive_variables()
def sign(secret: str, path: str, payload: str, nonce: str) -> str:
    """X-LINE-Authorization: Base64(HMAC-SHA256(secret, secret + path + body-or-query + nonce))."""
    message = (secret + path + payload + nonce).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def request_body(*, order_id: str, amount_twd: int, product_name: str, confirm_url: str, cancel_url: str) -> dict:
    """Request API: a preapproved payment of `amount_twd`, only authorised (capture=false) when confirmed."""
    return {
        "amount": amount_twd, "currency": "TWD", "orderId": order_id,
        "packages": [{"id": order_id, "amount": amount_twd,
                      "products": [{"name": product_name, "quantity": 1, "price": amount_twd}]}],
        "redirectUrls": {"confirmUrl": confirm_url, "cancelUrl": cancel_url},
        "options": {"payment": {"payType": "PREAPPROVED", "capture": False}},
    }  # fmt: skip


def preapproved_pay_body(*, amount_twd: int, order_id: str, description: str) -> dict:
    """Preapproved Payment API: charge the regKey, captured at once; productName is at most 4000 characters."""
    return {
        "productName": description[:4000],
        "amount": amount_twd,
        "currency": "TWD",
        "orderId": order_id,
        "capture": True,
    }


class LinePayClient:
    """The signed HTTP calls. `label` names the endpoint in logs (never the path: it may hold a regKey)."""

    def __init__(self):
        self.channel_id = settings.LINEPAY_CHANNEL_ID
        self.secret = settings.LINEPAY_CHANNEL_SECRET
        self.base = api_base(
            settings.LINEPAY_API_BASE,
            use_sandbox=settings.LINEPAY_SANDBOX,
            sandbox=SANDBOX_BASE,
            production=PRODUCTION_BASE,
        )
        self.timeout = http_timeout()
        if not (self.channel_id and self.secret):
            raise GatewayError(_("LINE Pay is not configured."), code="not_configured")

    @sensitive_variables()
    def post(self, path: str, body: dict, *, label: str, order_id: str = "") -> dict:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)  # serialised once: signed == sent
        return self._send("POST", path, data, self.base + path, label=label, order_id=order_id)

    @sensitive_variables()
    def get(self, path: str, query: dict, *, label: str, order_id: str = "") -> dict:
        query_string = urlencode(query)
        url = self.base + path + (f"?{query_string}" if query_string else "")
        return self._send("GET", path, query_string, url, label=label, order_id=order_id)

    @sensitive_variables()
    def _send(self, method: str, path: str, payload: str, url: str, *, label: str, order_id: str) -> dict:
        nonce = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "X-LINE-ChannelId": self.channel_id,
            "X-LINE-Authorization-Nonce": nonce,
            "X-LINE-Authorization": sign(self.secret, path, payload, nonce),
        }
        data = payload.encode() if method == "POST" else None
        try:
            response = http_session("linepay").request(method, url, data=data, headers=headers, timeout=self.timeout)
            answer = parse_answer(response.content)
        except requests.RequestException:
            logger.warning("LINE Pay %s order=%s: no answer", label, order_id)
            raise NoAnswer from None  # the exception text holds the URL (and so a regKey): dropped
        except ValueError:
            logger.warning("LINE Pay %s order=%s: not JSON", label, order_id)
            raise NoAnswer from None
        logger.info("LINE Pay %s order=%s returnCode=%s", label, order_id, answer.get("returnCode"))
        return answer


class LinePayGateway(OneOrderPerRequest):
    name = "linepay"

    # ---- registration ----

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
        answer = self._call("post", "/v3/payments/request", body, label="request", order_id=order_id)
        info = answer["info"]
        return LinePayRequest(transaction_id=str(info["transactionId"]), payment_url=info["paymentUrl"]["web"])

    def linepay_confirm(self, *, transaction_id: str, amount_twd: int) -> LinePayApproval:
        path = f"/v3/payments/{transaction_id}/confirm"
        answer = self._call("post", path, {"amount": amount_twd, "currency": "TWD"}, label="confirm")
        info = answer["info"]
        self._void_registration(str(info["transactionId"]), order_id=str(info.get("orderId", "")))
        pay_info = (info.get("payInfo") or [{}])[0]
        return LinePayApproval(reg_key=str(info["regKey"]), masked_card=pay_info.get("maskedCreditCardNumber", ""))

    def _call(self, verb: str, path: str, body: dict, *, label: str, order_id: str = "") -> dict:
        """A call whose every answer but success is refused: GatewayError, with LINE Pay's code."""
        try:
            answer = getattr(LinePayClient(), verb)(path, body, label=label, order_id=order_id)
        except NoAnswer:
            raise GatewayError(_("LINE Pay did not answer in time. Try again."), code="timeout") from None
        code = answer.get("returnCode", "")
        if code != SUCCESS:
            raise GatewayError(_("LINE Pay refused the request (%(code)s).") % {"code": code}, code=code)
        return answer

    def _void_registration(self, transaction_id: str, *, order_id: str) -> None:
        """The NT$1 registration was only authorised: release it. A failure is logged; it lapses anyway."""
        path = f"/v3/payments/authorizations/{transaction_id}/void"
        with contextlib.suppress(NoAnswer):  # logged; LINE Pay drops an uncaptured authorisation when it expires
            LinePayClient().post(path, {}, label="void", order_id=order_id)

    @sensitive_variables()
    def linepay_check(self, *, reg_key: str, credit_card_auth: bool = False) -> bool:
        """Is the regKey still usable? False for 1190/1193; other answers raise GatewayError."""
        path = f"/v3/payments/preapprovedPay/{reg_key}/check"
        query = {"creditCardAuth": "true" if credit_card_auth else "false"}
        try:
            self._call("get", path, query, label="check_regkey")
        except GatewayError as error:
            if error.code in ("1190", "1193"):
                return False
            raise
        return True

    @sensitive_variables()
    def linepay_expire(self, *, reg_key: str) -> None:
        """Runs on commit of a removal: a failure is logged (never the key), not raised."""
        try:
            LinePayClient().post(f"/v3/payments/preapprovedPay/{reg_key}/expire", {}, label="expire_regkey")
        except (NoAnswer, GatewayError):
            logger.warning("LINE Pay expire_regkey failed; the key will lapse unused")

    # ---- charges ----

    @sensitive_variables()
    def charge(self, *, method, amount_twd: int, order_id: str, description: str) -> ChargeResult:
        body = preapproved_pay_body(amount_twd=amount_twd, order_id=order_id, description=description)
        path = f"/v3/payments/preapprovedPay/{method.gateway_token}/payment"
        try:
            answer = LinePayClient().post(path, body, label="preapproved_pay", order_id=order_id)
        except NoAnswer:
            return self._read_back(order_id)
        code = answer.get("returnCode", "")
        if code == SUCCESS:
            return ChargeResult(Outcome.SUCCEEDED, reference=str(answer["info"]["transactionId"]))
        if code in READ_BACK:
            return self._read_back(order_id, order_used=code == ORDER_USED)
        return ChargeResult(Outcome.DECLINED, reason=decline_reason(code), method_gone=code in METHOD_GONE)

    def charge_status(self, *, method, order_id: str) -> ChargeResult:
        """What became of an order: read back from payment details, never guessed (reconciliation)."""
        return self._read_back(order_id, absent_if_missing=True)

    def _read_back(self, order_id: str, *, absent_if_missing: bool = False, order_used: bool = False) -> ChargeResult:
        """The order as payment details has it. Nothing listed is ABSENT when asked for reconciliation,
        a decline when LINE Pay just said the orderId is used (`order_used`), else UNKNOWN."""
        unknown = ChargeResult(Outcome.UNKNOWN, reason=str(NO_ANSWER))
        try:
            answer = LinePayClient().get(
                "/v3/payments", {"orderId": order_id}, label="payment_details", order_id=order_id
            )
        except NoAnswer:
            return unknown
        code = answer.get("returnCode")
        payments = (answer.get("info") or []) if code == SUCCESS else []
        if payments:
            return self._payment_outcome(payments[0], order_id=order_id, unknown=unknown)
        if code not in (SUCCESS, NOT_FOUND):  # payment details itself failed: it said nothing of the order
            return unknown
        if order_used:
            return ChargeResult(Outcome.DECLINED, reason=f"{ORDER_REFUSED} ({ORDER_USED})")
        return ChargeResult(Outcome.ABSENT) if absent_if_missing else unknown

    @staticmethod
    def _payment_outcome(payment: dict, *, order_id: str, unknown: ChargeResult) -> ChargeResult:
        status = payment.get("payStatus", "CAPTURE")  # an answer without payStatus still lists a payment
        if status in PAID:
            return ChargeResult(Outcome.SUCCEEDED, reference=str(payment["transactionId"]))
        if status in NOT_PAID:
            return ChargeResult(Outcome.DECLINED, reason=str(PAYMENT_VOIDED))
        logger.warning("LINE Pay payment_details order=%s: payStatus %s not understood", order_id, status)
        return unknown

    def refund(self, *, method, reference: str, amount_twd: int | None = None, refund_key: str = "") -> ChargeResult:
        """Give back `amount_twd` (all when None) of the payment `reference` (its transactionId).

        LINE Pay takes no key of ours for a refund; it refuses one that would exceed what is left (1164)."""
        body = {} if amount_twd is None else {"refundAmount": amount_twd}
        try:
            answer = LinePayClient().post(f"/v3/payments/{reference}/refund", body, label="refund")
        except NoAnswer:
            return self._refund_read_back(reference, amount_twd)
        code = answer.get("returnCode", "")
        if code == SUCCESS:
            return ChargeResult(Outcome.SUCCEEDED, reference=str(answer["info"]["refundTransactionId"]))
        if code in READ_BACK:
            return self._refund_read_back(reference, amount_twd)
        return ChargeResult(Outcome.DECLINED, reason=decline_reason(code))

    def refund_status(self, *, method, reference: str, amount_twd: int, refund_key: str) -> ChargeResult:
        """A refund whose answer was lost, from payment details' refund list (a refund of that amount)."""
        return self._refund_read_back(reference, amount_twd)

    def _refund_read_back(self, reference: str, amount_twd: int | None) -> ChargeResult:
        """Payment details lists the refunds of a payment: one of this amount means it went through."""
        unknown = ChargeResult(Outcome.UNKNOWN, reason=str(NO_ANSWER))
        try:
            answer = LinePayClient().get("/v3/payments", {"transactionId": reference}, label="payment_details")
        except NoAnswer:
            return unknown
        payments = (answer.get("info") or []) if answer.get("returnCode") == SUCCESS else []
        for payment in payments:
            for refund in payment.get("refundList") or []:
                if amount_twd is None or abs(int(refund.get("refundAmount", 0))) == amount_twd:
                    return ChargeResult(Outcome.SUCCEEDED, reference=str(refund["refundTransactionId"]))
        return unknown
