"""renew_subscriptions as real processes on PostgreSQL: killed with SIGKILL and run again, and two at once.

Every due subscription must end charged exactly once (in our charges and at the gateway) and none missed.
"""

import signal
import time
from datetime import date

import pytest

from billing.models import Renewal, RenewalStatus, Subscription
from payments.models import Charge, ChargeStatus, SandboxCharge
from tests.concurrency import manage_command
from tests.factories import SubscriptionFactory, plan
from tests.helpers import add_card

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
AS_OF = "2026-07-01T00:05:00+08:00"
COUNT = 40


def due_subscriptions(count=COUNT):
    for _ in range(count):
        sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
        add_card(sub.account)


def command(*args, delay_ms=0):
    """renew_subscriptions as cron would start it, against this test's database."""
    return manage_command("renew_subscriptions", "--as-of", AS_OF, *args, delay_ms=delay_ms)


def assert_each_charged_exactly_once():
    july = date(2026, 7, 1)
    assert Subscription.objects.filter(period_start=july).count() == COUNT
    assert Renewal.objects.filter(status=RenewalStatus.RENEWED).count() == COUNT
    assert Charge.objects.filter(status=ChargeStatus.SUCCEEDED, period_start=july).count() == COUNT
    assert Charge.objects.exclude(status=ChargeStatus.SUCCEEDED).count() == 0
    # and at the gateway: one order per subscription, never two
    assert SandboxCharge.objects.count() == COUNT
    assert set(SandboxCharge.objects.values_list("order_id", flat=True)) == set(
        Charge.objects.values_list("idempotency_key", flat=True)
    )


def test_a_run_killed_with_sigkill_then_run_again_charges_every_subscription_exactly_once():
    # given 40 due subscriptions and a slow gateway, so the kill lands mid-run
    due_subscriptions()
    first = command("--batch-size", "4", delay_ms=60)
    deadline = time.monotonic() + 30
    while Charge.objects.count() < COUNT // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    # when it is killed without warning, mid-run
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    done_before = Renewal.objects.filter(status=RenewalStatus.RENEWED).count()
    assert 0 < done_before < COUNT
    # then the next run recovers what the dead one left 'charging' and renews the rest
    second = command("--recover-after", "0")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    assert_each_charged_exactly_once()


def test_two_processes_at_once_share_the_work_and_charge_each_subscription_once():
    due_subscriptions()
    runs = [command("--batch-size", "4", delay_ms=20), command("--batch-size", "4", delay_ms=20)]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    assert_each_charged_exactly_once()
    # both did part of the work (SKIP LOCKED), and the skipped ones add up
    renewed = [int(out.split("Renewed ")[1].split(" ")[0]) for out, _err in results]
    assert sum(renewed) == COUNT


def test_one_run_with_two_worker_processes_charges_each_subscription_once():
    due_subscriptions()
    run = command("--workers", "2", "--batch-size", "7", delay_ms=10)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, out + err
    assert f"Renewed {COUNT}" in out
    assert_each_charged_exactly_once()
