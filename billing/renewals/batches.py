"""Renewing a batch of subscriptions in three short steps: claim, charge (outside any transaction), settle."""

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.audit import audit_entry, audit_records_save, lock_accounts, move_status, snapshot
from accounts.batches import each_alone_on_failure
from accounts.bulk import create_rows, update_rows
from accounts.notices import notify_admins
from accounts.periods import local_date, month_start, next_month_start
from billing.extra_messages import extra_message_bills_for, extra_message_bills_save, extra_message_bills_unpaid
from billing.invoicing import issue_invoices_for
from billing.models import (
    Checkout,
    CheckoutStatus,
    Plan,
    PlanChange,
    PlanChangeKind,
    PlanCode,
    Renewal,
    RenewalRun,
    RenewalStatus,
    Subscription,
    SubscriptionStatus,
)
from billing.pricing import Quote
from billing.renewals.quotes import Pricer, drop_expired_codes, expire_closed_codes, month_ended, pricing_inputs
from billing.renewals.runs import NO_METHOD, SUBSCRIPTION_FIELDS, Totals, plans_by_pk
from payments.gateways import ChargeRequest, ChargeResult, GatewayRouter, Outcome, enabled_gateways, gateway
from payments.models import Charge, PaymentMethod
from payments.services import (
    ChargeOrder,
    charges_create,
    charges_mark_failed,
    charges_mark_succeeded,
    payment_method_mark_expired,
)
from promos.models import PromoCode
from promos.services import promo_codes_hold, promo_codes_redeem_held, promo_codes_release

logger = logging.getLogger(__name__)


# ---- a batch of subscriptions -------------------------------------------------------------------


@dataclass(eq=False)
class Attempt:
    """One renewal attempt while its batch is claimed: what to record and, perhaps, charge."""

    renewal: Renewal
    subscription: Subscription
    quote: Quote
    method: PaymentMethod | None
    code: PromoCode | None  # the locked registered code the quote applies
    tried: frozenset = frozenset()  # the methods already declined in this round (BILLING_TRY_OTHER_METHODS)


def renew_subscription(
    *, subscription_id: int, as_of: datetime, run: RenewalRun | None, totals: Totals, plans=None
) -> None:
    """Move one subscription into its next period, charging it when the new period costs money."""
    renew_batch([subscription_id], as_of=as_of, run=run, totals=totals, plans=plans)


def renew_batch(
    subscription_ids: list[int], *, as_of: datetime, run: RenewalRun | None, totals: Totals, plans=None
) -> None:
    """Renew these subscriptions (those another run holds, or that are renewed already, are skipped)."""
    charge_and_settle(
        claim_batch(subscription_ids, as_of=as_of, run=run, totals=totals, plans=plans), as_of=as_of, totals=totals
    )


def claim_batch(
    subscription_ids: list[int], *, as_of: datetime, run: RenewalRun | None, totals: Totals, plans=None
) -> list[Attempt]:
    """Step 1 for these subscriptions: returns the attempts whose charges go to the gateway."""
    expire_closed_codes(subscription_ids, as_of=as_of)
    claimed = Totals()
    attempts = _claim_batch(subscription_ids, as_of=as_of, run=run, totals=claimed, plans=plans or plans_by_pk())
    totals.merge(claimed)  # only once the claim has committed
    return attempts


def charge_and_settle(attempts: list[Attempt], *, as_of: datetime, totals: Totals) -> None:
    """Step 2 and 3. To a gateway that takes one order per request: a continuous pool (RenewalStream), each
    order sent as a slot frees up. To one that takes many orders in one call (the sandbox without a delay):
    all of them in one call, then settled.

    If settling fails, each renewal is settled on its own; one that still fails stays `charging`, for recovery
    to read back. A lone renewal's fault is raised: the caller counts it with its subscription.
    """
    if not attempts:
        return
    router = gateway()
    pools = router.charge_pools()
    if pools is None:
        _charge_and_settle_slice(router, attempts, as_of=as_of, totals=totals, alone=len(attempts) == 1)
        return
    with RenewalStream(pools, as_of=as_of, totals=totals, lone_fault=None) as stream:
        stream.add(attempts)
        stream.drain()


SETTLE_EVERY = 0.25  # seconds an answer may wait to be settled with the next ones


class RenewalStream:
    """Steps 2 and 3 for a stream of claimed attempts, through a continuous pool per gateway (ChargePools).

    An attempt waits here until its gateway's pool has room; its claim (`updated_at`) is renewed as it is handed
    over, so no recovery takes a renewal still queued here for one whose run died (it leaves for the gateway
    within about AHEAD_SECONDS of that, far less than any recovery waits). Answers are settled as they come,
    together, while the other orders are in flight; one declined goes on with the account's next method, at the
    head of the queue.

    A settlement that fails is retried renewal by renewal; one that fails alone stays `charging`, and goes to
    `lone_fault(renewal id, error)` (None: raised, as for a batch of one). Closing the stream leaves what was
    never handed over `charging`, for recovery.
    """

    def __init__(self, pools, *, as_of: datetime, totals: Totals, lone_fault):
        self.pools, self.as_of, self.totals, self.lone_fault = pools, as_of, totals, lone_fault
        self.waiting: deque[Attempt] = deque()
        self.sent: dict[int, tuple[Attempt, str]] = {}  # renewal id → (attempt, order ID)
        self.gateways = enabled_gateways()
        self.answered: list[tuple[int, ChargeResult]] = []  # answers not settled yet
        self.first_answer_at = 0.0
        self.renewals: set[int] = set()  # every renewal the stream was given (a follow-up is the same one)
        self.settle_size = max(1, min(200, 4 * sum(pools.size(name) for name in self.gateways)))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.pools.close()

    def __len__(self) -> int:
        """Attempts not yet settled: waiting, at the gateway, or answered."""
        return len(self.waiting) + len(self.sent)

    def add(self, attempts: list[Attempt], *, first: bool = False) -> None:
        self.renewals.update(attempt.renewal.pk for attempt in attempts)
        if first:
            self.waiting.extendleft(reversed(attempts))
        else:
            self.waiting.extend(attempts)
        self._hand_over()

    def drain(self, *, below: int = 1) -> None:
        """Hand orders over as slots free up, and settle the answers together (SETTLE_EVERY), until fewer than
        `below` attempts are left unsettled."""
        while len(self) >= below:
            age = time.monotonic() - self.first_answer_at
            wait = max(0.001, SETTLE_EVERY - age) if self.answered else 60.0
            answered = self.pools.answers(timeout=wait)
            if answered and not self.answered:
                self.first_answer_at = time.monotonic()
            self.answered.extend(answered)
            self._hand_over()  # the slots just freed are filled before anything is settled
            if self.answered and (
                len(self.answered) >= self.settle_size
                or time.monotonic() - self.first_answer_at >= SETTLE_EVERY
                or not self.pools.outstanding
            ):
                answered, self.answered = self.answered, []
                self._settle(answered)

    def _hand_over(self) -> None:
        if not self.waiting:
            return
        room = {name: self.pools.room(name) for name in self.gateways}
        if self.pools.outstanding and all(room[name] < self.pools.size(name) // 4 for name in self.gateways):
            return  # each pool still has most of a round waiting for a slot: topped up a little later
        leaving, kept = [], deque()
        while self.waiting:
            attempt = self.waiting.popleft()
            name = GatewayRouter.keeper_name(attempt.method)
            if name is None or room[name] > 0:
                if name is not None:
                    room[name] -= 1
                leaving.append((attempt, name))
            else:
                kept.append(attempt)
                if all(left <= 0 for left in room.values()):
                    break  # every gateway's pool is full: the rest wait
        kept.extend(self.waiting)
        self.waiting = kept
        if not leaving:
            return
        Renewal.objects.filter(pk__in=[attempt.renewal.pk for attempt, _name in leaving]).update(
            updated_at=timezone.now()
        )
        for attempt, name in leaving:
            request = charge_request(attempt)
            self.sent[attempt.renewal.pk] = (attempt, request.order_id)
            self.pools.send(attempt.renewal.pk, request, name)

    def _settle(self, answered: list[tuple[int, ChargeResult]]) -> None:
        if not answered:
            return
        answers, tried = [], {}
        for renewal_id, result in answered:
            attempt, order_id = self.sent.pop(renewal_id)
            answers.append((renewal_id, order_id, result))
            tried[renewal_id] = attempt.tried | {attempt.method.pk}
        next_tries = []

        def settle(batch):
            next_tries.extend(renewals_settle(batch, as_of=self.as_of, totals=self.totals, tried=tried))

        def left_charging(answer, error: Exception) -> None:  # recovery settles it from the gateway's record
            if self.lone_fault is None and len(self.renewals) == 1:  # the whole batch was this one renewal
                raise error
            logger.exception("settling renewal %s failed", answer[0])
            if self.lone_fault is None:
                self.totals.pending += 1
            else:
                self.lone_fault(answer[0], error)

        each_alone_on_failure(answers, settle, left_charging, what="renewals to settle")
        if next_tries:  # declined on one method, each renewal goes on with the next (each its own order)
            self.add(next_tries, first=True)


def charge_request(attempt: Attempt) -> ChargeRequest:
    return ChargeRequest(
        method=attempt.method,
        amount_twd=attempt.renewal.charge.total_twd,
        order_id=attempt.renewal.charge.idempotency_key,
        description=f"LINE Official Account {attempt.renewal.plan.code} {attempt.renewal.period_start:%Y-%m}",
    )


def _charge_and_settle_slice(
    adapter, attempts: list[Attempt], *, as_of: datetime, totals: Totals, alone: bool = False
) -> None:
    """One call for all the attempts, then settled. `alone`: the batch is one renewal, whose fault is raised for
    the caller to count with its subscription; in a larger batch a fault leaves the renewal `charging`."""
    requests = [charge_request(a) for a in attempts]
    try:
        results = adapter.charge_many(requests)
    except Exception:  # noqa: BLE001 - the orders may or may not have reached the gateway: never guessed
        logger.exception("the gateway did not answer a batch of %s charges", len(requests))
        results = [ChargeResult(Outcome.UNKNOWN, reason="the gateway call failed")] * len(requests)
    answers = [(a.renewal.pk, r.order_id, result) for a, r, result in zip(attempts, requests, results, strict=True)]
    tried = {a.renewal.pk: a.tried | {a.method.pk} for a in attempts}
    next_tries = []
    if alone:
        next_tries = renewals_settle(answers, as_of=as_of, totals=totals, tried=tried)
    else:

        def left_charging(answer, error: Exception) -> None:  # recovery settles it from the gateway's record
            logger.exception("settling renewal %s failed", answer[0])
            totals.pending += 1

        each_alone_on_failure(
            answers,
            lambda batch: next_tries.extend(renewals_settle(batch, as_of=as_of, totals=totals, tried=tried)),
            left_charging,
            what="renewals to settle",
        )
    if next_tries:  # declined on one method, each renewal goes on with the next (each its own order)
        _charge_and_settle_slice(adapter, next_tries, as_of=as_of, totals=totals, alone=alone)


def _claim_batch(ids: list[int], *, as_of: datetime, run, totals: Totals, plans: dict) -> list[Attempt]:
    """Step 1, in one short transaction. Returns the attempts whose charges go to the gateway."""
    with transaction.atomic():
        due = Subscription.objects.filter(pk__in=ids, period_start__lt=month_start(local_date(as_of)))
        # The lock order: accounts first. Another run on the same batch waits here for this claim to commit,
        # then finds these renewals under way and skips them.
        accounts = lock_accounts(due.values_list("account_id", flat=True))
        subscriptions = list(
            Subscription.objects.select_for_update(of=("self",))
            .select_related("account")
            .filter(pk__in=ids, account_id__in=accounts, period_start__lt=month_start(local_date(as_of)))
            .order_by("pk")
        )
        for subscription in subscriptions:  # the run's plans (read once, with their terms), not one per row
            if subscription.plan_id in plans:
                Subscription.plan.field.set_cached_value(subscription, plans[subscription.plan_id])
        subscriptions = _free_to_renew(subscriptions)
        totals.skipped += len(ids) - len(subscriptions)  # another run holds them, or they are under way
        if not subscriptions:
            return []
        inputs = pricing_inputs(subscriptions, lock_codes=True)
        drop_expired_codes(subscriptions, inputs, as_of=as_of)
        pricer = Pricer(plans, as_of=as_of)
        attempts = []
        for subscription in subscriptions:
            new_plan, quote, code = pricer.quote(subscription, inputs)
            renewal = Renewal(
                subscription=subscription, period_start=quote.period_start, plan=new_plan, attempts=1, run=run
            )
            attempts.append(
                Attempt(
                    renewal,
                    subscription,
                    quote,
                    inputs.methods.get(subscription.account_id),
                    code if quote.code_applied else None,
                )
            )
        # read before record_attempts starts the free ones' new period
        bills = extra_message_bills_for(
            [(a.subscription, a.renewal, a.quote, inputs.usage.get(month_ended(a.subscription))) for a in attempts]
        )
        charged = record_attempts(attempts, as_of=as_of, totals=totals, new=True)
        extra_message_bills_save(bills)
        return charged


def _free_to_renew(subscriptions: list) -> list:
    """Those with no renewal for their new period yet (under way, or waiting for its retry), and no upgrade
    at the gateway (renewed on the next run, on the plan the upgrade leaves)."""
    new_periods = {next_month_start(subscription.period_start) for subscription in subscriptions}
    under_way = set(
        Renewal.objects.filter(subscription__in=subscriptions, period_start__in=new_periods).values_list(
            "subscription_id", "period_start"
        )
    )
    upgrading = set(
        Checkout.objects.filter(
            account_id__in=[s.account_id for s in subscriptions], status=CheckoutStatus.PROCESSING
        ).values_list("account_id", flat=True)
    )
    return [
        s
        for s in subscriptions
        if (s.pk, next_month_start(s.period_start)) not in under_way and s.account_id not in upgrading
    ]


def record_attempts(attempts: list[Attempt], *, as_of: datetime, totals: Totals, new: bool) -> list[Attempt]:
    """Record each attempt: nothing to pay starts the new period; no payment method fails it; the rest get
    their pending charge (its key is also the gateway's order ID) and held code. Returns those to charge."""
    _no_main_method_use_another(attempts)
    free, unpayable, paying = [], [], []
    for attempt in attempts:
        if attempt.quote.total_twd == 0 and not attempt.quote.code_applied:
            free.append(attempt)
        elif attempt.method is None and attempt.quote.total_twd > 0:
            unpayable.append(attempt)
        else:
            paying.append(attempt)
    for attempt in free:
        attempt.renewal.charge = None  # a retry's earlier failed charge does not pay for the new period
    orders = [
        ChargeOrder(
            a.subscription.account,
            a.quote,
            a.renewal.plan.code,
            a.method,
            f"renewal:{a.subscription.pk}:{a.renewal.period_start:%Y-%m}:{a.renewal.attempts}",
        )
        for a in paying
    ]
    for attempt, charge in zip(paying, charges_create(orders, actor=None), strict=True):
        attempt.renewal.charge = charge
    _start_new_periods([(a.renewal, a.subscription) for a in free], save_renewals=not new)
    totals.renewed += len(free)
    if new:  # inserted once, the free ones already renewed
        create_rows([attempt.renewal for attempt in attempts])
    else:
        update_rows([attempt.renewal for attempt in attempts], ["plan", "attempts", "status", "charge", "updated_at"])
    promo_codes_hold([(a.code, a.subscription.account, a.renewal.charge) for a in paying if a.code], actor=None)
    _fail_all([(a.renewal, a.subscription, NO_METHOD) for a in unpayable], as_of=as_of, totals=totals)
    paid_by_code = [(a.renewal, a.subscription, "") for a in paying if a.quote.total_twd == 0]
    _succeed_all(paid_by_code, totals=totals)  # the code paid it all: nothing goes to the gateway
    return [attempt for attempt in paying if attempt.quote.total_twd > 0]


def renewals_settle(
    answers: list[tuple[int, str, ChargeResult]], *, as_of: datetime, totals: Totals, tried: dict | None = None
) -> list[Attempt]:
    """Step 3: the gateway's answers (renewal, order ID, result), in one short transaction.

    Unknown answers wait for reconciliation. An answer for an order that is no longer the renewal's
    attempt (a late answer, after recovery moved on) is logged and settles nothing. A renewal declined on
    one method goes on to the account's next usable one, not yet `tried` (renewal → method ids) in this
    round, when BILLING_TRY_OTHER_METHODS: returned as new attempts to charge, and it is not failed.
    """
    results = {
        renewal_id: (order_id, result) for renewal_id, order_id, result in answers if result.outcome != Outcome.UNKNOWN
    }
    unknown = len(answers) - len(results)
    if not results:
        totals.pending += unknown
        return []
    settled = Totals(pending=unknown)
    with transaction.atomic():
        lock_accounts(Subscription.objects.filter(renewals__pk__in=list(results)).values_list("account_id", flat=True))
        renewals = list(
            Renewal.objects.select_for_update(of=("self",))
            .select_related("charge", "plan")
            .filter(pk__in=list(results), status=RenewalStatus.CHARGING)
            .order_by("pk")
        )
        subscriptions = (
            Subscription.objects.select_for_update(of=("self",)).select_related("account", "plan").order_by("pk")
        )
        subscriptions = subscriptions.in_bulk([renewal.subscription_id for renewal in renewals])
        succeeded, declined = [], []
        for renewal in renewals:
            order_id, result = results[renewal.pk]
            if renewal.charge is None or renewal.charge.idempotency_key != order_id:
                logger.warning("answer for order %s ignored: renewal %s is on another attempt", order_id, renewal.pk)
                continue
            subscription = subscriptions[renewal.subscription_id]
            if renewal.charge.account_id == subscription.account_id:  # read once, with the subscription
                Charge.account.field.set_cached_value(renewal.charge, subscription.account)
            if result.outcome == Outcome.SUCCEEDED:
                succeeded.append((renewal, subscription, result.reference))
            else:
                declined.append((renewal, subscription, result))
        _succeed_all(succeeded, totals=settled)
        gone = [renewal.charge for renewal, _subscription, result in declined if result.method_gone]
        next_tries, declined = _other_methods(declined, tried or {})
        _decline_all(declined, as_of=as_of, totals=settled)
    totals.merge(settled)
    for charge in gone:
        if charge.payment_method_id:
            method = charge.payment_method
            payment_method_mark_expired(method=method, actor=None)
            notify_admins(account=method.account, notice="method_expired", method=method)
    return next_tries


def usable_methods_in_order(account_ids) -> dict[int, list[PaymentMethod]]:
    """Each account's usable methods in the order a renewal tries them: the main one first, then the most
    recently used, then the most recently added."""
    methods = {}
    for method in (
        PaymentMethod.objects.usable()
        .filter(account_id__in=account_ids)
        .annotate(last_used=Max("charges__created_at"))
        .order_by("-is_main", F("last_used").desc(nulls_last=True), "-created_at", "-pk")
    ):
        methods.setdefault(method.account_id, []).append(method)
    return methods


def _no_main_method_use_another(attempts: list[Attempt]) -> None:
    """An account left with no usable main method (its main card expired at the last charge, say) is charged on
    its next usable method, as a declined main one would be (BILLING_TRY_OTHER_METHODS)."""
    orphans = [a for a in attempts if a.method is None and a.quote.total_twd > 0]
    if not orphans or not settings.BILLING_TRY_OTHER_METHODS:
        return
    methods = usable_methods_in_order([a.subscription.account_id for a in orphans])
    for attempt in orphans:
        others = methods.get(attempt.subscription.account_id)
        if others:
            attempt.method = others[0]


def _other_methods(declined: list, tried: dict) -> tuple[list[Attempt], list]:
    """LINE's rule: when the main method fails, another is charged. For each declined (renewal, subscription,
    answer), the account's next usable method not yet tried this round (the main one first, then the most
    recently used): the declined charge fails, its code is held again for a new charge of the same amounts on
    that method, with the renewal's next attempt number as its order ID. Returns (those attempts, the rest)."""
    if not settings.BILLING_TRY_OTHER_METHODS or not declined:
        return [], declined
    methods = usable_methods_in_order([subscription.account_id for _renewal, subscription, _result in declined])
    moving, rest = [], []
    for renewal, subscription, result in declined:
        done = tried.get(renewal.pk, set()) | {renewal.charge.payment_method_id}
        method = next((m for m in methods.get(subscription.account_id, []) if m.pk not in done), None)
        if method is None:
            rest.append((renewal, subscription, result))
        else:
            moving.append((renewal, subscription, result, method, frozenset(done)))
    if not moving:
        return [], rest
    failed = charges_mark_failed([(renewal.charge, result.reason) for renewal, _s, result, *_ in moving], actor=None)
    held = dict(PromoCode.objects.filter(held_for__in=failed).values_list("held_for_id", "pk"))
    released = {code.pk: code for code in promo_codes_release(failed, actor=None)}
    codes = {charge_id: released[code_id] for charge_id, code_id in held.items()}
    orders, attempts, records = [], [], []
    for (renewal, subscription, result, method, done), charge in zip(moving, failed, strict=True):
        renewal.attempts += 1
        key = f"renewal:{subscription.pk}:{renewal.period_start:%Y-%m}:{renewal.attempts}"
        orders.append(ChargeOrder(subscription.account, charge, charge.plan_code, method, key))
        attempts.append(Attempt(renewal, subscription, None, method, codes.get(charge.pk), done))
        records.append(
            audit_entry(
                actor=None,
                action="renewal.other_method",
                obj=renewal,
                account=subscription.account,
                before={"payment_method": charge.payment_method_id, "reason": result.reason[:255]},
                after={"payment_method": method.pk, "attempts": renewal.attempts},
            )
        )
    for attempt, charge in zip(attempts, charges_create(orders, actor=None), strict=True):
        attempt.renewal.charge = charge
    update_rows([attempt.renewal for attempt in attempts], ["attempts", "charge", "updated_at"])
    promo_codes_hold([(a.code, a.subscription.account, a.renewal.charge) for a in attempts if a.code], actor=None)
    audit_records_save(records)
    return attempts, rest


def _succeed_all(items: list, *, totals: Totals) -> None:
    """(renewal, subscription, gateway reference) each: the charge is paid, its code redeemed, the new
    period starts, and the invoice is issued."""
    if not items:
        return
    charges = charges_mark_succeeded([(renewal.charge, reference) for renewal, _s, reference in items], actor=None)
    with_code = [charge for charge in charges if charge.deduction_twd or charge.forfeited_twd]
    redemptions = promo_codes_redeem_held(with_code, actor=None) if with_code else []
    totals.codes_applied += len(redemptions)
    totals.forfeited_twd += sum(redemption.forfeited_twd for redemption in redemptions)
    totals.charged_twd += sum(charge.total_twd for charge in charges)
    totals.renewed += len(items)
    for (renewal, _subscription, _reference), charge in zip(items, charges, strict=True):
        renewal.charge = charge
    _start_new_periods([(renewal, subscription) for renewal, subscription, _reference in items])
    issue_invoices_for(charges)


def _decline_all(items: list, *, as_of: datetime, totals: Totals) -> None:
    """(renewal, subscription, the gateway's answer) each: the charge failed and its code is given back."""
    if not items:
        return
    charges = charges_mark_failed([(renewal.charge, result.reason) for renewal, _s, result in items], actor=None)
    promo_codes_release(charges, actor=None)
    _fail_all(
        [(renewal, subscription, result.reason) for renewal, subscription, result in items], as_of=as_of, totals=totals
    )


def _fail_all(items: list, *, as_of: datetime, totals: Totals) -> None:
    """(renewal, subscription, reason) each: retried on the next configured day, or, after the last one,
    the Light plan. The subscription is past due meanwhile; the admins are told either way."""
    if not items:
        return
    retrying, past_due, records, exhausted = [], [], [], []
    for renewal, subscription, reason in items:
        renewal.last_error = reason[:255]
        renewal.next_retry_on = next_retry_day(renewal.period_start, after=local_date(as_of))
        totals.failed += 1
        totals.failures.append({"subscription": subscription.pk, "period": str(renewal.period_start), "reason": reason})
        notice = {"renewal": renewal, "reason": reason, "retry_on": renewal.next_retry_on}
        transaction.on_commit(
            lambda subscription=subscription, notice=notice: notify_admins(
                account=subscription.account, notice="renewal_failed", **notice
            ),
            robust=True,
        )
        if renewal.next_retry_on is None:
            exhausted.append((renewal, subscription))
            continue
        move_status(renewal, RenewalStatus.FAILED)
        retrying.append(renewal)
        if subscription.status != SubscriptionStatus.PAST_DUE:
            before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
            move_status(subscription, SubscriptionStatus.PAST_DUE)
            past_due.append(subscription)
            records.append(
                audit_entry(
                    actor=None,
                    action="subscription.past_due",
                    obj=subscription,
                    account=subscription.account,
                    before=before,
                    after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
                )
            )
    update_rows(retrying, ["status", "last_error", "next_retry_on", "updated_at"])
    update_rows(past_due, ["status", "updated_at"])
    audit_records_save(records)
    _start_new_periods(exhausted, dunning=True)


def _start_new_periods(pairs: list, *, dunning: bool = False, save_renewals: bool = True) -> None:
    """(renewal, subscription) each: the new period starts and a past-due account is active again.

    It starts on the renewal's plan (a scheduled downgrade takes effect), or, after the last failed
    retry (`dunning`), on the Light plan (SPEC §2), and the admins are told. Without `save_renewals`
    the caller inserts the renewals afterwards.
    """
    if not pairs:
        return
    light = Plan.objects.get(code=PlanCode.LIGHT) if dunning else None
    subscriptions, changes, records = [], [], []
    for renewal, subscription in pairs:
        before = snapshot(subscription, *SUBSCRIPTION_FIELDS)
        previous_plan_id = subscription.plan_id
        subscription.plan = light or renewal.plan
        subscription.scheduled_plan = None
        subscription.period_start = renewal.period_start
        if subscription.status != SubscriptionStatus.ACTIVE:
            move_status(subscription, SubscriptionStatus.ACTIVE)
        subscriptions.append(subscription)
        if dunning or previous_plan_id != subscription.plan_id:
            changes.append(
                PlanChange(
                    subscription=subscription,
                    kind=PlanChangeKind.DUNNING_DOWNGRADE if dunning else PlanChangeKind.DOWNGRADE_APPLIED,
                    from_plan_id=previous_plan_id,
                    to_plan=subscription.plan,
                    effective_on=renewal.period_start,
                    charge=renewal.charge,
                )
            )
        move_status(renewal, RenewalStatus.DOWNGRADED if dunning else RenewalStatus.RENEWED)
        if not dunning:
            renewal.next_retry_on = None
        records.append(
            audit_entry(
                actor=None,
                action="subscription.dunning_downgrade" if dunning else "subscription.renew",
                obj=subscription,
                account=subscription.account,
                before=before,
                after=snapshot(subscription, *SUBSCRIPTION_FIELDS),
            )
        )
        if dunning:
            transaction.on_commit(
                lambda subscription=subscription, renewal=renewal: notify_admins(
                    account=subscription.account, notice="downgraded", renewal=renewal
                ),
                robust=True,
            )
    update_rows(subscriptions, ["plan", "scheduled_plan", "period_start", "status", "updated_at"])
    if save_renewals:
        fields = ["status", "charge", "next_retry_on", "last_error", "updated_at"]
        update_rows([renewal for renewal, _subscription in pairs], fields)
    create_rows(changes)
    audit_records_save(records)
    if dunning:  # the charges that carried a month's extra messages were never paid
        extra_message_bills_unpaid([renewal for renewal, _subscription in pairs])


def next_retry_day(period_start: date, *, after: date) -> date | None:
    """The next configured retry day of the renewal's month after `after`; None when none is left."""
    for day in sorted(settings.BILLING_RETRY_DAYS):
        candidate = period_start.replace(day=day)
        if candidate > after:
            return candidate
    return None
