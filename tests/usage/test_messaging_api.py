"""The Messaging API client (line-bot-sdk v3) against the fake Messaging API: what it reads, and how each failure
comes out."""

import logging
import time
from datetime import date

import pytest

from usage.messaging_api import (
    ChannelUnauthorized,
    MessagingApiClient,
    MessagingApiError,
    MessagingApiUnavailable,
    api_error,
)

TOKEN = "fake-channel-access-token-of-ming-cafe"
NOV_3 = date(2026, 11, 3)


@pytest.fixture
def line(fake_messaging_api):
    fake_messaging_api.month = date(2026, 11, 1)
    fake_messaging_api.channel(TOKEN, basic_id="@ming-cafe", display_name="小明咖啡", quota_limit=16000)
    return fake_messaging_api


def test_it_reads_the_bot_the_quota_and_the_months_consumption(line):
    # given 1,200 pushes and 300 replies this month, and 500 pushes last month
    line.deliver(TOKEN, NOV_3, "apiPush", 1200)
    line.deliver(TOKEN, NOV_3, "apiReply", 300)
    line.deliver(TOKEN, date(2026, 10, 31), "apiPush", 500)
    # when
    with MessagingApiClient(TOKEN) as client:
        bot, quota, consumption = client.bot_info(), client.quota(), client.consumption()
    # then only this month's billed messages are consumed
    assert (bot.basic_id, bot.premium_id, bot.display_name) == ("@ming-cafe", None, "小明咖啡")
    assert quota.limit == 16000
    assert consumption == 1200
    assert line.calls == {"bot_info": 1, "quota": 1, "consumption": 1}


def test_a_quota_without_a_limit_has_none(line):
    line.channels[TOKEN].quota_limit = None
    with MessagingApiClient(TOKEN) as client:
        assert client.quota().limit is None


def test_a_ready_day_gives_every_kind_with_zero_for_those_line_leaves_out(line):
    # given
    line.deliver(TOKEN, NOV_3, "apiPush", 40)
    line.deliver(TOKEN, NOV_3, "broadcast", 2000)
    line.deliver(TOKEN, NOV_3, "welcomeResponse", 7)
    # when
    with MessagingApiClient(TOKEN) as client:
        day = client.deliveries(NOV_3)
    # then
    assert (day.day, day.status, day.ready) == (NOV_3, "ready", True)
    assert day.counts == {
        "broadcast": 2000,
        "targeting": 0,
        "autoResponse": 0,
        "welcomeResponse": 7,
        "chat": 0,
        "apiBroadcast": 0,
        "apiPush": 40,
        "apiMulticast": 0,
        "apiNarrowcast": 0,
        "apiReply": 0,
    }
    assert line.requests == [("GET", "/v2/bot/insight/message/delivery")]


def test_an_unready_day_is_not_ready_and_counts_nothing(line):
    line.deliver(TOKEN, NOV_3, "apiPush", 40)
    line.fail_next("unready")
    with MessagingApiClient(TOKEN) as client:
        day = client.deliveries(NOV_3)
    assert (day.status, day.ready, sum(day.counts.values())) == ("unready", False, 0)


def test_a_token_line_does_not_know_is_unauthorized(line):
    with MessagingApiClient("a-mistyped-token") as client, pytest.raises(ChannelUnauthorized) as refused:
        client.bot_info()
    assert (refused.value.http_status, refused.value.retryable) == (401, False)
    assert line.calls == {}


@pytest.mark.parametrize("fault", ["429", "500"])
def test_busy_or_failing_answers_are_worth_retrying_and_are_not_retried_by_the_sdk(line, fault):
    # given
    line.fail_next(fault)
    # when
    with MessagingApiClient(TOKEN) as client, pytest.raises(MessagingApiUnavailable) as failed:
        client.consumption()
    # then one request only: we decide when to try again
    assert (failed.value.http_status, failed.value.retryable) == (int(fault), True)
    assert line.requests == [("GET", "/v2/bot/message/quota/consumption")]
    # and the next call goes through
    with MessagingApiClient(TOKEN) as client:
        assert client.consumption() == 0


def test_a_late_answer_is_a_retryable_time_out_after_the_configured_seconds(line):
    line.fail_next("timeout")
    started = time.monotonic()
    with MessagingApiClient(TOKEN) as client, pytest.raises(MessagingApiUnavailable) as failed:
        client.quota()
    assert time.monotonic() - started < 1.4  # the client's 0.5 s, not the fake's 1.5 s
    assert (failed.value.http_status, failed.value.retryable) == (0, True)


def test_no_server_at_the_address_is_retryable(line, settings):
    line.stop()
    with MessagingApiClient(TOKEN) as client, pytest.raises(MessagingApiUnavailable):
        client.bot_info()


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (401, ChannelUnauthorized, False),
        (400, MessagingApiError, False),
        (403, MessagingApiError, False),
        (404, MessagingApiError, False),
        (429, MessagingApiUnavailable, True),
        (500, MessagingApiUnavailable, True),
        (503, MessagingApiUnavailable, True),
        (0, MessagingApiUnavailable, True),
    ],
)
def test_each_status_the_sdk_raises_on_becomes_one_of_our_errors(status, error, retryable):
    mapped = api_error(status)
    assert (type(mapped), mapped.http_status, mapped.retryable) == (error, status, retryable)


def test_making_a_client_leaves_the_loggers_levels_as_logging_set_them(line):
    # given levels of our choosing (the SDK's Configuration sets both to WARNING when it is made)
    urllib3_logger, sdk_logger = logging.getLogger("urllib3"), logging.getLogger("linebot.v3.messaging")
    previous = urllib3_logger.level, sdk_logger.level
    urllib3_logger.setLevel(logging.DEBUG)
    sdk_logger.setLevel(logging.INFO)
    try:
        # when
        MessagingApiClient(TOKEN).close()
        # then
        assert (urllib3_logger.level, sdk_logger.level) == (logging.DEBUG, logging.INFO)
    finally:
        urllib3_logger.setLevel(previous[0])
        sdk_logger.setLevel(previous[1])
