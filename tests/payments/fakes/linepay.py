"""A fake LINE Pay Online API v3: checks every signature, keeps transactions, regKeys and payments.

Tell it what to do next with `fail_next(endpoint, fault)`: a return code ("1281": a decline),
"timeout" (do the work, then answer after the client gave up: a lost answer), "1172" (do the work,
answer "same orderId", as if an earlier lost call had made it), "lost_request" (do nothing, answer
too late), "lost:1281" (decline, then answer too late: a decline whose answer was lost), "busy"
(answer 1198 and do nothing, as while LINE Pay still works on the first call). `approve()` is the
admin approving in LINE; `expire()` is the regKey lapsing at LINE Pay; `set_pay_status()` changes
what Payment Details says of a payment.

Like LINE Pay, a declined preapproved payment uses up its orderId (a resend gets 1172) but leaves
no transaction, so Payment Details does not list it.
"""

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from collections import defaultdict, deque
from urllib.parse import parse_qs, urlencode

from tests.payments.fakes.server import FakeServer

CARDS = {"**** **** **** 1111": "VISA", "**** **** **** 0000": "JCB"}


def ok(info=None):
    answer = {"returnCode": "0000", "returnMessage": "Success."}
    return (200, answer | {"info": info}) if info is not None else (200, answer)


def error(code, message="Error."):
    return 200, {"returnCode": code, "returnMessage": message}


def new_transaction_id() -> int:
    return secrets.randbelow(9 * 10**18) + 10**18  # 19 digits, sent as a bare JSON number


class FakeLinePay(FakeServer):
    def __init__(self, *, channel_id="1234567890", secret="fake-linepay-channel-secret", delay=1.5):
        super().__init__()
        self.channel_id, self.secret, self.delay = channel_id, secret, delay
        self.nonces = set()
        self.refused = []  # why requests were refused (1104/1106)
        self.transactions = {}  # transactionId → the registration request
        self.reg_keys = {}  # regKey → {"status": "active" | "expired", "card": masked}
        self.payments = {}  # orderId → the captured payment
        self.orders_seen = set()
        self.faults = defaultdict(deque)
        self.calls = defaultdict(int)

    # ---- what the tests tell it ----

    def fail_next(self, endpoint: str, fault: str):
        self.faults[endpoint].append(fault)

    def approve(self, transaction_id, card="**** **** **** 1111"):
        with self.lock:
            tx = self.transactions[int(transaction_id)]
            tx.update(status="approved", card=card)
            return tx

    def expire(self, reg_key):
        self.reg_keys[reg_key]["status"] = "expired"

    def set_pay_status(self, order_id, pay_status):
        """What Payment Details reports for the payment, e.g. "VOIDED_AUTHORIZATION"."""
        self.payments[order_id]["payStatus"] = pay_status

    def payment_by_transaction(self, transaction_id):
        return next((p for p in self.payments.values() if p["transactionId"] == int(transaction_id)), None)

    # ---- the HTTP side ----

    def route(self, method, path, query, headers, body):
        if path.startswith("/approve/"):
            return self.approval_page(path, query)
        refusal = self.check_headers(method, path, query, headers, body)
        if refusal:
            self.refused.append(refusal[1]["returnCode"])
            return refusal
        parts = path.strip("/").split("/")
        data = json.loads(body) if body else {}
        self.calls[self.endpoint(method, parts)] += 1
        return self.dispatch(method, parts, parse_qs(query), data)

    def check_headers(self, method, path, query, headers, body):
        if headers.get("X-LINE-ChannelId") != self.channel_id:
            return error("1104", "Merchant not found.")
        if headers.get("Content-Type") != "application/json":
            return error("1106", "Header information error.")
        nonce = headers.get("X-LINE-Authorization-Nonce", "")
        payload = body.decode() if method == "POST" else query
        message = (self.secret + path + payload + nonce).encode()
        expected = base64.b64encode(hmac.new(self.secret.encode(), message, hashlib.sha256).digest()).decode()
        if (
            not nonce
            or nonce in self.nonces
            or not hmac.compare_digest(expected, headers.get("X-LINE-Authorization", ""))
        ):
            return error("1106", "Header information error.")
        self.nonces.add(nonce)
        return None

    @staticmethod
    def endpoint(method, parts):
        if parts[:3] == ["v3", "payments", "preapprovedPay"]:
            return {"payment": "preapproved_pay", "check": "check_regkey", "expire": "expire_regkey"}.get(
                parts[-1], "?"
            )
        if method == "GET" and parts == ["v3", "payments"]:
            return "payment_details"
        return {"request": "request", "confirm": "confirm", "refund": "refund", "void": "void"}.get(parts[-1], "?")

    def dispatch(self, method, parts, query, data):
        name = self.endpoint(method, parts)
        if name == "request":
            return self.request(data)
        if name == "confirm":
            return self.confirm(int(parts[2]), data)
        if name == "void":
            return self.void(int(parts[3]))
        if name == "preapproved_pay":
            return self.preapproved_pay(parts[3], data)
        if name == "check_regkey":
            return self.check_regkey(parts[3])
        if name == "expire_regkey":
            return self.expire_regkey(parts[3])
        if name == "refund":
            return self.refund(int(parts[2]), data)
        if name == "payment_details":
            return self.payment_details(query)
        return error("2101", "Parameter error.")

    def take_fault(self, endpoint):
        queue = self.faults[endpoint]
        return queue.popleft() if queue else None

    def lost_answer(self, answer):
        time.sleep(self.delay)  # past the client's time-out: the work is done, the answer goes nowhere
        return answer

    # ---- endpoints ----

    def request(self, data):
        if data.get("options", {}).get("payment", {}).get("payType") != "PREAPPROVED":
            return error("2101", "Parameter error.")
        with self.lock:
            if data["orderId"] in self.orders_seen:
                return error("1172", "Existing same orderId.")
            self.orders_seen.add(data["orderId"])
            transaction_id = new_transaction_id()
            self.transactions[transaction_id] = {
                "transactionId": transaction_id, "orderId": data["orderId"], "amount": data["amount"],
                "capture": data["options"]["payment"].get("capture", True), "status": "requested",
                "confirmUrl": data["redirectUrls"]["confirmUrl"], "cancelUrl": data["redirectUrls"]["cancelUrl"],
            }  # fmt: skip
        url = f"{self.base_url}/approve/{transaction_id}"
        return ok(
            {
                "transactionId": transaction_id,
                "paymentAccessToken": "187568751124",
                "paymentUrl": {"web": url, "app": url},
            }
        )

    def confirm(self, transaction_id, data):
        with self.lock:
            tx = self.transactions.get(transaction_id)
            if tx is None or tx["status"] not in ("approved",):
                return error("1150", "Transaction record not found.")
            if data.get("amount") != tx["amount"] or data.get("currency") != "TWD":
                return error("1153", "Payment amount differs.")
            reg_key = f"RK{secrets.randbelow(9 * 10**12) + 10**12}"
            self.reg_keys[reg_key] = {"status": "active", "card": tx["card"]}
            tx.update(status="authorized" if not tx["capture"] else "captured", regKey=reg_key)
        return ok(
            {
                "orderId": tx["orderId"],
                "transactionId": transaction_id,
                "regKey": reg_key,
                "authorizationExpireDate": "2026-07-01T00:00:00Z",
                "payInfo": [
                    {
                        "method": "CREDIT_CARD",
                        "amount": tx["amount"],
                        "creditCardBrand": CARDS[tx["card"]],
                        "maskedCreditCardNumber": tx["card"],
                    }
                ],
            }
        )

    def void(self, transaction_id):
        with self.lock:
            tx = self.transactions.get(transaction_id)
            if tx is None or tx["status"] != "authorized":
                return error("1150", "Transaction record not found.")
            tx["status"] = "voided"
        return ok()

    def preapproved_pay(self, reg_key, data):
        fault = self.take_fault("preapproved_pay")
        if fault == "lost_request":  # the call never got through: nothing done, and no answer in time
            return self.lost_answer(error("9000", "Internal error."))
        if fault == "busy":  # a duplicate call while LINE Pay still works on the first: nothing done here
            return error("1198", "Request is being processed.")
        with self.lock:
            key = self.reg_keys.get(reg_key)
            if key is None:
                return error("1190", "regKey does not exist.")
            if key["status"] == "expired":
                return error("1193", "regKey expired.")
            if data["orderId"] in self.orders_seen:
                return error("1172", "Existing same orderId.")
            self.orders_seen.add(data["orderId"])  # a declined order is used up too: a resend gets 1172
            if fault and fault.isdigit() and fault not in ("1172", "1198"):
                return error(fault, "Declined.")
            lost_decline = fault.removeprefix("lost:") if fault and fault.startswith("lost:") else None
            if lost_decline is None:
                payment = self.payments[data["orderId"]] = {
                    "transactionId": new_transaction_id(),
                    "orderId": data["orderId"],
                    "amount": data["amount"],
                    "regKey": reg_key,
                    "refunds": [],
                    "payStatus": "CAPTURE",
                }
        if lost_decline:  # answered outside the lock: the sleep must not hold up other calls
            return self.lost_answer(error(lost_decline, "Declined."))
        answer = ok(
            {
                "orderId": data["orderId"],
                "transactionId": payment["transactionId"],
                "transactionDate": "2026-07-01T00:05:00Z",
            }
        )
        if fault == "timeout":
            return self.lost_answer(answer)
        if fault in ("1172", "1198"):
            return error(fault, "Duplicate.")
        return answer

    def check_regkey(self, reg_key):
        key = self.reg_keys.get(reg_key)
        if key is None:
            return error("1190", "regKey does not exist.")
        return error("1193", "regKey expired.") if key["status"] == "expired" else ok()

    def expire_regkey(self, reg_key):
        if reg_key not in self.reg_keys:
            return error("1190", "regKey does not exist.")
        self.expire(reg_key)
        return ok()

    def refund(self, transaction_id, data):
        fault = self.take_fault("refund")
        with self.lock:
            payment = self.payment_by_transaction(transaction_id)
            if payment is None:
                return error("1150", "Transaction record not found.")
            remaining = payment["amount"] + sum(r["refundAmount"] for r in payment["refunds"])
            amount = data.get("refundAmount", remaining)
            if remaining == 0:
                return error("1165", "Already refunded.")
            if amount > remaining:
                return error("1164", "Refundable amount exceeded.")
            refund = {
                "refundTransactionId": new_transaction_id(),
                "transactionType": "PAYMENT_REFUND",
                "refundAmount": -amount,
                "refundTransactionDate": "2026-07-02T00:00:00Z",
            }
            payment["refunds"].append(refund)
        answer = ok(
            {
                "refundTransactionId": refund["refundTransactionId"],
                "refundTransactionDate": refund["refundTransactionDate"],
            }
        )
        return self.lost_answer(answer) if fault == "timeout" else answer

    def payment_details(self, query):
        with self.lock:
            if "orderId" in query:
                found = [self.payments[o] for o in query["orderId"] if o in self.payments]
            else:
                found = [p for t in query.get("transactionId", []) if (p := self.payment_by_transaction(t))]
            info = [
                {
                    "transactionId": p["transactionId"],
                    "orderId": p["orderId"],
                    "payStatus": p["payStatus"],
                    "payInfo": [{"method": "CREDIT_CARD", "amount": p["amount"]}],
                    "refundList": list(p["refunds"]),
                }
                for p in found
            ]
        return ok(info) if info else error("1150", "Transaction record not found.")

    # ---- the page the admin would see in LINE (for a browser test) ----

    def approval_page(self, path, query):
        parts = path.strip("/").split("/")
        tx = self.transactions.get(int(parts[1]))
        if tx is None:
            return 404, "<p>No such payment</p>", "text/html"
        if len(parts) == 3 and parts[2] == "ok":
            self.approve(tx["transactionId"])
            back = f"{tx['confirmUrl']}?{urlencode({'transactionId': tx['transactionId'], 'orderId': tx['orderId']})}"
            return 200, f'<meta http-equiv="refresh" content="0;url={html.escape(back)}">', "text/html"
        return (
            200,
            (
                f"<h1>LINE Pay (fake)</h1><p>NT${tx['amount']}</p>"
                f'<a id="approve" href="/approve/{tx["transactionId"]}/ok">Approve</a> '
                f'<a id="cancel" href="{html.escape(tx["cancelUrl"])}">Cancel</a>'
            ),
            "text/html",
        )
