"""Benchmark: the two races of issue 10, through HTTP, against gunicorn (4 sync workers) on PostgreSQL.

    .venv/bin/python bench/races.py

Each round starts fresh rows through the services, then posts one form many times at once, each post
from its own thread and connection, released together:
- 20 concurrent 購買 of one checkout, without a code and with a NT$500 code entered;
- 10 concurrent staff refunds of one NT$840 charge, in full and of NT$100 each.
It prints the answers that were 500 (or none at all), the checkouts left unsettled once every answer
was back, gateway and recorded charges per checkout, and gateway versus recorded refunds. The goal: all
zero, one charge per checkout, and refunds recorded = refunds made, never above the charge.

The database, oa_billing_bench_races on the PostgreSQL server of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/oa_billing_bench_races), is created here and dropped at the end.
Settings: BENCH_ROUNDS (20).
"""

import os
import sys
import time
from collections import Counter
from pathlib import Path

from _databases import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oa_billing_bench_races"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))


def setup_django(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "DATABASE_URL": url,
            "PAYMENTS_GATEWAY": "sandbox",
            "LOG_LEVEL": "ERROR",
        }
    )
    import django

    django.setup()


def report(name: str, figures, seconds: float) -> None:
    print(f"\n{name}: {figures.rounds} rounds, {figures.answers} answers in {seconds:.1f} s")
    print(f"  answers 500: {figures.answers_500}   no answer: {figures.no_answer}   unsettled: {figures.unsettled}")
    if figures.our_charges:
        print(
            f"  charges per checkout, ours: {dict(Counter(figures.our_charges))}   "
            f"at the gateway: {dict(Counter(figures.gateway_charges))}"
        )
    if figures.gateway_refunds:
        made = Counter(figures.gateway_refunds)
        recorded = Counter(figures.recorded_refunds)
        print(f"  refunds (count, NT$) per charge at the gateway: {dict(made)}   recorded: {dict(recorded)}")
        mismatched = sum(a != b for a, b in zip(figures.gateway_refunds, figures.recorded_refunds, strict=True))
        print(
            f"  charges whose gateway refunds differ from ours: {mismatched}   "
            f"refunded above the charge: {figures.refunded_above_charge}"
        )


def main() -> None:
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    create_database(url)
    try:
        setup_django(url)
        from django.core.management import call_command
        from django.db import connections

        from tests.factories import UserFactory
        from tests.races import WORKERS, Figures, gunicorn, purchase_race, refund_race

        call_command("migrate", verbosity=0)
        staff = UserFactory(is_staff=True, is_superuser=True)
        print(f"gunicorn: {WORKERS} sync workers, PostgreSQL, the sandbox gateway; {ROUNDS} rounds per race")
        with gunicorn(url) as server:
            races = [
                ("20 purchases of one checkout, no code", lambda f: purchase_race(server, count=20, code_twd=None,
                                                                                 figures=f)),
                ("20 purchases of one checkout, a NT$500 code", lambda f: purchase_race(server, count=20, code_twd=500,
                                                                                       figures=f)),
                ("10 full refunds of one NT$840 charge", lambda f: refund_race(server, count=10, amount_twd=None,
                                                                              staff=staff, figures=f)),
                ("10 NT$100 refunds of one NT$840 charge", lambda f: refund_race(server, count=10, amount_twd=100,
                                                                                staff=staff, figures=f)),
            ]  # fmt: skip
            for name, race in races:
                figures, started = Figures(), time.monotonic()
                for _ in range(ROUNDS):
                    race(figures)
                report(name, figures, time.monotonic() - started)
        connections.close_all()
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
