"""Races as they happen: gunicorn worker processes on PostgreSQL, the same form posted many times at once.

Shared by the race tests (tests/test_races.py, a few rounds) and the benchmark (bench/races.py, 20 rounds).
Each race sets up its rows through the services in this process, starts every request at one instant
from its own thread and its own connection, and returns what a person checking the books would count.
"""

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from tests.concurrency import run_at_once

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4


# ---- the server -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host, port = settings_dict.get("HOST") or "127.0.0.1", settings_dict.get("PORT") or 5432
    return f"postgres://{settings_dict['USER']}{password}@{host}:{port}/{settings_dict['NAME']}"


@contextmanager
def gunicorn(database: str, *, workers: int = WORKERS, log: Path | None = None):
    """Serve the project from `workers` sync worker processes on the database at URL `database`; yields
    (host, port). The test settings (plain HTTP, fast password hashing, static files from the finders)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": database,
        "PAYMENTS_GATEWAY": "sandbox",
        "SANDBOX_CHARGE_DELAY_MS": "0",
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }
    log = log or Path(os.devnull)
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "60",
        "--error-logfile",
        str(log),
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_up(server, port)
        yield "127.0.0.1", port
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _wait_until_up(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 30 s")


# ---- requests at one instant ----------------------------------------------------------------------


def session_of(user) -> str:
    """A signed-in session for `user`, as the log-in page would leave it."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def post_at_once(server, path: str, data: dict, *, session: str, count: int) -> list[int]:
    """POST `data` to `path` from `count` threads released together; the status of each answer (0: none)."""
    csrf = secrets.token_hex(16)  # a 32-character secret: the cookie and the form carry the same one
    body = urlencode({**data, "csrfmiddlewaretoken": csrf}, doseq=True)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Host": "127.0.0.1",
        "Cookie": f"sessionid={session}; csrftoken={csrf}",
    }

    def post(_index: int) -> int:
        connection = http.client.HTTPConnection(*server, timeout=60)
        try:
            connection.request("POST", path, body, headers)
            return connection.getresponse().status
        finally:
            connection.close()

    return [status if isinstance(status, int) else 0 for status in run_at_once(post, count)]


# ---- the two races --------------------------------------------------------------------------------


@dataclass
class Figures:
    """What one or more rounds of a race left in the books."""

    answers: int = 0
    answers_500: int = 0
    no_answer: int = 0
    rounds: int = 0
    unsettled: int = 0  # checkouts still processing, or refunds still pending, after every answer came back
    gateway_charges: list = field(default_factory=list)  # per checkout
    our_charges: list = field(default_factory=list)  # per checkout
    gateway_refunds: list = field(default_factory=list)  # (count, NT$) per charge, as the gateway made them
    recorded_refunds: list = field(default_factory=list)  # (count, NT$) per charge, as we recorded them
    refunded_above_charge: int = 0

    def count_answers(self, statuses: list[int]) -> None:
        self.rounds += 1
        self.answers += len(statuses)
        self.answers_500 += sum(status >= 500 for status in statuses)
        self.no_answer += sum(status == 0 for status in statuses)


def purchase_race(server, *, count: int, code_twd: int | None, figures: Figures) -> None:
    """One admin's checkout (Light → Medium, a card), its 購買 posted `count` times at once; optionally with a
    code of `code_twd` entered first."""
    from billing.checkout import checkout_quote, checkout_set_code
    from billing.models import CheckoutStatus
    from payments.models import Charge, SandboxCharge
    from tests.factories import CampaignFactory, PromoCodeFactory
    from tests.helpers import ready_admin, start_checkout

    membership = ready_admin()
    checkout = start_checkout(membership)
    if code_twd is not None:
        code = PromoCodeFactory(campaign=CampaignFactory(face_value_twd=code_twd))
        checkout_set_code(checkout=checkout, text=code.code)
    total = checkout_quote(checkout).total_twd
    statuses = post_at_once(
        server,
        f"/checkout/{checkout.token}/purchase/",
        {"accept_terms": "1", "expected_total_twd": str(total)},
        session=session_of(membership.user),
        count=count,
    )
    figures.count_answers(statuses)
    checkout.refresh_from_db()
    figures.unsettled += checkout.status != CheckoutStatus.PAID
    keys = Charge.objects.filter(account=membership.account).values_list("idempotency_key", flat=True)
    figures.our_charges.append(len(keys))
    figures.gateway_charges.append(SandboxCharge.objects.filter(order_id__in=list(keys), succeeded=True).count())


def refund_race(server, *, count: int, amount_twd: int | None, staff, figures: Figures) -> None:
    """A paid NT$840 upgrade, then `count` staff refund actions on it at once (all of it, or `amount_twd`)."""
    from django.db.models import Count, Sum

    from billing.checkout import checkout_purchase
    from payments.models import Refund, RefundStatus, SandboxRefund
    from tests.helpers import ready_admin, start_checkout

    checkout = checkout_purchase(checkout=start_checkout(ready_admin()), expected_total_twd=840, actor=None)
    charge = checkout.charge
    data = {
        "action": "refund",
        "_selected_action": [charge.pk],
        "apply": "1",
        "amount_twd": "" if amount_twd is None else str(amount_twd),
        "reason": "客戶要求退款",
    }
    statuses = post_at_once(server, "/admin/payments/charge/", data, session=session_of(staff), count=count)
    figures.count_answers(statuses)
    made = SandboxRefund.objects.filter(charge__reference=charge.gateway_reference).aggregate(
        n=Count("id"), twd=Sum("amount")
    )
    recorded = Refund.objects.filter(charge=charge, status=RefundStatus.SUCCEEDED).aggregate(
        n=Count("id"), twd=Sum("amount_twd")
    )
    figures.gateway_refunds.append((made["n"] or 0, made["twd"] or 0))
    figures.recorded_refunds.append((recorded["n"] or 0, recorded["twd"] or 0))
    figures.unsettled += Refund.objects.filter(charge=charge, status=RefundStatus.PENDING).count()
    figures.refunded_above_charge += (made["twd"] or 0) > charge.total_twd


# ---- the same on the embedded default (SQLite in a file, as `make run` serves it) ------------------


def past_due_admin(*, card="4242424242424242"):
    """An admin (e-invoice information registered) whose Medium renewal into this month was declined on the 1st
    (so it waits for the 3rd's retry), with `card` added since as the main method (None: the declined card stays
    the main one)."""
    from datetime import datetime, time

    from django.utils import timezone

    from accounts.periods import BILLING_TZ, local_date, month_start, previous_month_start
    from billing.renewals import Totals, renew_subscription
    from payments.services import payment_method_make_main
    from tests.factories import EInvoiceProfileFactory
    from tests.helpers import add_card, new_admin

    membership = new_admin(medium=True)
    EInvoiceProfileFactory(account=membership.account)
    subscription = membership.account.subscription
    this_month = month_start(local_date(timezone.now()))
    subscription.period_start = previous_month_start(this_month)
    subscription.save(update_fields=["period_start"])
    add_card(membership.account, number="4000000000000002")
    first = datetime.combine(this_month, time(0, 5), tzinfo=BILLING_TZ)
    renew_subscription(subscription_id=subscription.pk, as_of=first, run=None, totals=Totals())
    if card:
        payment_method_make_main(method=add_card(membership.account, number=card), actor=None)
    return membership


def pay_now_race(server, *, count: int, figures: Figures) -> None:
    """A past-due admin's 立即付款 posted `count` times at once, after changing the declined card for a good one."""
    from billing.models import Subscription, SubscriptionStatus
    from payments.models import Charge, ChargeStatus, SandboxCharge

    membership = past_due_admin()
    account = membership.account
    path = f"/accounts/{account.pk}/plans/pay-now/"
    statuses = post_at_once(server, path, {}, session=session_of(membership.user), count=count)
    figures.count_answers(statuses)
    paid = Charge.objects.filter(account=account, status=ChargeStatus.SUCCEEDED)
    figures.our_charges.append(paid.count())
    keys = list(Charge.objects.filter(account=account).values_list("idempotency_key", flat=True))
    figures.gateway_charges.append(SandboxCharge.objects.filter(order_id__in=keys, succeeded=True).count())
    figures.unsettled += Subscription.objects.get(account=account).status != SubscriptionStatus.ACTIVE


def sqlite_purchase_race(directory: Path, *, count: int, rounds: int) -> dict:
    """Run in a process of its own (`python -m tests.races sqlite DIR COUNT ROUNDS`): a fresh SQLite file,
    migrated, and the purchase race against gunicorn's workers on it. Returns the figures as a dict."""
    import django

    url = f"sqlite:///{directory / 'race.sqlite3'}"
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.test_settings", "DATABASE_URL": url})
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    journal = connection.cursor().execute("PRAGMA journal_mode").fetchone()[0]
    figures = Figures()
    with gunicorn(url, workers=2) as server:
        for _ in range(rounds):
            purchase_race(server, count=count, code_twd=None, figures=figures)
    return {"journal_mode": journal, **figures.__dict__}


if __name__ == "__main__" and sys.argv[1:2] == ["sqlite"]:
    import json

    print(json.dumps(sqlite_purchase_race(Path(sys.argv[2]), count=int(sys.argv[3]), rounds=int(sys.argv[4]))))
