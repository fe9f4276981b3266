"""Renewals to a gateway that takes one order per request: a continuous pool, each order sent as a slot frees up."""

import threading
from datetime import date, datetime

import pytest

from accounts.periods import BILLING_TZ
from billing.models import Renewal, RenewalStatus
from billing.renewals import Totals, renew_batch
from payments.gateways import ChargeResult, Outcome, sandbox
from tests.factories import SubscriptionFactory, plan
from tests.helpers import add_card

pytestmark = pytest.mark.django_db
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)


def due_subscriptions(count):
    subs = []
    for _ in range(count):
        sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
        add_card(sub.account)
        subs.append(sub)
    return subs


def test_a_slow_order_holds_back_no_other_renewal(monkeypatch, settings):
    # given a gateway taking one order per request, two in flight, and five due renewals; the first one's
    # order answers only once the four others have been sent
    settings.SANDBOX_CHARGE_DELAY_MS, settings.PAYMENTS_MAX_IN_FLIGHT = 1, 2
    subs = due_subscriptions(5)
    slow_account, others_sent, sent, slow_waited = subs[0].account_id, threading.Event(), [], []

    def charge(self, *, method, amount_twd, order_id, description):  # the gateway, without its tables
        sent.append(method.account_id)
        if method.account_id == slow_account:
            slow_waited.append(others_sent.wait(timeout=5))
        elif len(sent) == 5:
            others_sent.set()
        return ChargeResult(Outcome.SUCCEEDED, reference=f"R-{order_id}")

    monkeypatch.setattr(sandbox.SandboxGateway, "charge", charge)
    # when they are renewed as one batch
    totals = Totals()
    renew_batch([sub.pk for sub in subs], as_of=JULY_1, run=None, totals=totals)
    # then the four others went through the second slot while the slow one was in flight, and all are renewed
    assert slow_waited == [True]
    assert totals.renewed == 5
    assert Renewal.objects.filter(status=RenewalStatus.RENEWED).count() == 5


def test_several_workers_end_on_smaller_and_smaller_batches():
    from billing.renewals.workers import batches

    ids = list(range(10_000))
    chunks = batches(ids, 500, 2)
    assert [len(chunk) for chunk in chunks[:3]] == [500, 500, 500]
    assert sum(chunks, []) == ids
    assert max(len(chunk) for chunk in chunks) == 500
    sizes = [len(chunk) for chunk in chunks]
    assert sizes == sorted(sizes, reverse=True)  # then smaller and smaller
    assert all(size <= 10 for size in sizes[-3:])
    assert batches(ids, 500, 1) == [ids[i : i + 500] for i in range(0, 10_000, 500)]
