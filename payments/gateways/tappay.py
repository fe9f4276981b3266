"""TapPay Direct Pay (domain-facts §3.1), behind the sandbox's interface.

- Saving a card: the front-end SDK (TPDirect, templates/billing/_tappay_fields.html) turns the card into
  a single-use `prime`; `save_card` pays NT$1 by prime with remember=true, keeps `card_secret`, and
  refunds the NT$1 at once. The token kept in PaymentMethod.gateway_token is "card_key:card_token"
  (TapPay needs both to charge; neither holds a colon).
- Charges: pay by card token, order_number = our charge's idempotency key, and a bank_transaction_id
  derived from it, so a second call for the same order is refused by TapPay (10013) instead of
  charging twice. A time-out, 421/422 or a duplicate answer is read back through the record query;
  when the record is not there the answer is UNKNOWN.
- LINE Pay methods: the router sends them to LINE Pay (see `payments.gateways.GatewayRouter`).

Only the endpoint's name, the order number and the status are logged; never the partner key or tokens.
"""

import contextlib
import hashlib
import json
import logging
import secrets

import requests
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from payments.gateways import (
    ChargeResult,
    GatewayError,
    NoAnswer,
    OneOrderPerRequest,
    Outcome,
    SavedCard,
    api_base,
    http_session,
    http_timeout,
    parse_answer,
)

logger = logging.getLogger(__name__)

PRODUCTION_BASE = "https://prod.tappaysdk.com"
SANDBOX_BASE = "https://sandbox.tappaysdk.com"
BRANDS = {1: "visa", 2: "mastercard", 3: "jcb"}
REGISTRATION_AMOUNT_TWD = 1
READ_BACK = {421, 422, 10006, 10013}  # time-outs at TapPay or the bank, duplicate transaction / id
# Record status (record query): -1 error, 0 authorised, 1 captured, 2 partly refunded, 3 refunded,
# 4 pending, 5 cancelled.
PAID_RECORDS = {0, 1, 2, 3}
PENDING_RECORD = 4
# ISO 8583 "expired card" answers from the bank (54, 33); 43: the card token is no longer valid.
EXPIRED_BANK_CODES = {"54", "33"}
METHOD_GONE_STATUSES = {43}
NO_ANSWER = _("TapPay did not answer in time; the payment will be checked with TapPay.")
DECLINED = _("The card issuer declined the payment. Use another card or contact the bank.")
EXPIRED = _("The card has expired. Register a new payment method.")
MERCHANT = _("TapPay refused our merchant settings. Staff must check TAPPAY_PARTNER_KEY and TAPPAY_MERCHANT_ID.")
MERCHANT_STATUSES = {4, 61, 67, 80, 81, 84, 89}


def bank_transaction_id(order_id: str) -> str:
    """A 16-character ID unique per order: TapPay refuses a second payment with it (10013)."""
    return "O" + hashlib.sha256(order_id.encode()).hexdigest()[:15].upper()


def decline(answer: dict) -> ChargeResult:
    status = answer.get("status")
    bank_code = str(answer.get("bank_result_code", ""))
    gone = status in METHOD_GONE_STATUSES or bank_code in EXPIRED_BANK_CODES
    reason = EXPIRED if gone else MERCHANT if status in MERCHANT_STATUSES else DECLINED
    detail = f"{status}/{bank_code}" if bank_code else f"{status}"
    return ChargeResult(Outcome.DECLINED, reason=f"{reason} ({detail})", method_gone=gone)


@sensitive_variables()
def split_token(token: str) -> tuple[str, str]:
    card_key, _sep, card_token = token.partition(":")
    return card_key, card_token


class TapPayClient:
    def __init__(self):
        self.partner_key = settings.TAPPAY_PARTNER_KEY
        self.merchant_id = settings.TAPPAY_MERCHANT_ID
        self.base = api_base(
            settings.TAPPAY_API_BASE,
            use_sandbox=settings.TAPPAY_SANDBOX,
            sandbox=SANDBOX_BASE,
            production=PRODUCTION_BASE,
        )
        self.timeout = http_timeout()
        if not (self.partner_key and self.merchant_id):
            raise GatewayError(_("TapPay is not configured."), code="not_configured")

    @sensitive_variables()
    def post(self, path: str, body: dict, *, label: str, order_id: str = "") -> dict:
        data = json.dumps({"partner_key": self.partner_key, **body}).encode()
        headers = {"Content-Type": "application/json", "x-api-key": self.partner_key}
        try:
            response = http_session("tappay").post(self.base + path, data=data, headers=headers, timeout=self.timeout)
            answer = parse_answer(response.content)
        except (requests.RequestException, ValueError):
            logger.warning("TapPay %s order=%s: no answer", label, order_id)
            raise NoAnswer from None
        logger.info("TapPay %s order=%s status=%s", label, order_id, answer.get("status"))
        return answer


class TapPayGateway(OneOrderPerRequest):
    name = "tappay"
    card_fields_url_name = None  # no URL of ours: the SDK's fields are a template partial
    card_fields_template = "billing/_tappay_fields.html"

    # ---- cards ----

    @sensitive_variables()
    def save_card(self, *, one_time_token: str, cardholder: dict | None = None) -> SavedCard:
        """`one_time_token` is TPDirect's prime. NT$1 is paid with remember=true, then refunded."""
        client = TapPayClient()
        order_id = f"card-{secrets.token_hex(8)}"
        body = {
            "prime": one_time_token, "merchant_id": client.merchant_id, "amount": REGISTRATION_AMOUNT_TWD,
            "currency": "TWD", "details": "Card registration", "order_number": order_id, "remember": True,
            "cardholder": {"phone_number": "", "name": "", "email": "", "zip_code": "", "address": "",
                           "national_id": "", **(cardholder or {})},
        }  # fmt: skip
        try:
            answer = client.post("/tpc/payment/pay-by-prime", body, label="pay_by_prime", order_id=order_id)
        except NoAnswer:
            raise GatewayError(_("TapPay did not answer in time. Enter the card again."), code="timeout") from None
        if answer.get("status") != 0:
            raise GatewayError(decline(answer).reason, code=str(answer.get("status")))
        self._refund_quietly(client, answer.get("rec_trade_id", ""), order_id)
        return self._saved_card(answer)

    @sensitive_variables()
    def _saved_card(self, answer: dict) -> SavedCard:
        info, secret = answer.get("card_info") or {}, answer.get("card_secret") or {}
        brand = BRANDS.get(info.get("type"))
        if brand is None:
            raise GatewayError(_("Only Visa, Mastercard and JCB cards are accepted."), code="brand")
        expiry = str(info.get("expiry_date", ""))
        month, year = (int(expiry[4:6]), int(expiry[:4])) if len(expiry) == 6 else (None, None)
        token = f"{secret['card_key']}:{secret['card_token']}"
        return SavedCard(token, brand, str(info.get("last_four", "")), month, year)

    def _refund_quietly(self, client: TapPayClient, rec_trade_id: str, order_id: str) -> None:
        with contextlib.suppress(NoAnswer):  # logged; the NT$1 is then refunded by staff from TapPay's portal
            client.post("/tpc/transaction/refund", {"rec_trade_id": rec_trade_id}, label="refund", order_id=order_id)

    @sensitive_variables()
    def charge(self, *, method, amount_twd: int, order_id: str, description: str) -> ChargeResult:
        client = TapPayClient()
        card_key, card_token = split_token(method.gateway_token)
        body = {
            "card_key": card_key, "card_token": card_token, "merchant_id": client.merchant_id,
            "amount": amount_twd, "currency": "TWD", "details": description[:100], "order_number": order_id[:50],
            "bank_transaction_id": bank_transaction_id(order_id),
        }  # fmt: skip
        try:
            answer = client.post("/tpc/payment/pay-by-token", body, label="pay_by_token", order_id=order_id)
        except NoAnswer:
            return self._read_back(order_id)
        if answer.get("status") == 0:
            return ChargeResult(Outcome.SUCCEEDED, reference=str(answer["rec_trade_id"]))
        if answer.get("status") in READ_BACK:
            return self._read_back(order_id)
        return decline(answer)

    def charge_status(self, *, method, order_id: str) -> ChargeResult:
        """What became of an order, from TapPay's record query: never guessed (reconciliation)."""
        return self._read_back(order_id, absent_if_missing=True)

    def _read_back(self, order_id: str, *, absent_if_missing: bool = False) -> ChargeResult:
        unknown = ChargeResult(Outcome.UNKNOWN, reason=str(NO_ANSWER))
        body = {
            "records_per_page": 50,
            "page": 0,
            "filters": {"order_number": order_id[:50]},
            "order_by": {"attribute": "time", "is_descending": True},
        }
        try:
            answer = TapPayClient().post("/tpc/transaction/query", body, label="record_query", order_id=order_id)
        except NoAnswer:
            return unknown
        if answer.get("status") not in (0, 2):
            return unknown
        records = answer.get("trade_records") or []
        paid = [r for r in records if r.get("record_status") in PAID_RECORDS]
        if paid:
            return ChargeResult(Outcome.SUCCEEDED, reference=str(paid[0]["rec_trade_id"]))
        if not records:
            return ChargeResult(Outcome.ABSENT) if absent_if_missing else unknown
        if any(r.get("record_status") == PENDING_RECORD for r in records):
            return unknown
        return decline(records[0])

    def refund(self, *, method, reference: str, amount_twd: int | None = None, refund_key: str = "") -> ChargeResult:
        """Give back `amount_twd` (all when None) of the payment `reference` (its rec_trade_id).

        TapPay takes no key of ours for a refund and refuses one above what is left. A time-out is UNKNOWN:
        the refund stays pending and staff check TapPay's portal (`refund_status` cannot tell)."""
        body = {"rec_trade_id": reference, **({} if amount_twd is None else {"amount": amount_twd})}
        try:
            answer = TapPayClient().post("/tpc/transaction/refund", body, label="refund")
        except NoAnswer:
            return ChargeResult(Outcome.UNKNOWN, reason=str(NO_ANSWER))
        if answer.get("status") == 0:
            return ChargeResult(Outcome.SUCCEEDED, reference=str(answer.get("refund_id", reference)))
        return ChargeResult(Outcome.DECLINED, reason=f"{_('TapPay refused the refund.')} ({answer.get('status')})")

    def refund_status(self, *, method, reference: str, amount_twd: int, refund_key: str) -> ChargeResult:
        """TapPay's record query does not name our refunds: a lost refund answer stays for staff to check."""
        return ChargeResult(Outcome.UNKNOWN, reason=str(NO_ANSWER))
