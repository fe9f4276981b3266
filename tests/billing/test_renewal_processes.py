"""renew_subscriptions as real processes on PostgreSQL: killed with SIGKILL and run again, and two at once.

Every due subscription must end charged exactly once (in our charges and at the gateway) and none missed.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.db import connection

from billing.models import Renewal, RenewalStatus, Subscription
from payments.models import Charge, ChargeStatus, SandboxCharge
from tests.factories import SubscriptionFactory, plan
from tests.helpers import add_card

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-07-01T00:05:00+08:00"
COUNT = 40


def due_subscriptions(count=COUNT):
    for _ in range(count):
        sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
        add_card(sub.account)


def command(*args, delay_ms=0):
    """The command as cron would start it, against this test's database."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="process-test-key",
        DEBUG="false",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        SANDBOX_CHARGE_DELAY_MS=str(delay_ms),
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "renew_subscriptions", "--as-of", AS_OF, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


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
