"""sync_message_usage against the fake Messaging API through line-bot-sdk: days by kind and the month's billed total,
a rerun that changes nothing, and each fault: 401, 429, 500, a time-out, an unready day, two runs at once."""

from datetime import date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from tests.factories import MembershipFactory, MessagingChannelFactory
from usage import sync
from usage.models import ChannelStatus, DailyUsage, MessagingChannel, MonthlyUsage
from usage.sync import channel_claim, month_is_closed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
NOW = datetime(2026, 11, 16, 3, tzinfo=BILLING_TZ)
YESTERDAY = date(2026, 11, 15)
TOKEN = "sync-test-channel-access-token"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(sync, "BACKOFF_SECONDS", 0.01)


@pytest.fixture
def channel(fake_messaging_api):
    channel = MessagingChannelFactory(token=TOKEN)
    MembershipFactory(account=channel.account, user__email="owner@shop.tw")
    fake_messaging_api.month = date(2026, 11, 1)
    fake_messaging_api.channel(TOKEN, basic_id=channel.account.basic_id)
    fake_messaging_api.deliver(TOKEN, YESTERDAY, "apiPush", 1200)
    fake_messaging_api.deliver(TOKEN, YESTERDAY, "apiReply", 300)
    fake_messaging_api.deliver(TOKEN, date(2026, 11, 3), "broadcast", 800)
    return channel


def run(*args) -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        try:
            call_command("sync_message_usage", "--workers", "1", *args, stdout=out, stderr=out)
        except SystemExit:
            out.write("EXIT 1")
    return out.getvalue()


def days(account):
    return sorted(DailyUsage.objects.filter(account=account).values_list("day", "kind__code", "count", "final"))


def test_yesterday_by_kind_and_the_months_total_are_recorded_then_a_rerun_changes_nothing(channel):
    output = run()
    assert days(channel.account) == [(YESTERDAY, "apiPush", 1200, True), (YESTERDAY, "apiReply", 300, True)]
    month = MonthlyUsage.objects.get(account=channel.account)
    assert (month.month, month.billed_messages, month.source, month.final) == (date(2026, 11, 1), 2000, "api", False)
    assert "1 channels read" in output and "3 figures changed" in output
    audited = AuditRecord.objects.filter(action="usage.sync").count()
    assert "0 figures changed" in run()
    assert AuditRecord.objects.filter(action="usage.sync").count() == audited
    assert MessagingChannel.objects.get().last_synced_at is not None


def test_a_month_is_read_day_by_day_up_to_yesterday(channel, fake_messaging_api):
    run("--month", "2026-11")
    assert (date(2026, 11, 3), "broadcast", 800, True) in days(channel.account)
    assert fake_messaging_api.calls["delivery"] == 15  # the 1st to the 15th


def test_a_401_disconnects_the_channel_and_tells_the_admins(
    channel, fake_messaging_api, django_capture_on_commit_callbacks
):
    fake_messaging_api.fail_next("401")
    with django_capture_on_commit_callbacks(execute=True):
        output = run()
    channel.refresh_from_db()
    assert (channel.status, channel.token_encrypted) == (ChannelStatus.DISCONNECTED, "")
    assert "1 disconnected" in output
    assert [m.subject for m in mail.outbox] == [
        f"[LINE Official Account] The Messaging API channel of {channel.account.name} was disconnected"
    ]
    assert DailyUsage.objects.count() == 0


@pytest.mark.parametrize("fault", ["429", "500", "timeout"])
def test_a_passing_fault_is_tried_again_and_the_figures_arrive(channel, fake_messaging_api, fault):
    fake_messaging_api.fail_next(fault, times=2)
    output = run()
    assert "0 failed" in output
    assert len(days(channel.account)) == 2


def test_a_fault_that_lasts_leaves_the_figures_as_they_were_and_exits_1(channel, fake_messaging_api):
    fake_messaging_api.fail_next("500", times=10)
    output = run()
    assert "1 failed" in output and "EXIT 1" in output
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.CONNECTED and channel.last_error and channel.sync_claimed_until is None
    assert (DailyUsage.objects.count(), MonthlyUsage.objects.count()) == (0, 0)


def test_an_unready_day_is_not_recorded_until_line_has_counted_it(channel, fake_messaging_api):
    fake_messaging_api.unready(TOKEN, YESTERDAY)
    run("--date", "2026-11-15")
    assert days(channel.account) == []


def test_a_channel_another_run_holds_is_left_to_it(channel):
    assert channel_claim(channel.pk, NOW)  # another host's run, a moment ago
    output = run()
    assert "1 held by another run" in output and "0 channels read" in output
    assert DailyUsage.objects.count() == 0


def test_the_month_closes_at_22_59_on_its_last_day_taipei_time():
    month = date(2026, 11, 1)
    assert not month_is_closed(month, datetime(2026, 11, 30, 22, 58, tzinfo=BILLING_TZ))
    assert month_is_closed(month, datetime(2026, 11, 30, 22, 59, tzinfo=BILLING_TZ))
    assert month_is_closed(month, datetime(2026, 12, 1, tzinfo=BILLING_TZ) - timedelta(seconds=1))


def test_a_dry_run_reads_but_writes_nothing(channel):
    output = run("--dry-run")
    assert "dry run" in output
    assert (DailyUsage.objects.count(), MonthlyUsage.objects.count()) == (0, 0)


@pytest.mark.parametrize("args", [["--date", "2026-13-01"], ["--month", "11-2026"], ["--workers", "0"]])
def test_bad_options_are_refused_with_a_message(args):
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("sync_message_usage", *args, stdout=StringIO())


@pytest.mark.parametrize("workers", ["1", "4"])  # one reader for both, or both read at once and recorded together
def test_one_reader_reads_channel_after_channel_each_with_its_own_token(channel, fake_messaging_api, workers):
    # given a second connected channel, whose token LINE knows, with its own day
    other = MessagingChannelFactory(token="sync-test-second-channel-token")
    fake_messaging_api.channel("sync-test-second-channel-token", basic_id=other.account.basic_id)
    fake_messaging_api.deliver("sync-test-second-channel-token", YESTERDAY, "broadcast", 40)
    # when they are read, by one reader thread on one client, or by several
    output = run("--workers", workers)
    # then each channel's figures are its own (LINE answers a call with the wrong token 401)
    assert "2 channels read" in output and "0 disconnected" in output and "0 failed" in output
    assert days(channel.account) == [(YESTERDAY, "apiPush", 1200, True), (YESTERDAY, "apiReply", 300, True)]
    assert days(other.account) == [(YESTERDAY, "broadcast", 40, True)]
    assert MonthlyUsage.objects.get(account=other.account).billed_messages == 40


def test_a_figure_line_changes_is_written_again_with_its_audit_record(channel, fake_messaging_api):
    # given yesterday and the month as LINE gave them an hour ago
    run()
    # when LINE's figures for yesterday have grown since
    fake_messaging_api.deliver(TOKEN, YESTERDAY, "apiPush", 100)
    output = run()
    # then the two figures that moved are written again, each with its before and after
    assert "2 figures changed" in output
    assert days(channel.account) == [(YESTERDAY, "apiPush", 1300, True), (YESTERDAY, "apiReply", 300, True)]
    assert MonthlyUsage.objects.get(account=channel.account).billed_messages == 2100
    changes = AuditRecord.objects.filter(action="usage.sync", before__isnull=False).order_by("object_type")
    assert [(r.object_type, r.before, r.after, r.account_id) for r in changes] == [
        (
            "usage.dailyusage",
            {"count": 1200, "final": True, "source": "api"},
            {"count": 1300, "final": True, "source": "api"},
            channel.account.pk,
        ),
        (
            "usage.monthlyusage",
            {"billed_messages": 2000, "final": False, "source": "api"},
            {"billed_messages": 2100, "final": False, "source": "api"},
            channel.account.pk,
        ),
    ]
