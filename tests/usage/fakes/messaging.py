"""A fake LINE Messaging API: the bot's info, the month's quota and consumption, and the daily delivery counts
(`/v2/bot/insight/message/delivery`), each behind a check of the channel access token (`Authorization: Bearer`).

`channel(token, ...)` makes a channel; `deliver(token, day, kind, count)` is the account sending messages (a
billed kind counts in its month's consumption, as LINE counts it); `unready(token, day)` keeps a day uncounted.
`fail_next(fault)` makes the next call answer "401", "429" or "500", "timeout" (answer only after the client
gave up), or "unready" (the next delivery call says the day is not counted yet). `calls` counts the calls.
"""

import re
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import parse_qs

from tests.payments.fakes.server import FakeServer

# LINE's rule, written here independently of the MessageKind rows (SPEC §7).
BILLED = {"broadcast", "targeting", "apiBroadcast", "apiPush", "apiMulticast", "apiNarrowcast"}
KINDS = [*sorted(BILLED), "apiReply", "autoResponse", "welcomeResponse", "chat"]


@dataclass
class Channel:
    basic_id: str
    display_name: str
    quota_limit: int | None = None  # None: LINE sets no limit ("type": "none")
    days: dict = field(default_factory=lambda: defaultdict(Counter))  # day → Counter(kind → messages)
    unready_days: set = field(default_factory=set)


class FakeMessagingApi(FakeServer):
    def __init__(self, *, delay: float = 1.5, month: date | None = None):
        super().__init__()
        self.delay = delay  # how late a "timeout" answers
        self.month = month or date.today().replace(day=1)  # the month "this month" is, for the quota calls
        self.channels: dict[str, Channel] = {}
        self.faults = deque()
        self.calls = Counter()  # endpoint name → calls that got past the token check
        self.in_flight = 0
        self.most_in_flight = 0
        self._count_lock = threading.Lock()

    # ---- what the tests tell it ----

    def channel(self, token: str, *, basic_id: str, display_name: str = "小明咖啡", quota_limit=None) -> Channel:
        with self.lock:
            self.channels[token] = Channel(basic_id=basic_id, display_name=display_name, quota_limit=quota_limit)
            return self.channels[token]

    def revoke(self, token: str) -> None:
        with self.lock:
            self.channels.pop(token, None)

    def deliver(self, token: str, day: date, kind: str, count: int) -> None:
        assert kind in KINDS, kind
        with self.lock:
            self.channels[token].days[day][kind] += count

    def unready(self, token: str, day: date) -> None:
        with self.lock:
            self.channels[token].unready_days.add(day)

    def fail_next(self, fault: str, times: int = 1) -> None:
        assert fault in {"401", "429", "500", "timeout", "unready"}, fault
        with self.lock:
            self.faults.extend([fault] * times)

    def consumption(self, token: str) -> int:
        """Billed messages of this month so far, as LINE would report them."""
        channel = self.channels[token]
        return sum(
            count
            for day, counts in channel.days.items()
            if day.replace(day=1) == self.month
            for kind, count in counts.items()
            if kind in BILLED
        )

    # ---- the HTTP side ----

    def route(self, method, path, query, headers, body):
        with self._count_lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return self._route(method, path, query, headers)
        finally:
            with self._count_lock:
                self.in_flight -= 1

    def _route(self, method, path, query, headers):
        token = (headers.get("Authorization") or "").removeprefix("Bearer ")
        with self.lock:
            channel = self.channels.get(token)
        if method != "GET" or channel is None:
            return 401, {
                "message": "Authentication failed. Confirm that the access token in the authorization header is valid."
            }
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
        if fault == "timeout":
            time.sleep(self.delay)
        elif fault == "401":
            return 401, {
                "message": "Authentication failed. Confirm that the access token in the authorization header is valid."
            }
        elif fault == "429":
            return 429, {"message": "The API rate limit has been exceeded. Try again later."}
        elif fault == "500":
            return 500, {"message": "Internal server error"}
        endpoint = {
            "/v2/bot/info": "bot_info",
            "/v2/bot/message/quota": "quota",
            "/v2/bot/message/quota/consumption": "consumption",
            "/v2/bot/insight/message/delivery": "delivery",
        }.get(path)
        if endpoint is None:
            return 404, {"message": "Not found"}
        with self.lock:
            self.calls[endpoint] += 1
            return getattr(self, f"_{endpoint}")(token, channel, parse_qs(query), unready=fault == "unready")

    def _bot_info(self, token, channel, query, unready):
        return 200, {
            "userId": "U" + "0" * 32,
            "basicId": channel.basic_id,
            "displayName": channel.display_name,
            "chatMode": "bot",
            "markAsReadMode": "auto",
        }

    def _quota(self, token, channel, query, unready):
        if channel.quota_limit is None:
            return 200, {"type": "none"}
        return 200, {"type": "limited", "value": channel.quota_limit}

    def _consumption(self, token, channel, query, unready):
        return 200, {"totalUsage": self.consumption(token)}

    def _delivery(self, token, channel, query, unready):
        text = (query.get("date") or [""])[0]
        if not re.fullmatch(r"\d{8}", text):
            return 400, {"message": "The request body has 1 error(s)", "details": [{"property": "date"}]}
        day = datetime.strptime(text, "%Y%m%d").date()
        if unready or day in channel.unready_days:
            return 200, {"status": "unready"}
        # like LINE, a kind with no message is left out
        return 200, {"status": "ready", **{kind: n for kind, n in channel.days.get(day, Counter()).items() if n}}
