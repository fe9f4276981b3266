"""The month's run at scale: subscriptions in batches, over several worker processes, one fault isolated.

`renew_due` is what the renew_subscriptions command runs; the command only reads its options and prints.
"""

import logging
import multiprocessing
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connections
from django.utils import timezone

from accounts.batches import each_alone_on_failure
from billing.models import RenewalRun
from billing.renewals.batches import renew_batch
from billing.renewals.recovery import renewal_recover, renewals_in_doubt
from billing.renewals.runs import Totals, plans_by_pk

logger = logging.getLogger(__name__)


def renew_chunk(args) -> Totals:
    """Renew a chunk of subscriptions as one batch (in this process or a forked worker); returns its totals.

    If the batch fails before any charge left (its claim rolled back), its subscriptions are renewed one
    by one, so that one faulty subscription does not hold back the others.
    """
    ids, as_of, run_id = args
    run = RenewalRun.objects.get(pk=run_id)
    plans = plans_by_pk()
    totals = Totals()
    each_alone_on_failure(
        ids,
        lambda batch: renew_batch(batch, as_of=as_of, run=run, totals=totals, plans=plans),
        lambda subscription_id, error: _count_fault(totals, subscription_id, error),
        what="renewals",
    )
    return totals


def _count_fault(totals: Totals, subscription_id: int, error: Exception) -> Totals:
    logger.exception("renewal of subscription %s failed", subscription_id)
    totals.pending += 1  # left 'charging' or unclaimed: recovery or the next run settles it
    totals.failures.append({"subscription": subscription_id, "period": "", "reason": repr(error)[:200]})
    return totals


def renew_due(
    ids: list[int],
    *,
    as_of: datetime,
    run: RenewalRun,
    totals: Totals,
    workers: int,
    batch_size: int,
    progress: Callable[[int], None] = lambda done: None,
) -> None:
    """Renew `ids` in batches of `batch_size`. One worker renews in this process; several are forked processes
    (Python threads would share one core), each with its own database connection. Their claims never collide:
    SKIP LOCKED. `progress` is told how many subscriptions each finished batch accounted for."""
    chunks = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    if workers == 1:
        for chunk in chunks:
            totals.merge(renew_chunk((chunk, as_of, run.pk)))
            progress(len(chunk))
        return
    connections.close_all()  # a forked child must not share the parent's connection
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for chunk_totals in pool.imap_unordered(renew_chunk, [(chunk, as_of, run.pk) for chunk in chunks]):
            totals.merge(chunk_totals)
            progress(chunk_totals.renewed + chunk_totals.failed + chunk_totals.skipped + chunk_totals.pending)


def recover_in_doubt(*, as_of: datetime, totals: Totals, recover_after: int) -> None:
    """Settle the renewals a dead run left `charging` for longer than `recover_after` seconds."""
    for renewal in renewals_in_doubt(older_than=timezone.now() - timedelta(seconds=recover_after)):
        try:
            renewal_recover(renewal=renewal, as_of=as_of, totals=totals)
        except Exception:  # noqa: BLE001 - one stuck renewal must not block the month's run
            logger.exception("recovery of renewal %s failed", renewal.pk)
            totals.pending += 1
