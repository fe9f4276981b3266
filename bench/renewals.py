"""Benchmark: `renew_subscriptions` on PostgreSQL against the floor (the same rows by plain bulk SQL).

    .venv/bin/python bench/renewals.py

Goals (issue 4, "Benchmarks"): 100,000 due subscriptions renewed in under 60 s with 2 workers on this
2-core machine, under 500 MB, with a flat cost per renewal from 1,000 to 100,000. Issue 14 (the renewal rows of
its table, printed at the end with the goal beside each): 100,000 renewals with 2 workers at most 2× the floor
(with our CPU per renewal and PostgreSQL's share of the CPU); with the sandbox taking 200 ms and 1 s a charge,
charges per second at least 90% of the bound (2 workers × charges in flight ÷ the latency), at 8, 32 and 64 in
flight a worker.

Every database is named oa_billing_bench_renew_* on the server of BENCH_SERVER_URL (default
postgres://postgres@127.0.0.1:5432): `_base` (migrated once), `_data` (one size's subscriptions, a
template) and `_run` (a fresh copy of `_data` for each measured run). They are created here and dropped
at the end, even on failure; if one already exists (an interrupted run) the script stops and says so.

The scenario, as of 2026-07-01 00:05 Taipei: N subscriptions in period 2026-06, each with its official
account, a sandbox card as its main method (2% of the accounts one that declines, all of them on a paid
plan), its June usage (a few High accounts over the 6,000 free messages) and, for 10%, a code registered
from a campaign valid through 2027. Plans 40% Light, 35% Medium, 25% High (the seeded plans). The rows
are written by COPY, as the services would have made them (set-up time is not what is measured).

Each phase runs in a child process: the command itself (`manage.py renew_subscriptions`, DEBUG off, a
throwaway SECRET_KEY), whose peak RSS comes from wait4(); the set-up, the floor, the checks and the
profile. After every run the rows are counted: each due subscription renewed or failed, no charge twice,
the expected declines and codes applied; the floor's counts must equal the command's.

Settings: BENCH_SIZES (1000,10000,100000), BENCH_WORKERS (1,2), BENCH_CAP_SECONDS (600: a longer run is
stopped and reported as a lower bound), BENCH_LATENCY_MS (200,1000: SANDBOX_CHARGE_DELAY_MS of the latency runs;
empty skips them), BENCH_IN_FLIGHT (8,32,64: the command's PAYMENTS_MAX_IN_FLIGHT in the latency runs),
BENCH_LATENCY_WORKERS (2), BENCH_LATENCY_N (1000: the fewest renewals of a latency run; each has enough for its
charges to take about 10 s, or 25 latencies, at the bound), BENCH_PROFILE_N (1000; 0 skips).

PostgreSQL's CPU is read from /proc for the server processes of the run's database (sampled every 0.2 s while
the command runs; the server must be on this machine, else it is reported as unknown).
"""

import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import _databases

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
PREFIX = "oa_billing_bench_renew"
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "1000,10000,100000").split(",") if n]
WORKERS = [int(w) for w in os.environ.get("BENCH_WORKERS", "1,2").split(",") if w]
# "600" for every size, or per size: "10000:600,100000:150".
CAP_SECONDS = os.environ.get("BENCH_CAP_SECONDS", "600")
LATENCY_N = int(os.environ.get("BENCH_LATENCY_N", "1000"))
LATENCIES_MS = [int(ms) for ms in os.environ.get("BENCH_LATENCY_MS", "200,1000").split(",") if ms]
IN_FLIGHTS = [int(k) for k in os.environ.get("BENCH_IN_FLIGHT", "8,32,64").split(",") if k]  # per worker
LATENCY_WORKERS = int(os.environ.get("BENCH_LATENCY_WORKERS", "2"))
CALL_SHARE = 0.54  # gateway calls per renewal in this scenario (40% Light, codes that pay it all)
RATIO_GOAL, BOUND_GOAL = 2.0, 0.90
PROFILE_N = int(os.environ.get("BENCH_PROFILE_N", "1000"))
GOAL_N, GOAL_SECONDS, GOAL_MB = 100_000, 60, 500

AS_OF = "2026-07-01T00:05:00+08:00"
PERIOD, NEW_PERIOD = date(2026, 6, 1), date(2026, 7, 1)
RETRY_ON = date(2026, 7, 3)  # the first retry day (BILLING_RETRY_DAYS 1, 3, 5, 7) after July 1st
SETUP_AT = datetime(2026, 5, 20, 2, 0, tzinfo=UTC)
SHARES = (("light", 0.40), ("medium", 0.35), ("high", 0.25))
DECLINE_EVERY, CODE_SHARE, HEAVY_SHARE = 50, 0.10, 0.05  # 2% decline; 10% codes; 5% of High over quota
FREE_QUOTA = {"light": 200, "medium": 3000, "high": 6000}
FEES = {"light": 0, "medium": 800, "high": 1200}
FACE_VALUE = 1200
SEED_ROWS = ("payment_method.add", "promo_code.register", "promo_code.generate")


def cap_for(n: int) -> int:
    caps = dict(item.split(":") if ":" in item else ("*", item) for item in CAP_SECONDS.split(","))
    return int(caps.get(str(n), caps.get("*", "600")))


def db_url(name: str) -> str:
    return f"{SERVER_URL}/{name}"


# ---- the databases (this process never loads Django) ---------------------------------------------


def server_connection():
    return _databases.server_connection(db_url("postgres"))[0]


def refuse_leftovers() -> None:
    with server_connection() as connection:
        rows = connection.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [PREFIX + "%"]).fetchall()
    if rows:
        names = " ".join(row[0] for row in rows)
        sys.exit(f"databases left by an interrupted run: {names}; drop them first: dropdb -h 127.0.0.1 -U postgres …")


def create_database(name: str, template: str | None = None) -> None:
    with server_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def drop_database(name: str) -> None:
    with server_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- child processes ------------------------------------------------------------------------------


def child_environment(database: str, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": db_url(database),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "bench-only-throwaway-key-not-used-anywhere-else",
        # DEBUG keeps every query in memory, which would spoil the memory figure.
        "DEBUG": "false",
        # DEBUG off needs a seller (renewals issue invoices in its name); the demo company's.
        "SELLER_UBN": "22099131", "SELLER_NAME": "示範數位服務股份有限公司", "SELLER_ADDRESS": "臺北市信義區市府路1號",
        # and a key for the Messaging API channel tokens
        "MESSAGING_TOKEN_KEY": "YmVuY2gtb25seS10aHJvd2F3YXktdG9rZW4ta2V5LTM=",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **extra,
    })  # fmt: skip
    return env


def run_phase(phase: str, database: str, *args: str) -> dict:
    """Run one phase in a fresh interpreter; it prints its figures as JSON on its last line."""
    result = subprocess.run(
        [sys.executable, __file__, phase, *args],
        env=child_environment(database),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode:
        raise RuntimeError(f"phase {phase} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process of this machine, from /proc; None when it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PostgresCpu(threading.Thread):
    """The CPU of the server processes connected to `database` while it runs: each backend's last reading
    (sampled every 0.2 s, so a backend's last fraction of a second may be missed). None if /proc shows none."""

    def __init__(self, database: str):
        super().__init__(daemon=True)
        self.database, self.stop, self.seen, self.unreadable = database, threading.Event(), {}, False

    def run(self) -> None:
        with server_connection() as connection:
            while not self.stop.is_set():
                rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
                for (pid,) in rows.fetchall():
                    seconds = process_cpu_seconds(pid)
                    if seconds is None:
                        self.unreadable = True
                    else:
                        self.seen[pid] = max(seconds, self.seen.get(pid, 0.0))
                self.stop.wait(0.2)

    def seconds(self) -> float | None:
        self.stop.set()
        self.join()
        return None if self.unreadable and not self.seen else sum(self.seen.values())


def run_command(database: str, workers: int, cap: int, **extra_env: str) -> dict:
    """`manage.py renew_subscriptions` as the cron would run it: wall time, peak RSS from wait4(), exit code,
    our CPU and PostgreSQL's."""
    postgres = PostgresCpu(database)
    postgres.start()
    command = [sys.executable, "manage.py", "renew_subscriptions", "--as-of", AS_OF, "--workers", str(workers)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_environment(database, **extra_env),
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        cut = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > cap:
                cut = True
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out.seek(0)
        err.seek(0)
        summary = [line for line in out.read().splitlines() if line.startswith("Renewed")]
        stderr = err.read()
    if process.returncode not in (0, 1) and not cut:  # 1: some renewals failed (the 2% that decline)
        raise RuntimeError(f"renew_subscriptions exited {process.returncode}:\n{stderr[-4000:]}")
    return {
        "seconds": seconds,
        "peak_mb": usage.ru_maxrss / 1024,
        "exit": process.returncode,
        "cut": cut,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,  # the command and its workers, not PostgreSQL
        "pg_cpu_seconds": postgres.seconds(),
        "summary": summary[-1] if summary else "",
    }


# ---- phases (in the child, Django loaded) --------------------------------------------------------


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def copy_rows(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    """COPY in text format; the values here hold no tab, newline or backslash. None is NULL."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write("".join("\t".join(r"\N" if v is None else str(v) for v in row) + "\n" for row in rows))


def phase_migrate() -> dict:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    return {"seconds": time.perf_counter() - started}


def phase_setup(n: int) -> dict:
    """N due subscriptions as the services would have left them; returns what a correct run must produce."""
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.periods import local_date
    from billing.models import Plan
    from invoices.issuing import invoice_period
    from invoices.models import InvoiceNumberRange
    from promos.codes import random_codes
    from promos.models import Campaign, CodeBatch

    started = time.perf_counter()
    rng = random.Random(n)
    plans = dict(Plan.objects.values_list("code", "pk"))
    at = SETUP_AT.isoformat()
    accounts, cards, methods, subscriptions, usage, registered = [], [], [], [], [], []
    expected = Counter()
    for i in range(1, n + 1):
        pick, plan = rng.random(), "high"
        for code, share in SHARES:
            if pick < share:
                plan = code
                break
            pick -= share
        declines = i % DECLINE_EVERY == 7
        if declines and plan == "light":  # a decline needs a charge: the 2% are all on paid plans
            plan = rng.choice(["medium", "high"])
        # No code on a declining card: a code covers a Medium or High fee whole, so no charge would decline.
        has_code = rng.random() < CODE_SHARE and not declines
        heavy = plan == "high" and rng.random() < HEAVY_SHARE
        messages = rng.randint(6_001, 60_000) if heavy else rng.randint(0, FREE_QUOTA[plan])
        accounts.append((i, f"Bench shop {i}", f"@bench{i:07d}", "TW", at))
        behaviour, last_four = ("declined", "0002") if declines else ("success", "4242")
        token = f"sbx_card_{secrets.token_hex(16)}"
        cards.append((i, f"sbx_ot_{secrets.token_hex(16)}", token, "visa", last_four, 12, 2030, behaviour, "t", at))
        methods.append((i, i, "card", "sandbox", token, "visa", last_four, 12, 2030, "", "active", "t", at))
        subscriptions.append((i, i, plans[plan], PERIOD, None, "active", None, at))
        usage.append((i, i, PERIOD, messages, "api", "t", at))  # final: the renewal bills its extra messages
        if has_code:
            registered.append(i)
        # What a correct run makes of it (billing.pricing by hand: a code takes up to the fee off).
        fee = FEES[plan]
        deduction = min(FACE_VALUE, fee) if has_code and fee else 0
        extra = round(0.2 * (messages - 6000) + 1e-9) if heavy else 0
        total = fee - deduction + extra
        total += int(total * 0.05 + 0.5)
        expected["renewals"] += 1
        if fee == 0:
            expected["light"] += 1
            continue
        expected["charges"] += 1
        expected["gateway_calls"] += total > 0
        if declines and total > 0:
            expected["failed"] += 1
        else:
            expected["codes_applied"] += bool(deduction)
    expected["renewed"] = expected["renewals"] - expected["failed"]
    expected["invoices"] = expected["gateway_calls"] - expected["failed"]  # a NT$0 charge gets none
    with transaction.atomic(), connection.cursor() as cursor:
        copy_rows(cursor, "billing_officialaccount", ("id", "name", "basic_id", "region", "created_at"), accounts)
        copy_rows(
            cursor,
            "payments_sandboxcard",
            (
                "id",
                "one_time_token",
                "saved_token",
                "brand",
                "last_four",
                "expiry_month",
                "expiry_year",
                "behaviour",
                "used",
                "created_at",
            ),
            cards,
        )
        copy_rows(
            cursor,
            "payments_paymentmethod",
            (
                "id",
                "account_id",
                "kind",
                "gateway",
                "gateway_token",
                "brand",
                "last_four",
                "expiry_month",
                "expiry_year",
                "masked_card",
                "status",
                "is_main",
                "created_at",
            ),
            methods,
        )
        copy_rows(
            cursor,
            "billing_subscription",
            (
                "id",
                "account_id",
                "plan_id",
                "period_start",
                "scheduled_plan_id",
                "status",
                "extra_message_cap",
                "updated_at",
            ),
            subscriptions,
        )
        copy_rows(
            cursor,
            "billing_monthlyusage",
            ("id", "account_id", "month", "billed_messages", "source", "final", "updated_at"),
            usage,
        )
        # The 字軌 for invoices issued now (they are dated when issued, not as of the renewal).
        InvoiceNumberRange.objects.create(
            period=invoice_period(local_date(timezone.now())), prefix="BN", first_number=1, last_number=99_999_999
        )
        campaign = Campaign.objects.create(
            name="Bench renewals",
            valid_from=datetime(2026, 1, 1, tzinfo=UTC),
            valid_until=datetime(2027, 12, 31, 15, 59, 59, tzinfo=UTC),
        )
        batch = CodeBatch.objects.create(campaign=campaign, requested=len(registered))
        codes = random_codes(len(registered))
        copy_rows(
            cursor,
            "promos_promocode",
            ("campaign_id", "batch_id", "code", "status", "registered_account_id", "registered_at"),
            [
                (campaign.pk, batch.pk, code, "registered", account, at)
                for code, account in zip(codes, registered, strict=True)
            ],
        )
        # The audit records the services wrote on the way (card added, code generated and registered).
        cursor.execute(f"""
            INSERT INTO billing_auditrecord (account_id, object_type, object_id, object_repr, action, after, created_at)
            SELECT account_id, 'payments.paymentmethod', id::text, 'Visa •••• ' || last_four, 'payment_method.add',
                   jsonb_build_object('kind', kind, 'gateway', gateway, 'brand', brand, 'last_four', last_four,
                                      'status', status, 'is_main', is_main), created_at
            FROM payments_paymentmethod;
            INSERT INTO billing_auditrecord (account_id, object_type, object_id, object_repr, action, after, created_at)
            VALUES (NULL, 'promos.codebatch', '{batch.pk}', 'batch', 'promo_code.generate',
                    '{{"campaign": {campaign.pk}, "count": {len(registered)}}}', now());
            INSERT INTO billing_auditrecord (account_id, object_type, object_id, object_repr, action, before, after,
                                             created_at)
            SELECT registered_account_id, 'promos.promocode', id::text, code, 'promo_code.register',
                   '{{"status": "available", "registered_account": null}}',
                   jsonb_build_object('status', status, 'registered_account', registered_account_id), registered_at
            FROM promos_promocode;
        """)
        for table in (
            "billing_officialaccount",
            "payments_sandboxcard",
            "payments_paymentmethod",
            "billing_subscription",
            "billing_monthlyusage",
        ):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"seconds": time.perf_counter() - started, "expected": dict(expected), "codes": len(registered)}


COUNTS = {
    "renewals": "SELECT status, count(*) FROM billing_renewal GROUP BY 1",
    "charges": "SELECT status, count(*), sum(total_twd), sum(deduction_twd), sum(forfeited_twd), "
    "sum(extra_messages_twd) FROM payments_charge GROUP BY 1",
    "subscriptions": "SELECT period_start::text || ' ' || status, count(*) FROM billing_subscription GROUP BY 1",
    "codes": "SELECT status, count(*) FROM promos_promocode GROUP BY 1",
    "redemptions": "SELECT 'all', count(*), sum(applied_twd), sum(forfeited_twd) FROM promos_redemption",
    "gateway": "SELECT succeeded::text, count(*), sum(amount) FROM payments_sandboxcharge GROUP BY 1",
    "audit": "SELECT action, count(*) FROM billing_auditrecord WHERE action <> ALL(%s) GROUP BY 1",
    "plan_changes": "SELECT kind, count(*) FROM billing_planchange GROUP BY 1",
    "extra_bills": "SELECT status, count(*), sum(extra_messages), sum(amount_twd), count(renewal_id) "
    "FROM billing_extramessagesbill GROUP BY 1",
    "invoices": "SELECT status, count(*), sum(total_twd), count(DISTINCT number) FROM invoices_invoice GROUP BY 1",
    "twice": "SELECT 'charged twice', count(*) FROM (SELECT account_id FROM payments_charge "
    "WHERE status = 'succeeded' AND period_start = %s GROUP BY 1 HAVING count(*) > 1) AS t",
}


def phase_verify() -> dict:
    """The rows a run left, counted per table and status (and the run's own duration)."""
    from django.db import connection

    counts = {}
    with connection.cursor() as cursor:
        for name, sql in COUNTS.items():
            params = [list(SEED_ROWS)] if "%s" in sql and name == "audit" else [NEW_PERIOD] if "%s" in sql else []
            cursor.execute(sql, params)
            counts[name] = {row[0]: [int(v or 0) for v in row[1:]] for row in cursor.fetchall()}
        cursor.execute("SELECT extract(epoch FROM finished_at - started_at) FROM billing_renewalrun")
        row = cursor.fetchone()
    return {"counts": counts, "run_seconds": float(row[0]) if row and row[0] is not None else None}


def check(counts: dict, expected: dict) -> list[str]:
    """What a correct run must have done; an empty list when it did."""
    renewals = counts["renewals"]
    found = {
        "renewals": sum(v[0] for v in renewals.values()),
        "renewed": renewals.get("renewed", [0])[0],
        "failed": renewals.get("failed", [0])[0],
        "charges": sum(v[0] for v in counts["charges"].values()),
        "gateway_calls": sum(v[0] for v in counts["gateway"].values()),
        "codes_applied": counts["redemptions"].get("all", [0])[0],
        "invoices": counts["invoices"].get("issued", [0, 0, 0])[2],  # issued, each with its own number
    }
    problems = [f"{k}: {found[k]:,} (expected {expected.get(k, 0):,})" for k in found if found[k] != expected.get(k, 0)]
    moved = counts["subscriptions"].get(f"{NEW_PERIOD} active", [0])[0]
    if moved != expected["renewed"]:
        problems.append(f"subscriptions in the new period: {moved:,} (expected {expected['renewed']:,})")
    if counts["twice"].get("charged twice", [0])[0]:
        problems.append("an account was charged twice")
    return problems


def phase_floor() -> dict:
    """The same end state as the command's, written by plain SQL in one transaction: the floor."""
    from django.db import connection, transaction

    started = time.perf_counter()
    params = {"as_of": AS_OF, "period": PERIOD, "new": NEW_PERIOD, "retry": RETRY_ON}
    reason = "The card issuer declined the payment. Use another card or contact the bank."
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_renewalrun (command, as_of, dry_run, host, pid, status, totals, started_at)
            VALUES ('floor', %(as_of)s, false, 'bench', 0, 'running', '{}', now()) RETURNING id""",
            params,
        )
        run_id = cursor.fetchone()[0]
        params["run"] = run_id
        # One row per due subscription with everything pricing needs (the seeded High tiers: 6,001+ at NT$0.2,
        # 1,000,001+ at NT$0.011), then the quote's figures.
        cursor.execute(
            """
            CREATE TEMP TABLE due ON COMMIT DROP AS
            SELECT s.id AS sub_id, s.account_id, a.basic_id, p.id AS plan_id, p.code AS plan, pr.monthly_fee_twd AS fee,
                   s.plan_id AS month_plan_id, s.extra_message_cap AS cap, u.billed_messages AS billed,
                   pm.id AS method_id, card.behaviour, pc.id AS code_id, pc.code, camp.face_value_twd AS face,
                   CASE WHEN p.extra_messages_allowed AND coalesce(u.billed_messages, 0) > p.free_message_quota
                        THEN u.billed_messages - p.free_message_quota ELSE 0 END AS extra,
                   CASE WHEN p.extra_messages_allowed AND coalesce(u.billed_messages, 0) > p.free_message_quota
                        THEN round(0.2 * (least(u.billed_messages, 1000000) - p.free_message_quota)
                                   + 0.011 * greatest(u.billed_messages - 1000000, 0)) ELSE 0 END AS extra_twd
            FROM billing_subscription s
            JOIN billing_officialaccount a ON a.id = s.account_id
            JOIN billing_plan p ON p.id = coalesce(s.scheduled_plan_id, s.plan_id)
            JOIN LATERAL (SELECT monthly_fee_twd FROM billing_planprice WHERE plan_id = p.id
                          AND effective_from <= %(new)s ORDER BY effective_from DESC LIMIT 1) pr ON true
            LEFT JOIN payments_paymentmethod pm ON pm.account_id = s.account_id AND pm.is_main AND pm.status = 'active'
            LEFT JOIN payments_sandboxcard card ON card.saved_token = pm.gateway_token
            LEFT JOIN promos_promocode pc ON pc.registered_account_id = s.account_id AND pc.status = 'registered'
            LEFT JOIN promos_campaign camp ON camp.id = pc.campaign_id
                 AND %(as_of)s::timestamptz BETWEEN camp.valid_from AND camp.valid_until
            LEFT JOIN billing_monthlyusage u ON u.account_id = s.account_id AND u.month = %(period)s
            WHERE s.period_start < %(new)s;
            ALTER TABLE due ADD deduction int, ADD forfeited int, ADD net int, ADD tax int, ADD total int,
                            ADD charge_id bigint, ADD ok boolean, ADD key text;
            UPDATE due SET deduction = CASE WHEN fee > 0 AND face IS NOT NULL THEN least(face, fee) ELSE 0 END;
            UPDATE due SET forfeited = CASE WHEN deduction > 0 THEN face - deduction ELSE 0 END,
                           net = fee - deduction + extra_twd,
                           key = 'renewal:' || sub_id || ':' || to_char(%(new)s::date, 'YYYY-MM') || ':1';
            UPDATE due SET tax = round(net * 0.05), total = net + round(net * 0.05);
            UPDATE due SET ok = NOT (behaviour = 'declined' AND total > 0);
        """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO payments_charge (account_id, purpose, plan_code, period_start, payment_method_id, lines,
                fee_twd, deduction_twd, forfeited_twd, extra_messages_twd, net_twd, tax_twd, total_twd, idempotency_key,
                gateway, gateway_reference, status, failure_reason, created_at, settled_at)
            SELECT account_id, 'renewal', plan, %(new)s, method_id,
                   jsonb_build_array(jsonb_build_object('kind', 'fee', 'plan', plan, 'amount_twd', fee))
                   || CASE WHEN deduction > 0 THEN jsonb_build_array(jsonb_build_object('kind', 'deduction', 'code',
                        code, 'amount_twd', -deduction, 'forfeited_twd', forfeited)) ELSE '[]' END
                   || CASE WHEN extra > 0 THEN jsonb_build_array(jsonb_build_object('kind', 'extra_messages',
                        'messages', extra, 'amount_twd', extra_twd)) ELSE '[]' END
                   || jsonb_build_array(jsonb_build_object('kind', 'tax', 'rate', '0.05', 'amount_twd', tax)),
                   fee, deduction, forfeited, extra_twd, net, tax, total, key, 'sandbox',
                   CASE WHEN ok AND total > 0 THEN 'D' || upper(substr(md5(random()::text), 1, 16)) ELSE '' END,
                   CASE WHEN ok THEN 'succeeded' ELSE 'failed' END, CASE WHEN ok THEN '' ELSE %(reason)s END,
                   now(), now()
            FROM due WHERE fee > 0 ORDER BY sub_id;
            UPDATE due SET charge_id = c.id FROM payments_charge c WHERE c.idempotency_key = due.key;
            INSERT INTO payments_sandboxcharge (order_id, amount, succeeded, reference, answer, created_at)
            SELECT c.idempotency_key, c.total_twd, c.status = 'succeeded', c.gateway_reference,
                   CASE WHEN c.status = 'succeeded' THEN jsonb_build_object('status', 0, 'rec_trade_id',
                        c.gateway_reference, 'order_number', c.idempotency_key)
                        ELSE jsonb_build_object('status', 10005, 'msg', 'declined') END, now()
            FROM due JOIN payments_charge c ON c.id = due.charge_id WHERE due.total > 0;
            INSERT INTO billing_renewal (subscription_id, period_start, plan_id, status, charge_id, attempts,
                                         next_retry_on, last_error, run_id, created_at, updated_at)
            SELECT sub_id, %(new)s, plan_id, CASE WHEN ok THEN 'renewed' ELSE 'failed' END, charge_id, 1,
                   CASE WHEN ok THEN NULL ELSE %(retry)s::date END, CASE WHEN ok THEN '' ELSE %(reason)s END,
                   %(run)s, now(), now()
            FROM due ORDER BY sub_id;
            -- The month's extra messages, billed with the renewal (an ExtraMessagesBill each, and its record).
            INSERT INTO billing_extramessagesbill (account_id, month, plan_id, cap, status, billed_messages,
                extra_messages, amount_twd, renewal_id, charge_id, attempts, last_error, created_at, updated_at)
            SELECT due.account_id, %(period)s, due.month_plan_id, due.cap, 'renewal', due.billed, due.extra,
                   due.extra_twd, r.id, NULL, 0, '', now(), now()
            FROM due JOIN billing_renewal r ON r.subscription_id = due.sub_id AND r.period_start = %(new)s
            WHERE due.extra > 0 ORDER BY due.sub_id;
            INSERT INTO billing_auditrecord (account_id, object_type, object_id, object_repr, action, after, created_at)
            SELECT b.account_id, 'billing.extramessagesbill', b.id::text,
                   a.basic_id || ' ' || to_char(b.month, 'YYYY-MM') || ' Billed with the renewal',
                   'extra_messages.open',
                   jsonb_build_object('month', b.month::text, 'plan', b.plan_id, 'cap', b.cap, 'status', b.status,
                       'billed_messages', b.billed_messages, 'extra_messages', b.extra_messages,
                       'amount_twd', b.amount_twd, 'charge', NULL, 'attempts', 0, 'last_error', ''), now()
            FROM billing_extramessagesbill b JOIN billing_officialaccount a ON a.id = b.account_id;
            UPDATE billing_subscription s SET period_start = CASE WHEN due.ok THEN %(new)s ELSE s.period_start END,
                   status = CASE WHEN due.ok THEN 'active' ELSE 'past_due' END, scheduled_plan_id = NULL,
                   plan_id = CASE WHEN due.ok THEN due.plan_id ELSE s.plan_id END, updated_at = now()
            FROM due WHERE s.id = due.sub_id;
            UPDATE promos_promocode pc SET status = 'redeemed', registered_account_id = NULL, held_for_id = NULL
            FROM due WHERE pc.id = due.code_id AND due.ok AND due.deduction > 0;
            INSERT INTO promos_redemption (code_id, account_id, charge_id, applied_twd, forfeited_twd, redeemed_at)
            SELECT code_id, account_id, charge_id, deduction, forfeited, now() FROM due WHERE ok AND deduction > 0;
            -- The audit trail, record for record as the services write it.
            INSERT INTO billing_auditrecord (account_id, object_type, object_id, object_repr, action, before, after,
                                             created_at)
            SELECT due.account_id, t.object_type, t.object_id, t.object_repr, t.action, t.before, t.after, now()
            FROM due CROSS JOIN LATERAL (VALUES
                ('payments.charge', charge_id::text, '#' || charge_id || ' ' || basic_id, 'charge.create', NULL::jsonb,
                 jsonb_build_object('purpose', 'renewal', 'total_twd', total, 'deduction_twd', deduction,
                    'forfeited_twd', forfeited, 'status', 'pending', 'gateway_reference', '', 'failure_reason', ''),
                 charge_id IS NOT NULL),
                ('promos.promocode', code_id::text, code, 'promo_code.hold',
                 jsonb_build_object('status', 'registered', 'registered_account', account_id),
                 jsonb_build_object('status', 'held', 'registered_account', account_id, 'charge', charge_id),
                 deduction > 0),
                ('payments.charge', charge_id::text, '#' || charge_id || ' ' || basic_id,
                 CASE WHEN ok THEN 'charge.succeed' ELSE 'charge.fail' END,
                 jsonb_build_object('status', 'pending', 'gateway_reference', '', 'failure_reason', ''),
                 jsonb_build_object('status', CASE WHEN ok THEN 'succeeded' ELSE 'failed' END),
                 charge_id IS NOT NULL),
                ('promos.promocode', code_id::text, code,
                 CASE WHEN ok THEN 'promo_code.redeem' ELSE 'promo_code.release' END,
                 jsonb_build_object('status', 'held', 'registered_account', account_id),
                 jsonb_build_object('status', CASE WHEN ok THEN 'redeemed' ELSE 'registered' END, 'charge', charge_id,
                    'applied_twd', deduction, 'forfeited_twd', forfeited),
                 deduction > 0),
                ('billing.subscription', sub_id::text, basic_id || ': ' || plan,
                 CASE WHEN ok THEN 'subscription.renew' ELSE 'subscription.past_due' END,
                 jsonb_build_object('plan', plan_id, 'period_start', %(period)s::text, 'scheduled_plan', NULL,
                    'status', 'active'),
                 jsonb_build_object('plan', plan_id, 'period_start', CASE WHEN ok THEN %(new)s ELSE %(period)s END,
                    'scheduled_plan', NULL, 'status', CASE WHEN ok THEN 'active' ELSE 'past_due' END),
                 true)
            ) AS t(object_type, object_id, object_repr, action, before, after, wanted)
            WHERE t.wanted;
            -- Each paid charge's invoice, numbered from the 字軌 in charge order, and its audit record.
            CREATE TEMP TABLE numbered ON COMMIT DROP AS
            SELECT c.id AS charge_id, c.account_id, row_number() OVER (ORDER BY c.id) - 1 AS n
            FROM payments_charge c WHERE c.status = 'succeeded' AND c.total_twd > 0;
            INSERT INTO invoices_invoice (charge_id, status, period, number, random_code, buyer, seller, lines,
                                          sales_twd, tax_twd, total_twd, issued_at, void_reason, created_at)
            SELECT c.id, 'issued', r.period, r.prefix || lpad((r.next_number + n.n)::text, 8, '0'),
                   lpad((random() * 9999)::int::text, 4, '0'),
                   '{"kind": "", "identifier": "0000000000", "name": "", "email": "", "carrier_type": "",
                     "carrier_number": "", "donation_code": "", "ubn": "", "address": ""}',
                   '{"ubn": "", "name": "", "address": ""}',
                   (SELECT jsonb_agg(jsonb_build_object('description', l->>'kind', 'quantity', 1,
                                     'unit_price_twd', l->'amount_twd', 'amount_twd', l->'amount_twd'))
                    FROM jsonb_array_elements(c.lines) l WHERE l->>'kind' <> 'tax'),
                   c.net_twd, c.tax_twd, c.total_twd, now(), '', now()
            FROM numbered n JOIN payments_charge c ON c.id = n.charge_id
            CROSS JOIN (SELECT period, prefix, next_number FROM invoices_invoicenumberrange LIMIT 1) r;
            UPDATE invoices_invoicenumberrange SET next_number = next_number + (SELECT count(*) FROM numbered);
            INSERT INTO billing_auditrecord (account_id, object_type, object_id, object_repr, action, after, created_at)
            SELECT c.account_id, 'invoices.invoice', i.id::text, i.number, 'invoice.issue',
                   jsonb_build_object('status', i.status, 'period', i.period, 'number', i.number, 'sales_twd',
                                      i.sales_twd, 'tax_twd', i.tax_twd, 'total_twd', i.total_twd), now()
            FROM invoices_invoice i JOIN payments_charge c ON c.id = i.charge_id;
            UPDATE billing_renewalrun SET status = 'failed', finished_at = now(),
                   totals = (SELECT jsonb_build_object('renewed', count(*) FILTER (WHERE ok),
                                                       'failed', count(*) FILTER (WHERE NOT ok)) FROM due)
            WHERE id = %(run)s;
        """,
            {**params, "reason": reason},
        )
    return {"seconds": time.perf_counter() - started}


def normalise_sql(sql: str) -> str:
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\((?:\?, )+\?\)", "(?…)", sql)
    return re.sub(r'"[a-z_]+"\."([a-z_]+)"', r"\1", sql)[:150]


def phase_profile(n: int) -> dict:
    """One run in this process twice over (two copies of the data): every query counted, then cProfile."""
    from django.core.management import call_command
    from django.db import connection, connections

    def renew():
        with contextlib.suppress(SystemExit):  # exit 1: the 2% that decline
            call_command("renew_subscriptions", as_of=AS_OF, workers=1, stdout=io.StringIO(), stderr=io.StringIO())

    shapes, db_seconds = Counter(), Counter()

    def count(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = normalise_sql(sql)
            shapes[shape] += 1
            db_seconds[shape] += time.perf_counter() - began

    started = time.perf_counter()
    with connection.execute_wrapper(count):
        renew()
    seconds = time.perf_counter() - started
    top = [
        {"per_renewal": hits / n, "ms_per_renewal": 1000 * db_seconds[shape] / n, "sql": shape}
        for shape, hits in shapes.most_common(30)
    ]
    # The second half: the same renewals on a fresh copy, under cProfile (no query capture).
    connections.close_all()
    connection.settings_dict["NAME"] = os.environ["BENCH_PROFILE_COPY"]
    profiler = cProfile.Profile()
    profile_started = time.perf_counter()
    profiler.runcall(renew)
    profile_seconds = time.perf_counter() - profile_started
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats(r"billing|payments|promos|psycopg|django/db", 40)
    stats.sort_stats("tottime").print_callers(8)
    Path(os.environ["BENCH_PROFILE_OUT"]).write_text(stream.getvalue(), encoding="utf-8")
    profiler.dump_stats(os.environ["BENCH_PROFILE_OUT"].removesuffix(".txt") + ".pstats")  # for pstats or snakeviz
    return {
        "seconds": seconds,
        "queries": sum(shapes.values()),
        "db_ms_per_renewal": 1000 * sum(db_seconds.values()) / n,
        "top": top,
        "profile_seconds": profile_seconds,
    }


# ---- the benchmark ---------------------------------------------------------------------------------


def fmt_row(label: str, n: int, workers: str, seconds: float, peak: str, note: str = "") -> str:
    rate = n / seconds if seconds else 0
    return (
        f"{label:<22} {n:>8,} {workers:>3} {seconds:9.2f} s {rate:9.0f} /s {1000 * seconds / n:8.2f} ms "
        f"{peak:>9}  {note}"
    )


HEADER = f"{'':<22} {'N':>8} {'W':>3} {'wall':>11} {'renewals':>11} {'per renewal':>11} {'peak RSS':>9}  notes"


def measure_size(n: int, rows: list[str], results: dict) -> None:
    data, run = f"{PREFIX}_data", f"{PREFIX}_run"
    create_database(data, template=f"{PREFIX}_base")
    setup = run_phase("setup", data, str(n))
    expected = setup["expected"]
    print(f"N={n:,}: set up in {setup['seconds']:.1f} s; expected {json.dumps(expected)}", flush=True)
    reference = None
    for workers in WORKERS:
        create_database(run, template=data)
        measured = run_command(run, workers, cap_for(n))
        verified = run_phase("verify", run)
        drop_database(run)
        counts = verified["counts"]
        problems = [] if measured["cut"] else check(counts, expected)
        done = sum(v[0] for v in counts["renewals"].values())
        note = f"in-run {verified['run_seconds'] or 0:.2f} s; " if verified["run_seconds"] else ""
        note += f"our CPU {measured['cpu_seconds']:.1f} s ({1000 * measured['cpu_seconds'] / n:.2f} ms/renewal); "
        if measured["pg_cpu_seconds"] is not None:
            share = measured["pg_cpu_seconds"] / (measured["pg_cpu_seconds"] + measured["cpu_seconds"])
            note += f"PostgreSQL CPU {measured['pg_cpu_seconds']:.1f} s ({share:.0%} of the two); "
        if measured["cut"]:
            at_rate = n / max(done, 1) * measured["seconds"]
            note += f"CUT at {cap_for(n)} s after {done:,} renewals; at that rate N would take ≥ {at_rate:.0f} s"
        else:
            note += "checked ok" if not problems else "WRONG: " + "; ".join(problems)
            reference = reference or counts
        goal = n == GOAL_N and workers == 2
        if goal:
            met = not measured["cut"] and measured["seconds"] < GOAL_SECONDS and measured["peak_mb"] < GOAL_MB
            note += "; goal " + ("met" if met else "MISSED")
        rows.append(
            fmt_row(
                "renew_subscriptions",
                done if measured["cut"] else n,
                str(workers),
                measured["seconds"],
                f"{measured['peak_mb']:.0f} MB",
                note,
            )
        )
        print(rows[-1], flush=True)
        print(f"    {measured['summary']}", flush=True)
        results[(n, workers)] = measured | {"done": done, "problems": problems}
        if problems:
            raise SystemExit(f"N={n:,} W={workers}: the run is wrong: {problems}")
    create_database(run, template=data)
    floor = run_phase("floor", run)
    floor_counts = run_phase("verify", run)["counts"]
    drop_database(run)
    same = reference is None or {k: v for k, v in floor_counts.items()} == reference
    differs = "" if same else f"; COUNTS DIFFER: {json.dumps(floor_counts)} vs {json.dumps(reference)}"
    results[(n, "floor")] = floor
    ratio = ", ".join(
        f"W={w}: ours ÷ floor = {results[(n, w)]['seconds'] / floor['seconds']:.0f}×"
        for w in WORKERS
        if (n, w) in results and not results[(n, w)]["cut"]
    )
    rows.append(fmt_row("floor (bulk SQL)", n, "-", floor["seconds"], "", ratio + differs))
    print(rows[-1], flush=True)
    if n == PROFILE_N:
        profile(data, n)
    drop_database(data)


def profile(data: str, n: int) -> None:
    first, second = f"{PREFIX}_run", f"{PREFIX}_run2"
    create_database(first, template=data)
    create_database(second, template=data)
    out = Path(tempfile.gettempdir()) / "bench_renewals_profile.txt"
    env = child_environment(first, BENCH_PROFILE_COPY=second, BENCH_PROFILE_OUT=str(out))
    result = subprocess.run(
        [sys.executable, __file__, "profile", str(n)], env=env, capture_output=True, text=True, cwd=ROOT
    )
    drop_database(first)
    drop_database(second)
    if result.returncode:
        raise RuntimeError(f"profile failed:\n{result.stderr[-4000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"\nProfile, N={n:,} W=1 in one process: {figures['queries'] / n:.1f} queries per renewal "
        "(BEGIN and COMMIT not counted), "
        f"{1000 * figures['seconds'] / n:.2f} ms per renewal with the queries counted "
        f"({figures['db_ms_per_renewal']:.2f} ms of it in cursor.execute: the round trips, psycopg and PostgreSQL), "
        f"{1000 * figures['profile_seconds'] / n:.2f} ms per renewal under cProfile. Query shapes:"
    )
    for shape in figures["top"]:
        print(f"  {shape['per_renewal']:5.2f}/renewal {shape['ms_per_renewal']:6.3f} ms  {shape['sql']}")
    print(f"cProfile tables: {out} (the raw stats: {out.with_suffix('.pstats')})\n", flush=True)


def latency_n(workers: int, in_flight: int, delay_ms: int) -> int:
    """Renewals enough for the charges to take about 10 s (or 25 latencies) at the bound, at least LATENCY_N."""
    bound = workers * in_flight / (delay_ms / 1000)
    return max(LATENCY_N, int(bound * max(10.0, 25 * delay_ms / 1000) / CALL_SHARE) // 100 * 100)


def measure_latency(rows: list[str], goals: list[str]) -> None:
    data, run = f"{PREFIX}_data", f"{PREFIX}_run"
    workers = LATENCY_WORKERS
    for delay_ms in LATENCIES_MS:
        for in_flight in IN_FLIGHTS:
            n = latency_n(workers, in_flight, delay_ms)
            create_database(data, template=f"{PREFIX}_base")
            expected = run_phase("setup", data, str(n))["expected"]
            create_database(run, template=data)
            measured = run_command(
                run,
                workers,
                cap_for(n),
                SANDBOX_CHARGE_DELAY_MS=str(delay_ms),
                PAYMENTS_MAX_IN_FLIGHT=str(in_flight),
            )
            verified = run_phase("verify", run)
            drop_database(run)
            drop_database(data)
            problems = check(verified["counts"], expected)
            seconds = verified["run_seconds"]
            calls = expected["gateway_calls"]
            bound = workers * in_flight / (delay_ms / 1000)  # charges in flight ÷ the latency
            share = calls / seconds / bound
            note = (
                f"{in_flight} in flight: in-run {seconds:.2f} s: {n / seconds:.1f} renewals/s, "
                f"{calls / seconds:.1f} charges/s of a bound {bound:.0f}/s ({calls} charges) = {share:.0%}; "
                f"our CPU {measured['cpu_seconds']:.1f} s; "
                + ("checked ok" if not problems else "WRONG: " + "; ".join(problems))
            )
            rows.append(
                fmt_row(
                    f"latency {delay_ms} ms/charge",
                    n,
                    str(workers),
                    measured["seconds"],
                    f"{measured['peak_mb']:.0f} MB",
                    note,
                )
            )
            print(rows[-1], flush=True)
            goals.append(
                goal_row(
                    f"{delay_ms} ms a charge, {in_flight} in flight a worker, {workers} workers: charges/s ÷ bound",
                    f"{calls / seconds:.1f} ÷ {bound:.0f} = {share:.0%}",
                    f"≥ {BOUND_GOAL:.0%}",
                    share >= BOUND_GOAL and not problems,
                )
            )


def goal_row(figure: str, now: str, goal: str, met: bool) -> str:
    return f"| {figure} | {now} | {goal} | {'met' if met else 'MISSED'} |"


def ratio_goal(n: int, results: dict) -> str | None:
    """The table's first renewal row: N renewals with 2 workers ÷ the floor, our CPU and PostgreSQL's share."""
    ours, floor = results.get((n, 2)), results.get((n, "floor"))
    if not ours or not floor or ours["cut"]:
        return None
    ratio = ours["seconds"] / floor["seconds"]
    now = (
        f"{ours['seconds']:.1f} s ÷ {floor['seconds']:.1f} s = {ratio:.1f}× "
        f"(our CPU {ours['cpu_seconds']:.1f} s, {1000 * ours['cpu_seconds'] / n:.2f} ms/renewal"
    )
    if ours["pg_cpu_seconds"] is not None:
        share = ours["pg_cpu_seconds"] / (ours["pg_cpu_seconds"] + ours["cpu_seconds"])
        now += f"; PostgreSQL {ours['pg_cpu_seconds']:.1f} s, {share:.0%} of the CPU"
    return goal_row(
        f"{n:,} renewals, 2 workers: ours ÷ the bulk-SQL floor",
        now + ")",
        f"≤ {RATIO_GOAL:.0f}×",
        ratio <= RATIO_GOAL and not ours["problems"],
    )


def main() -> None:
    refuse_leftovers()
    rows, results, goals = [], {}, []
    try:
        create_database(f"{PREFIX}_base")
        migrated = run_phase("migrate", f"{PREFIX}_base")
        print(f"migrated {PREFIX}_base in {migrated['seconds']:.1f} s; as of {AS_OF}; cap {CAP_SECONDS} s", flush=True)
        print(HEADER, flush=True)
        for n in SIZES:
            measure_size(n, rows, results)
        for n in SIZES:
            if (row := ratio_goal(n, results)) and n == GOAL_N:
                goals.append(row)
        if LATENCIES_MS and IN_FLIGHTS:
            measure_latency(rows, goals)
    finally:
        for suffix in ("run", "run2", "data", "base"):
            drop_database(f"{PREFIX}_{suffix}")
    print("\n" + HEADER)
    print("\n".join(rows))
    if goals:
        load = " ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"\nIssue 14, the renewal rows (machine load at the end: {load}):")
        print("| figure | now | goal | |\n|---|---|---|---|")
        print("\n".join(goals))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] in {"migrate", "setup", "verify", "floor", "profile"}:
        setup_django()
        phase = {
            "migrate": phase_migrate,
            "setup": phase_setup,
            "verify": phase_verify,
            "floor": phase_floor,
            "profile": phase_profile,
        }[sys.argv[1]]
        print(json.dumps(phase(*(int(arg) for arg in sys.argv[2:])), default=str))
    else:
        main()
