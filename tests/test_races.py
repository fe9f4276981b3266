"""The two races of issue 10 through HTTP: gunicorn's worker processes on PostgreSQL, posted at once.

Twenty 購買 of one checkout (with and without a code) charge once, answer no 500 and leave the checkout
paid when the last answer is back; ten staff refunds of one charge make as many refunds at the gateway
as we record, never more than was paid. bench/races.py runs the same races for 20 rounds each.
"""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.factories import UserFactory
from tests.races import ROOT, Figures, database_url, gunicorn, pay_now_race, purchase_race, refund_race

ROUNDS = 2


@pytest.fixture
def server():
    with gunicorn(database_url(connection.settings_dict)) as address:
        yield address


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("code_twd", [None, 500], ids=["no code", "a NT$500 code"])
def test_twenty_purchases_of_one_checkout_at_once_charge_once_and_settle(server, code_twd):
    # given a ready admin's checkout, each round a new one
    figures = Figures()
    # when its purchase is posted 20 times at once to 4 worker processes
    for _ in range(ROUNDS):
        purchase_race(server, count=20, code_twd=code_twd, figures=figures)
    # then every post was answered, none with a 500; one charge each, at the gateway and in our books;
    # and each checkout was paid by the time its last answer came back
    assert (figures.answers, figures.answers_500, figures.no_answer) == (20 * ROUNDS, 0, 0)
    assert figures.our_charges == [1] * ROUNDS
    assert figures.gateway_charges == [1] * ROUNDS
    assert figures.unsettled == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("amount_twd", "made"), [(None, (1, 840)), (100, (8, 800))], ids=["full", "NT$100"])
def test_ten_refunds_of_one_charge_at_once_are_each_recorded_and_never_exceed_it(server, amount_twd, made):
    # given a paid NT$840 upgrade and a member of staff
    staff = UserFactory(is_staff=True, is_superuser=True)
    figures = Figures()
    # when ten refund actions on it are posted at once
    for _ in range(ROUNDS):
        refund_race(server, count=10, amount_twd=amount_twd, staff=staff, figures=figures)
    # then no 500; what the gateway refunded is exactly what we recorded, and never more than the charge
    assert (figures.answers, figures.answers_500, figures.no_answer) == (10 * ROUNDS, 0, 0)
    assert figures.gateway_refunds == [made] * ROUNDS
    assert figures.recorded_refunds == figures.gateway_refunds
    assert (figures.unsettled, figures.refunded_above_charge) == (0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_pay_nows_of_one_failed_renewal_at_once_charge_once_and_clear_past_due(server):
    # given a past-due admin who has changed the declined card for a good one
    figures = Figures()
    # when 立即付款 is posted ten times at once
    for _ in range(ROUNDS):
        pay_now_race(server, count=10, figures=figures)
    # then no 500, one paid charge in our books and at the gateway, and the account is active again
    assert (figures.answers, figures.answers_500, figures.no_answer) == (10 * ROUNDS, 0, 0)
    assert figures.our_charges == [1] * ROUNDS
    assert figures.gateway_charges == [1] * ROUNDS
    assert figures.unsettled == 0


def test_purchases_at_once_on_the_embedded_sqlite_default_queue_instead_of_failing(tmp_path):
    # given `make run`'s database, SQLite in a file, served by two worker processes (in a process of its own,
    # since this suite's own database is elsewhere)
    command = [sys.executable, "-m", "tests.races", "sqlite", str(tmp_path), "5", "2"]
    # when one checkout's purchase is posted 5 times at once, twice
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # then writers waited for each other (WAL and IMMEDIATE): no 500, one charge, each checkout paid
    assert (figures["answers"], figures["answers_500"], figures["no_answer"]) == (10, 0, 0)
    assert figures["journal_mode"] == "wal"
    assert figures["our_charges"] == figures["gateway_charges"] == [1, 1]
    assert figures["unsettled"] == 0
