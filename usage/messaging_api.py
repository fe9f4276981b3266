"""Reading an account's usage from LINE's Messaging API, through LINE's own SDK (line-bot-sdk v3).

One `MessagingApiClient` per channel token, or one per thread that reads channel after channel (`use_token`), so its
connections to LINE are kept between channels. Its host is LINE_MESSAGING_API_BASE (empty: LINE's), its
time-outs LINE_MESSAGING_API_CONNECT_TIMEOUT_SECONDS and LINE_MESSAGING_API_TIMEOUT_SECONDS. Failures come
out as our own errors: `ChannelUnauthorized` (401: the token is wrong or was revoked), `MessagingApiUnavailable`
(429, 5xx, a time-out or no connection: worth another try later) and `MessagingApiError` for anything else.
urllib3's own retries are off, so a caller decides when to try again, and the token is sent in the
Authorization header only: neither the SDK nor urllib3 logs headers.
"""

import logging
from dataclasses import dataclass
from datetime import date

import urllib3
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from linebot.v3 import insight, messaging
from linebot.v3.insight.exceptions import ApiException as InsightApiException
from linebot.v3.messaging.exceptions import ApiException as MessagingApiException

# The counts of GET /v2/bot/insight/message/delivery, by LINE's names (MessageKind.code): the SDK's field of each.
DELIVERY_FIELDS = {
    "broadcast": "broadcast",
    "targeting": "targeting",
    "autoResponse": "auto_response",
    "welcomeResponse": "welcome_response",
    "chat": "chat",
    "apiBroadcast": "api_broadcast",
    "apiPush": "api_push",
    "apiMulticast": "api_multicast",
    "apiNarrowcast": "api_narrowcast",
    "apiReply": "api_reply",
}


class MessagingApiError(Exception):
    """A call that did not give an answer we can use. `http_status` is the HTTP status (0: none came)."""

    retryable = False

    def __init__(self, message: str, *, status: int = 0):
        super().__init__(message)
        self.http_status = status


class ChannelUnauthorized(MessagingApiError):
    """401: LINE does not accept the token (mistyped, reissued or revoked)."""


class MessagingApiUnavailable(MessagingApiError):
    """429, 5xx, a time-out or no connection: the same call may succeed later."""

    retryable = True


@dataclass(frozen=True)
class BotInfo:
    basic_id: str
    premium_id: str | None
    display_name: str


@dataclass(frozen=True)
class Quota:
    """What LINE lets the account send this month: `limit` None when it sets no limit (type "none")."""

    limit: int | None


@dataclass(frozen=True)
class Deliveries:
    """One day's delivered messages by kind. Only a `ready` day is final; LINE omits the counts otherwise."""

    day: date
    status: str  # ready, unready or out_of_service
    counts: dict[str, int]

    @property
    def ready(self) -> bool:
        return self.status == "ready"


class MessagingApiClient:
    """The calls this project makes with one channel's token. Use it as a context manager (it holds a pool)."""

    @sensitive_variables("token")
    def __init__(self, token: str):
        host = settings.LINE_MESSAGING_API_BASE.rstrip("/") or None
        self._timeout = (
            settings.LINE_MESSAGING_API_CONNECT_TIMEOUT_SECONDS,
            settings.LINE_MESSAGING_API_TIMEOUT_SECONDS,
        )
        messaging_configuration = sdk_configuration(messaging, host=host, token=token)
        insight_configuration = sdk_configuration(insight, host=host, token=token)
        for configuration in (messaging_configuration, insight_configuration):
            configuration.retries = False  # we retry, with back-off, where it is safe
        self._messaging_client = messaging.ApiClient(messaging_configuration)
        self._insight_client = insight.ApiClient(insight_configuration)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        for client in (self._messaging_client, self._insight_client):
            client.close()
            client.rest_client.pool_manager.clear()  # the SDK's close() leaves its connections open

    @sensitive_variables("token")
    def use_token(self, token: str) -> None:
        """Make the next calls with another channel's token, on the connections already open (a reader thread
        reads channel after channel: a new TLS connection to LINE for each would cost more than the call)."""
        for client in (self._messaging_client, self._insight_client):
            client.configuration.access_token = token  # what the SDK puts in each call's Authorization header
            client.set_default_header("Authorization", f"Bearer {token}")

    def bot_info(self) -> BotInfo:
        answer = self._call(messaging.MessagingApi(self._messaging_client).get_bot_info)
        return BotInfo(basic_id=answer.basic_id, premium_id=answer.premium_id, display_name=answer.display_name)

    def quota(self) -> Quota:
        answer = self._call(messaging.MessagingApi(self._messaging_client).get_message_quota)
        return Quota(limit=answer.value if answer.type == messaging.QuotaType.LIMITED else None)

    def consumption(self) -> int:
        """Billed messages sent this month so far (LINE's month: see MonthlyUsage.final)."""
        return self._call(messaging.MessagingApi(self._messaging_client).get_message_quota_consumption).total_usage

    def deliveries(self, day: date) -> Deliveries:
        answer = self._call(insight.Insight(self._insight_client).get_number_of_message_deliveries, f"{day:%Y%m%d}")
        counts = {code: getattr(answer, field) or 0 for code, field in DELIVERY_FIELDS.items()}
        return Deliveries(day=day, status=answer.status or "unready", counts=counts)

    def _call(self, operation, *args):
        try:
            return operation(*args, _request_timeout=self._timeout)
        except (MessagingApiException, InsightApiException) as error:
            raise api_error(error.status or 0) from None
        except urllib3.exceptions.HTTPError as error:  # time-outs, refused connections, broken answers
            raise MessagingApiUnavailable(f"no answer from the Messaging API ({type(error).__name__})") from None
        except ValueError as error:  # an answer the SDK's models refuse (pydantic's errors are ValueErrors)
            raise MessagingApiError(f"an answer the SDK could not read ({type(error).__name__})") from None


@sensitive_variables("token")
def sdk_configuration(module, *, host: str | None, token: str):
    """The SDK module's Configuration. Making one sets the `urllib3` logger (every HTTP client's in the process:
    LINE Pay's and TapPay's too) and the SDK's own to WARNING; the levels our logging set are put back."""
    names = ("urllib3", module.__name__)
    levels = {name: logging.getLogger(name).level for name in names}
    configuration = module.Configuration(host=host, access_token=token)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    return configuration


def api_error(status: int) -> MessagingApiError:
    """Our error for an HTTP status the SDK raised on (0: it got none, e.g. a TLS failure)."""
    if status == 401:
        return ChannelUnauthorized("the Messaging API refused the channel access token (401)", status=status)
    if status == 429 or status >= 500 or status == 0:
        return MessagingApiUnavailable(f"the Messaging API is busy or failing ({status})", status=status)
    return MessagingApiError(f"the Messaging API refused the call ({status})", status=status)
