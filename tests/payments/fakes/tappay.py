"""A fake TapPay Direct Pay backend: checks the partner key (header and body), keeps primes, card
tokens and trade records. `new_prime()` is what TPDirect's getPrime would give the browser.

`fail_next("pay_by_token", fault)`: "timeout" (charge, then answer after the client gave up),
"declined", "insufficient", "expired" (a bank decline).
"""

import json
import secrets
import time
from collections import defaultdict, deque

from tests.payments.fakes.server import FakeServer

TYPES = {"4": 1, "5": 2, "3": 3}  # first digit → card_info.type (1 VISA, 2 MasterCard, 3 JCB)
BANK_DECLINES = {
    "declined": ("05", "Do not honour"),
    "insufficient": ("51", "Insufficient funds"),
    "expired": ("54", "Expired card"),
}


class FakeTapPay(FakeServer):
    def __init__(self, *, partner_key="partner_fake_key", merchant_id="fake_merchant", delay=1.5):
        super().__init__()
        self.partner_key, self.merchant_id, self.delay = partner_key, merchant_id, delay
        self.refused = 0
        self.primes = {}  # prime → card (single use)
        self.cards = {}  # (card_key, card_token) → card
        self.records = []  # trade records, oldest first
        self.faults = defaultdict(deque)
        self.calls = defaultdict(int)

    def new_prime(self, number="4242424242424242", behaviour="success", expiry="203012"):
        prime = f"prime_{secrets.token_hex(16)}"
        self.primes[prime] = {
            "type": TYPES.get(number[0], 4),
            "last_four": number[-4:],
            "bin_code": number[:6],
            "expiry_date": expiry,
            "behaviour": behaviour,
        }
        return prime

    def fail_next(self, endpoint, fault):
        self.faults[endpoint].append(fault)

    def records_for(self, order_number):
        return [r for r in self.records if r["order_number"] == order_number]

    def route(self, method, path, query, headers, body):
        data = json.loads(body or b"{}")
        key = headers.get("x-api-key")
        if method != "POST" or key != self.partner_key or data.get("partner_key") != self.partner_key:
            self.refused += 1
            return 200, {"status": 80, "msg": "Invalid x-api-key"}
        name = path.rsplit("/", 1)[-1].replace("-", "_")
        self.calls[name] += 1
        handler = {
            "pay_by_prime": self.pay_by_prime,
            "pay_by_token": self.pay_by_token,
            "refund": self.refund,
            "query": self.query,
        }.get(name)
        return handler(data) if handler else (404, {"status": 5, "msg": "Unknown path"})

    def pay_by_prime(self, data):
        with self.lock:
            card = self.primes.pop(data.get("prime"), None)
        if card is None:
            return 200, {"status": 91, "msg": "Expired prime"}
        if data.get("merchant_id") != self.merchant_id:
            return 200, {"status": 61, "msg": "Merchant not found"}
        answer = self.pay(card, data)
        if answer["status"] == 0 and data.get("remember"):
            secret = {"card_key": secrets.token_hex(32), "card_token": secrets.token_hex(32)}
            self.cards[(secret["card_key"], secret["card_token"])] = card
            answer["card_secret"] = secret
        return 200, answer

    def pay_by_token(self, data):
        fault = self.faults["pay_by_token"].popleft() if self.faults["pay_by_token"] else None
        card = self.cards.get((data.get("card_key"), data.get("card_token")))
        if card is None:
            return 200, {"status": 43, "msg": "Card unauthorized access"}
        answer = self.pay(card | ({"behaviour": fault} if fault in BANK_DECLINES else {}), data)
        if fault == "timeout":
            time.sleep(self.delay)
        return 200, answer

    def pay(self, card, data):
        with self.lock:
            bank_id = data.get("bank_transaction_id") or secrets.token_hex(8)
            if any(r["bank_transaction_id"] == bank_id for r in self.records):
                return {"status": 10013, "msg": "Duplicate bank_transaction_id"}
            declined = BANK_DECLINES.get(card["behaviour"])
            record = {
                "rec_trade_id": f"D{secrets.token_hex(8).upper()}",
                "order_number": data.get("order_number", ""),
                "bank_transaction_id": bank_id,
                "amount": data["amount"],
                "refunded_amount": 0,
                "record_status": -1 if declined else 1,
                "bank_result_code": declined[0] if declined else "00",
                "bank_result_msg": declined[1] if declined else "",
            }
            self.records.append(record)
        if declined:
            return {
                "status": 10003,
                "msg": "Card Error",
                "bank_result_code": declined[0],
                "bank_result_msg": declined[1],
                "rec_trade_id": record["rec_trade_id"],
            }
        info = {k: card[k] for k in ("type", "last_four", "bin_code", "expiry_date")}
        return {
            "status": 0,
            "msg": "Success",
            "rec_trade_id": record["rec_trade_id"],
            "amount": data["amount"],
            "currency": "TWD",
            "order_number": record["order_number"],
            "bank_transaction_id": bank_id,
            "card_info": info | {"issuer": "FAKE BANK", "funding": 0},
        }

    def refund(self, data):
        with self.lock:
            record = next((r for r in self.records if r["rec_trade_id"] == data.get("rec_trade_id")), None)
            if record is None or record["record_status"] not in (1, 2):
                return 200, {"status": 10003, "msg": "Trade not refundable"}
            amount = data.get("amount", record["amount"] - record["refunded_amount"])
            if amount > record["amount"] - record["refunded_amount"]:
                return 200, {"status": 510, "msg": "Invalid amount"}
            record["refunded_amount"] += amount
            record["record_status"] = 3 if record["refunded_amount"] == record["amount"] else 2
        return 200, {
            "status": 0,
            "msg": "Success",
            "refund_id": f"R{secrets.token_hex(8).upper()}",
            "refund_amount": amount,
            "is_captured": True,
        }

    def query(self, data):
        order_number = (data.get("filters") or {}).get("order_number")
        found = [dict(r) for r in reversed(self.records) if r["order_number"] == order_number]
        return 200, {
            "status": 0 if found else 2,
            "msg": "Success",
            "records_per_page": 50,
            "page": 0,
            "total_page_count": 1,
            "number_of_transactions": len(found),
            "trade_records": found,
        }
