"""Usage read from each connected channel's Messaging API (SPEC §7): the days by kind, and this month's billed total,
which is the figure billing trusts. What `sync_message_usage` runs.

Safe to run again (a figure LINE gave before is written again only if it changed) and on several hosts at once
(each channel is claimed for a while before it is read). A 429, a 5xx or a time-out is tried again with back-off;
a 401 disconnects the channel and tells the account's admins; any other failure leaves the channel's figures as
they were and is counted.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_records_save
from accounts.models import OfficialAccount
from accounts.notices import notify_admins
from accounts.periods import BILLING_TZ, month_start, next_month_start
from usage.figures import figures_set
from usage.messaging_api import ChannelUnauthorized, Deliveries, MessagingApiClient, MessagingApiError
from usage.models import ChannelStatus, DailyUsage, MessageKind, MessagingChannel, MonthlyUsage, UsageSource
from usage.services import messaging_channel_disconnect
from usage.tokens import TokenUnreadable, token_decrypt

logger = logging.getLogger(__name__)
API = UsageSource.API

CLAIM = timedelta(minutes=5)
ATTEMPTS = 4
BACKOFF_SECONDS = 1.0  # then 2 s, 4 s; the tests make it small
# LINE counts a month's messages from 22:59 (UTC+8) on its last day in the next month: from then on the
# month's consumption no longer moves, and it is the final figure a renewal bills.
MONTH_CLOSES_AT = (22, 59)


@dataclass
class SyncTotals:
    channels: int = 0
    figures_changed: int = 0
    skipped: int = 0  # claimed by another run
    disconnected: int = 0
    failed: list[str] = field(default_factory=list)

    def merge(self, other: "SyncTotals") -> None:
        self.channels += other.channels
        self.figures_changed += other.figures_changed
        self.skipped += other.skipped
        self.disconnected += other.disconnected
        self.failed += other.failed


@dataclass(frozen=True)
class Reading:
    days: list[Deliveries]
    consumption: int | None  # this month's billed total, when it was asked for


def month_is_closed(month: date, now: datetime) -> bool:
    """Whether LINE has stopped counting `month` (see MONTH_CLOSES_AT)."""
    last_day = next_month_start(month) - timedelta(days=1)
    closes = datetime(last_day.year, last_day.month, last_day.day, *MONTH_CLOSES_AT, tzinfo=BILLING_TZ)
    return now >= closes


def connected_channels(account_id: int | None = None) -> list[int]:
    channels = MessagingChannel.objects.filter(status=ChannelStatus.CONNECTED)
    if account_id is not None:
        channels = channels.filter(account_id=account_id)
    return list(channels.order_by("pk").values_list("pk", flat=True))


def _free(now: datetime) -> Q:
    return Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now)


def channel_claim(channel_id: int, now: datetime) -> bool:
    claimed = MessagingChannel.objects.filter(_free(now), pk=channel_id, status=ChannelStatus.CONNECTED)
    return claimed.update(sync_claimed_until=now + CLAIM) == 1


def channels_claim(channel_ids: list[int], now: datetime) -> list[MessagingChannel]:
    """Claim those of `channel_ids` that are connected and that no other run holds, in one transaction; returns
    them, with their accounts. Rows another run is claiming at this moment are skipped, not waited for."""
    with transaction.atomic():
        channels = list(
            MessagingChannel.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account")
            .filter(_free(now), pk__in=channel_ids, status=ChannelStatus.CONNECTED)
            .order_by("pk")
        )
        claimed = MessagingChannel.objects.filter(_free(now), pk__in=[channel.pk for channel in channels])
        if claimed.update(sync_claimed_until=now + CLAIM) == len(channels):
            return channels
        # Another run claimed some between the read and the write: possible only where SELECT ... FOR UPDATE locks
        # nothing (SQLite). Undo, and claim them one by one: each claim is a single conditional UPDATE.
        transaction.set_rollback(True)
    claimed = [channel for channel in channels if channel_claim(channel.pk, now)]
    return claimed


def with_retries(call: Callable, *, attempts: int = ATTEMPTS):
    for attempt in range(attempts):
        try:
            return call()
        except MessagingApiError as error:
            if not error.retryable or attempt == attempts - 1:
                raise
            time.sleep(BACKOFF_SECONDS * 2**attempt)
    raise AssertionError("unreachable")


def read_with(client: MessagingApiClient, *, days: list[date], month: date | None) -> Reading:
    deliveries = [with_retries(lambda day=day: client.deliveries(day)) for day in days]
    consumption = with_retries(client.consumption) if month is not None else None
    return Reading(deliveries, consumption)


class Readers:
    """The reader threads' Messaging API clients: one per thread, kept from channel to channel (with its open
    connections to LINE), all closed at the end of the run."""

    def __init__(self):
        self._local = threading.local()
        self._clients: list[MessagingApiClient] = []
        self._lock = threading.Lock()

    def read(self, token_encrypted: str, *, days: list[date], month: date | None) -> Reading:
        """What a reader thread does: LINE's answers for one channel, and nothing with the database."""
        token = token_decrypt(token_encrypted)
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = MessagingApiClient(token)
            with self._lock:
                self._clients.append(client)
        else:
            client.use_token(token)
        return read_with(client, days=days, month=month)

    def close(self) -> None:
        for client in self._clients:
            client.close()


def channels_record(
    batch: list[tuple[MessagingChannel, Future]], *, kinds: dict, month: date | None, now: datetime, dry_run: bool
) -> SyncTotals:
    """Record the readings of claimed channels that came back (or what went wrong reading them) and let the
    channels go: what LINE said of all of them in one transaction."""
    totals, read = SyncTotals(), []
    for channel, future in batch:
        totals.channels += 1
        try:
            read.append((channel, future.result()))
        except ChannelUnauthorized:
            _disconnect(channel)
            totals.disconnected += 1
        except (MessagingApiError, TokenUnreadable) as error:
            logger.warning("usage of channel %s not read: %s", channel.pk, error)
            MessagingChannel.objects.filter(pk=channel.pk).update(last_error=str(error)[:200], sync_claimed_until=None)
            totals.failed.append(f"{channel.account.basic_id}: {error}")
    if read:
        with transaction.atomic():
            if not dry_run:
                readings = [(channel.account, reading) for channel, reading in read]
                totals.figures_changed += usage_record(readings, month=month, now=now, kinds=kinds)
            MessagingChannel.objects.filter(pk__in=[channel.pk for channel, _ in read]).update(
                last_synced_at=timezone.now(), last_error="", sync_claimed_until=None
            )
    return totals


def _disconnect(channel: MessagingChannel) -> None:
    account = channel.account
    messaging_channel_disconnect(account=account, actor=None, reason="LINE refused the channel access token (401)")
    transaction.on_commit(lambda: notify_admins(account=account, notice="channel_disconnected"))


def usage_record(
    readings: list[tuple[OfficialAccount, Reading]], *, month: date | None, now: datetime, kinds: dict | None = None
) -> int:
    """Write what LINE said of some accounts: a day's kinds (final when the day is `ready`; nothing for a day LINE
    has no figures for yet), and the month's billed total (final once the month has closed). Returns the figures
    changed. `kinds`: MessageKind by code, when the caller has them already."""
    if kinds is None:
        kinds = {kind.code: kind for kind in MessageKind.objects.all()}
    kinds_by_pk = {kind.pk: kind for kind in kinds.values()}
    accounts = {account.pk: account for account, _ in readings}
    recorded = {
        account.pk: [
            day for day in reading.days if day.status != "out_of_service" and (day.ready or any(day.counts.values()))
        ]
        for account, reading in readings
    }
    with transaction.atomic(savepoint=False):  # the caller's transaction, when there is one
        stored_days, stored_months = {}, {}
        days = {day.day for account_days in recorded.values() for day in account_days}
        if days:
            rows = DailyUsage.objects.filter(account_id__in=accounts, day__in=days).order_by()
            for row in rows:
                row.account, row.kind = accounts[row.account_id], kinds_by_pk[row.kind_id]  # for the audit entries
                stored_days[row.account_id, row.day, row.kind_id] = row
        if month is not None:
            for row in MonthlyUsage.objects.filter(account_id__in=accounts, month=month).order_by():
                row.account = accounts[row.account_id]
                stored_months[row.account_id] = row
        changes = []
        for account, reading in readings:
            for day in recorded[account.pk]:
                for code, count in day.counts.items():
                    kind = kinds.get(code)
                    key = (account.pk, day.day, kind.pk if kind else None)
                    if kind is None or (count == 0 and key not in stored_days):
                        continue
                    row = stored_days.get(key) or DailyUsage(account=account, day=day.day, kind=kind)
                    changes.append((row, {"count": count, "final": day.ready, "source": API}))
            if reading.consumption is not None and month is not None:
                row = stored_months.get(account.pk) or MonthlyUsage(account=account, month=month)
                values = {"billed_messages": reading.consumption, "final": month_is_closed(month, now), "source": API}
                changes.append((row, values))
        records = figures_set(changes, actor=None, action="usage.sync")
        audit_records_save(records)
    return len(records)


def sync_all(
    channel_ids: list[int],
    *,
    days: list[date],
    month: date | None,
    workers: int = 4,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda done: None,
) -> SyncTotals:
    """Sync the channels with `workers` calls to LINE in flight.

    `workers` reader threads only talk to LINE, one call at a time each, so that every one of them always has a
    call out; this thread does all the database work: it claims the channels a few dozen at a time (just ahead of
    the readers, so a claim never runs out before its channel is read) and records each reading as it comes back.
    """
    now = timezone.now()
    totals = SyncTotals()
    kinds = {kind.code: kind for kind in MessageKind.objects.all()}
    low, high = max(workers, 1), 3 * max(workers, 1)  # channels handed to the readers: topped up to `high`
    pending = iter(channel_ids)
    readers = Readers()
    with closing(readers), ThreadPoolExecutor(max(workers, 1), thread_name_prefix="usage-sync") as pool:
        reading: dict[Future, MessagingChannel] = {}
        more = True
        while more or reading:
            if more and len(reading) <= low:
                chunk = list(islice(pending, high - len(reading)))
                more = bool(chunk)
                # claimed as of now, not as of the run's start: a long run's last claims must not be born expired
                claimed = channels_claim(chunk, timezone.now()) if chunk else []
                totals.skipped += len(chunk) - len(claimed)
                progress(len(chunk) - len(claimed))
                for channel in claimed:
                    read = pool.submit(readers.read, channel.token_encrypted, days=days, month=month)
                    reading[read] = channel
                if not reading:
                    continue
            done, _ = wait(reading, return_when=FIRST_COMPLETED)
            # all that came back while the last batch was being recorded, recorded together
            batch = sorted(((reading.pop(read), read) for read in done), key=lambda pair: pair[0].pk)
            totals.merge(channels_record(batch, kinds=kinds, month=month, now=now, dry_run=dry_run))
            progress(len(batch))
    return totals


def days_of(month: date, today: date) -> list[date]:
    """The days of `month` up to yesterday (LINE has no figures for today yet)."""
    first, end = month_start(month), min(next_month_start(month), today)
    return [first + timedelta(days=n) for n in range((end - first).days)]
