"""The month's run at scale: subscriptions in batches, over several worker processes, one fault isolated.

`renew_due` is what the renew_subscriptions command runs; the command only reads its options and prints.
"""

import logging
import multiprocessing
import queue
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.db import connections
from django.utils import timezone

from accounts.batches import each_alone_on_failure
from billing.models import RenewalRun
from billing.renewals.batches import RenewalStream, claim_batch, renew_batch
from billing.renewals.recovery import renewal_recover, renewals_in_doubt
from billing.renewals.runs import Totals, plans_by_pk
from payments.gateways import gateway

logger = logging.getLogger(__name__)


def renew_chunks(
    chunks: Iterator[list[int]], *, as_of: datetime, run_id: int, progress: Callable[[int], None] = lambda done: None
) -> Totals:
    """Renew chunk after chunk of subscriptions, each claimed as one batch; returns their totals.

    If a batch fails before any charge left (its claim rolled back), its subscriptions are renewed one by one,
    so that one faulty subscription does not hold back the others. To a gateway that takes one order per
    request, the charges of all the chunks go through one continuous pool (RenewalStream): the next chunk is
    claimed while the last one's orders are still in flight, so the gateway's slots never wait for a claim.
    `progress` is told how many subscriptions were accounted for, as they are.
    """
    run = RenewalRun.objects.get(pk=run_id)
    plans = plans_by_pk()
    totals = Totals()
    reported = 0

    def report() -> None:
        nonlocal reported
        done = totals.renewed + totals.failed + totals.skipped + totals.pending
        if done > reported:
            progress(done - reported)
            reported = done

    pools = gateway().charge_pools()
    if pools is None:  # many orders in one call: each chunk claimed, charged and settled in turn
        for ids in chunks:
            each_alone_on_failure(
                ids,
                lambda batch: renew_batch(batch, as_of=as_of, run=run, totals=totals, plans=plans),
                lambda subscription_id, error: _count_fault(totals, subscription_id, error),
                what="renewals",
            )
            report()
        return totals
    with RenewalStream(
        pools, as_of=as_of, totals=totals, lone_fault=lambda renewal_id, error: _count_fault(totals, None, error)
    ) as stream:
        in_flight, ahead = sum(pools.size(name) for name in stream.gateways), 0
        for ids in chunks:
            # the next batch is claimed while one round of orders or more is still to go: about one batch, but
            # no more than 8 rounds (a long queue here would be one worker's alone at the end of the run)
            stream.drain(below=max(in_flight, min(ahead, 8 * in_flight)))
            ahead = len(ids)
            each_alone_on_failure(
                ids,
                lambda batch: stream.add(claim_batch(batch, as_of=as_of, run=run, totals=totals, plans=plans)),
                lambda subscription_id, error: _count_fault(totals, subscription_id, error),
                what="renewals",
            )
            report()
        stream.drain()
    report()
    return totals


def _count_fault(totals: Totals, subscription_id: int | None, error: Exception) -> Totals:
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
    (Python threads would share one core), each with its own database connection, each taking the next batch
    as it needs one. Their claims never collide: SKIP LOCKED. `progress` is told how many subscriptions were
    accounted for, as they are."""
    chunks = batches(ids, batch_size, workers)
    if workers == 1:
        totals.merge(renew_chunks(iter(chunks), as_of=as_of, run_id=run.pk, progress=progress))
        return
    connections.close_all()  # a forked child must not share the parent's connection
    context = multiprocessing.get_context("fork")
    next_chunk = context.Value("i", 0)
    messages = context.Queue()
    processes = [
        context.Process(target=_worker, args=(index, chunks, next_chunk, messages, as_of, run.pk))
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    finished, errors = set(), []
    while len(finished) < workers:
        try:
            kind, index, value = messages.get(timeout=1)
        except queue.Empty:
            for index, process in enumerate(processes):
                if index not in finished and process.exitcode is not None and messages.empty():
                    finished.add(index)
                    errors.append(f"worker {index} died (exit code {process.exitcode})")
            continue
        if kind == "progress":
            progress(value)
        elif kind == "done":
            totals.merge(value)
            finished.add(index)
        else:
            errors.append(value)
            finished.add(index)
    for process in processes:
        process.join()
    if errors:
        raise RuntimeError("renewal workers failed:\n" + "\n".join(errors))


def batches(ids: list[int], batch_size: int, workers: int) -> list[list[int]]:
    """`ids` in batches of `batch_size`; with several workers, the last ones smaller and smaller (each at most
    1/(2 × workers) of what is left, and at least 10), so the workers finish together, not one alone with a
    whole batch. (Small first batches, tried so that the first orders leave sooner, put the workers in step:
    their settlements then queue for the invoice number range together, and PostgreSQL's CPU for 40,000
    renewals went from 14 s to 65 s.)"""
    if workers == 1:
        return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    chunks, start = [], 0
    while start < len(ids):
        size = min(batch_size, max(10, -(-(len(ids) - start) // (2 * workers))))
        chunks.append(ids[start : start + size])
        start += size
    return chunks


def _worker(index: int, chunks: list, next_chunk, messages, as_of: datetime, run_id: int) -> None:
    """One forked worker: takes the next batch until none is left, and sends its totals back."""

    def take() -> Iterator[list[int]]:
        while True:
            with next_chunk.get_lock():
                taken = next_chunk.value
                next_chunk.value += 1
            if taken >= len(chunks):
                return
            yield chunks[taken]

    try:
        totals = renew_chunks(
            take(), as_of=as_of, run_id=run_id, progress=lambda done: messages.put(("progress", index, done))
        )
        messages.put(("done", index, totals))
    except BaseException:  # noqa: BLE001 - told to the parent, which fails the run
        messages.put(("error", index, traceback.format_exc()))
    finally:
        connections.close_all()
        messages.close()
        messages.join_thread()


def recover_in_doubt(*, as_of: datetime, totals: Totals, recover_after: int) -> None:
    """Settle the renewals a dead run left `charging` for longer than `recover_after` seconds."""
    for renewal in renewals_in_doubt(older_than=timezone.now() - timedelta(seconds=recover_after)):
        try:
            renewal_recover(renewal=renewal, as_of=as_of, totals=totals)
        except Exception:  # noqa: BLE001 - one stuck renewal must not block the month's run
            logger.exception("recovery of renewal %s failed", renewal.pk)
            totals.pending += 1
