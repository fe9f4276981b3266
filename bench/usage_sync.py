"""Benchmark: `sync_message_usage` for 1,000 and 10,000 connected channels against a fake Messaging API that takes
100 ms to answer each call.

    .venv/bin/python bench/usage_sync.py            # PostgreSQL (as production)
    .venv/bin/python bench/usage_sync.py --sqlite   # SQLite, in a temporary folder

Goal (issue 12, §7): calls per second at least 80% of the bound (calls in flight ÷ 0.1 s), the same cost per
account at both sizes (within 15%), under 300 MB for the command (and for the fake server, which runs apart).
Calls per second are counted from the first call's arrival at the fake to the last call's answer (the rate over
the whole command, start-up included, is printed beside it); the cost per account is the command's wall and CPU
time beyond its fixed cost, which an empty run (`--account 0`, nothing to read) measures on the same database.

The command runs as cron runs it, `manage.py sync_message_usage --workers W` (DEBUG off, a throwaway SECRET_KEY):
yesterday's deliveries and this month's billed total for every connected channel. Its peak RSS and CPU come from
wait4(). The fake is tests/usage/fakes/messaging.py (the one the tests use) with a 100 ms pause before each answer,
in its own process on 127.0.0.1 (threading HTTP server, HTTP/1.1 keep-alive, a listen backlog of 1,024), so its
CPU and memory are its own and are printed beside the command's. Before the runs, a plain client with four times
the calls in flight checks that the fake answers at least that bound: the fake is not what limits the sync.

The databases are oa_usagebench_base (migrated once, a template) and oa_usagebench (a fresh copy for each run) on
the server of BENCH_SERVER_URL (default postgres://postgres@127.0.0.1:5432); both are dropped at the end, even on
failure, and a leftover of an interrupted run stops the script. After each run the rows are checked against what
the fake holds: every day's kinds and every month's total recorded, each with its audit record.

Settings: BENCH_SIZES (1000,10000), BENCH_WORKERS (8, the crontab's --workers: one call in flight per worker),
BENCH_LATENCY_MS (100), BENCH_PROFILE_N (1000: a run in one process with a fake that answers at once, every
query counted and cProfile over the sync's threads; 0 skips).
"""

import cProfile
import io
import json
import os
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DATABASE, BASE = "oa_usagebench", "oa_usagebench_base"
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "1000,10000").split(",") if n]
WORKERS = int(os.environ.get("BENCH_WORKERS", "8"))
LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "100"))
PROFILE_N = int(os.environ.get("BENCH_PROFILE_N", "1000"))
GOAL_SHARE, GOAL_MB, GOAL_SAME_COST = 0.80, 300, 0.15
CAPACITY_SECONDS = 5
TAIPEI = ZoneInfo("Asia/Taipei")
KEY = "YmVuY2gtb25seS10aHJvd2F3YXktdG9rZW4ta2V5LTM="  # a Fernet key for this script only


def token_of(i: int) -> str:
    return f"bench-channel-access-token-{i:07d}"


def yesterday_and_month():
    """What the command reads by default: yesterday (Taipei) and this month's total."""
    today = datetime.now(TAIPEI).date()
    return today - timedelta(days=1), today.replace(day=1)


def deliveries_of(i: int) -> dict[str, int]:
    """Channel i's messages of yesterday by kind (LINE leaves out a kind with none)."""
    rng = random.Random(i)
    counts = {"apiPush": rng.randint(0, 3000), "apiReply": rng.randint(0, 800), "chat": rng.randint(0, 50)}
    if rng.random() < 0.2:
        counts["broadcast"] = rng.randint(100, 20_000)
    return {kind: count for kind, count in counts.items() if count}


# ---- the database: PostgreSQL (a template copied for each run) or SQLite (a file copied) -----------------------


class Postgres:
    def url(self, name: str) -> str:
        return f"{SERVER_URL}/{name}"

    def _execute(self, *statements: str):
        import _databases

        connection = _databases.server_connection(self.url("postgres"))[0]
        with connection:
            cursors = [connection.execute(statement) for statement in statements]
            return [cursor.fetchall() if cursor.description else [] for cursor in cursors]

    def refuse_leftovers(self) -> None:
        rows = self._execute(f"SELECT datname FROM pg_database WHERE datname IN ('{DATABASE}', '{BASE}')")[0]
        if rows:
            names = " ".join(row[0] for row in rows)
            sys.exit(
                f"databases left by an interrupted run: {names}; drop them first: dropdb -h 127.0.0.1 -U postgres …"
            )

    def create_base(self) -> str:
        self._execute(f'CREATE DATABASE "{BASE}"')
        return self.url(BASE)

    def fresh_copy(self) -> str:
        self._execute(
            f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)', f'CREATE DATABASE "{DATABASE}" TEMPLATE "{BASE}"'
        )
        return self.url(DATABASE)

    def drop_all(self) -> None:
        self._execute(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in (DATABASE, BASE)))

    def describe(self) -> str:
        return f"PostgreSQL {self.url(DATABASE)}"


class Sqlite:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="usagebench-"))

    def refuse_leftovers(self) -> None:
        pass

    def create_base(self) -> str:
        return f"sqlite:///{self.folder / 'base.sqlite3'}"

    def fresh_copy(self) -> str:
        shutil.copyfile(self.folder / "base.sqlite3", self.folder / "run.sqlite3")
        return f"sqlite:///{self.folder / 'run.sqlite3'}"

    def drop_all(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def describe(self) -> str:
        return f"SQLite {self.folder / 'run.sqlite3'}"


# ---- child processes ----------------------------------------------------------------------------------------


def child_environment(database_url: str, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "bench-only-throwaway-key-not-used-anywhere-else",
        # DEBUG keeps every query in memory, which would spoil the memory figure.
        "DEBUG": "false",
        "SELLER_UBN": "22099131", "SELLER_NAME": "示範數位服務股份有限公司", "SELLER_ADDRESS": "臺北市信義區市府路1號",
        "MESSAGING_TOKEN_KEY": KEY,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **extra,
    })  # fmt: skip
    return env


def run_phase(phase: str, database_url: str, *args, **extra_env: str) -> dict:
    """Run one phase in a fresh interpreter; it prints its figures as JSON on its last line."""
    result = subprocess.run(
        [sys.executable, __file__, phase, *map(str, args)],
        env=child_environment(database_url, **extra_env),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode:
        raise RuntimeError(f"phase {phase} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class FakeProcess:
    """The fake Messaging API in its own process; `stop()` returns its counts, peak RSS and CPU."""

    def __init__(self, n: int, latency_ms: int):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "fake", str(n), str(latency_ms)],
            env=child_environment("sqlite://:memory:"),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.base_url = json.loads(self.process.stdout.readline())["base_url"]

    def stop(self) -> dict:
        self.process.stdin.close()
        figures = json.loads(self.process.stdout.read().strip().splitlines()[-1])
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return figures | {"peak_mb": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime}


def run_command(database_url: str, base_url: str, workers: int, *options: str) -> dict:
    """`manage.py sync_message_usage` as the cron would run it: wall time, peak RSS and CPU from wait4()."""
    command = [sys.executable, "manage.py", "sync_message_usage", "--workers", str(workers), *options]
    env = child_environment(database_url, LINE_MESSAGING_API_BASE=base_url)
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    if process.returncode:
        raise RuntimeError(f"sync_message_usage exited {process.returncode}:\n{out[-2000:]}\n{err[-4000:]}")
    return {
        "seconds": seconds,
        "peak_mb": usage.ru_maxrss / 1024,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "summary": out.strip().splitlines()[-1] if out.strip() else "",
    }


# ---- phases (in a child) -----------------------------------------------------------------------------------


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def phase_fake(n: int, latency_ms: int) -> None:
    """Serve the fake Messaging API with N channels until stdin closes; then print what it saw."""
    sys.path.insert(0, str(ROOT))
    from tests.payments.fakes.server import Handler
    from tests.usage.fakes.messaging import FakeMessagingApi

    class KeepAlive(Handler):
        protocol_version = "HTTP/1.1"  # as LINE's servers: the client may send its next call on the same connection
        # The headers and the body go out in two writes; with Nagle on, the body would wait for the client's
        # delayed ACK of the headers (40 ms), which a connection closed after each answer never showed.
        disable_nagle_algorithm = True

    class SlowFake(FakeMessagingApi):
        """Each call answered after `latency` seconds, all of them at once (a thread per connection)."""

        def __init__(self, latency: float, **kwargs):
            super().__init__(**kwargs)
            self.latency = latency
            self.first = self.last = None

        def _route(self, *args):
            began = time.monotonic()
            time.sleep(self.latency)
            answer = super()._route(*args)
            with self._count_lock:
                self.first = began if self.first is None else min(self.first, began)
                self.last = time.monotonic()
            return answer

    yesterday, month = yesterday_and_month()
    fake = SlowFake(latency_ms / 1000, month=month)
    fake.httpd.RequestHandlerClass = KeepAlive
    fake.httpd.socket.listen(1024)  # socketserver's default backlog of 5 would drop connections
    for i in range(1, n + 1):
        token = token_of(i)
        fake.channel(token, basic_id=f"@bench{i:07d}")
        for kind, count in deliveries_of(i).items():
            fake.deliver(token, yesterday, kind, count)
    fake.start()
    print(json.dumps({"base_url": fake.base_url}), flush=True)
    sys.stdin.read()  # until the parent closes it
    fake.stop()
    window = (fake.last - fake.first) if fake.first is not None else 0.0
    print(json.dumps({"calls": dict(fake.calls), "most_in_flight": fake.most_in_flight, "window": window}))


def phase_capacity(base_url: str, in_flight: int, seconds: float) -> dict:
    """A plain client (urllib3, one pooled connection per thread, as the sync's clients) keeping `in_flight`
    calls at the fake for `seconds`: the calls per second it answers."""
    import urllib3

    pool = urllib3.PoolManager(maxsize=in_flight, retries=False)
    done, errors = Counter(), Counter()
    stop = time.monotonic() + seconds

    def client(number: int):
        token = token_of(number % 1000 + 1)
        while time.monotonic() < stop:
            answer = pool.request(
                "GET", f"{base_url}/v2/bot/message/quota/consumption", headers={"Authorization": f"Bearer {token}"}
            )
            (done if answer.status == 200 else errors)[number] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"calls": sum(done.values()), "errors": sum(errors.values()), "seconds": time.monotonic() - started}


def phase_migrate() -> dict:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    return {"seconds": time.perf_counter() - started}


def phase_setup(n: int) -> dict:
    """N official accounts, each with a connected channel whose token (encrypted, as stored) the fake knows."""
    from django.db import connection, transaction

    from accounts.models import OfficialAccount
    from usage.models import MessagingChannel
    from usage.tokens import token_encrypt

    started = time.perf_counter()
    with transaction.atomic():
        accounts = OfficialAccount.objects.bulk_create(
            (OfficialAccount(name=f"Bench shop {i}", basic_id=f"@bench{i:07d}") for i in range(1, n + 1)),
            batch_size=2000,
        )
        MessagingChannel.objects.bulk_create(
            (
                MessagingChannel(
                    account=account,
                    token_encrypted=token_encrypt(token_of(i)),
                    status="connected",
                    bot_basic_id=account.basic_id,
                    connected_at=account.created_at,
                )
                for i, account in enumerate(accounts, start=1)
            ),
            batch_size=2000,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {"seconds": time.perf_counter() - started}


def expected_rows(n: int) -> dict:
    """What a correct run leaves: yesterday's kinds of every channel, this month's total of every channel."""
    yesterday, month = yesterday_and_month()
    billed = {"broadcast", "apiPush"}  # of the kinds deliveries_of sends, those LINE bills
    days = sum(len(deliveries_of(i)) for i in range(1, n + 1))
    total = sum(
        count for i in range(1, n + 1) for kind, count in deliveries_of(i).items() if kind in billed
    ) if yesterday >= month else 0  # fmt: skip
    return {"daily_rows": days, "monthly_rows": n, "billed_total": total, "audit": days + n, "synced": n}


def phase_verify(n: int) -> dict:
    from django.db.models import Sum

    from accounts.models import AuditRecord
    from usage.models import DailyUsage, MessagingChannel, MonthlyUsage

    found = {
        "daily_rows": DailyUsage.objects.filter(source="api", final=True).count(),
        "monthly_rows": MonthlyUsage.objects.filter(source="api").count(),
        "billed_total": MonthlyUsage.objects.aggregate(total=Sum("billed_messages"))["total"] or 0,
        "audit": AuditRecord.objects.filter(action="usage.sync").count(),
        "synced": MessagingChannel.objects.filter(last_synced_at__isnull=False, sync_claimed_until=None).count(),
    }
    expected = expected_rows(n)
    return {"problems": [f"{k}: {found[k]:,} (expected {expected[k]:,})" for k in expected if found[k] != expected[k]]}


def normalise_sql(sql: str) -> str:
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\((?:(?:\?|%s), )+(?:\?|%s)\)", "(…)", sql)  # IN lists of any length: one shape
    return re.sub(r'"[a-z_]+"\."([a-z_]+)"', r"\1", sql)[:140]


def phase_profile(n: int, workers: int) -> dict:
    """The sync in this process against a fake that answers at once: what one channel costs us, query by query,
    and where the CPU goes: cProfile counting each thread's CPU time, in the thread that claims and records
    (all the database work) and in the reader threads (the calls to LINE)."""
    from django.db import connection

    from usage import sync

    yesterday, month = yesterday_and_month()
    ids = sync.connected_channels()
    shapes = Counter()

    def count(execute, sql, params, many, context):
        shapes[normalise_sql(sql)] += 1
        return execute(sql, params, many, context)

    readers, lock, local = [], threading.Lock(), threading.local()
    read = sync.Readers.read

    def profiled_read(self, *args, **kwargs):
        if not hasattr(local, "profile"):
            local.profile = cProfile.Profile(time.thread_time)
            with lock:
                readers.append(local.profile)
        return local.profile.runcall(read, self, *args, **kwargs)

    sync.Readers.read = profiled_read
    recorder = cProfile.Profile(time.thread_time)
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        totals = recorder.runcall(sync.sync_all, ids, days=[yesterday], month=month, workers=workers)
    seconds = time.perf_counter() - started
    stream = io.StringIO()
    for title, profiles in (("the recording thread", [recorder]), ("the reader threads", readers)):
        stream.write(f"\n==== CPU of {title} ====\n")
        stats = pstats.Stats(*profiles, stream=stream)
        stats.sort_stats("tottime").print_stats(20)
        stats.sort_stats("cumulative").print_stats(r"usage/|linebot|urllib3|django/db|cryptography|psycopg", 30)
    Path(os.environ["BENCH_PROFILE_OUT"]).write_text(stream.getvalue(), encoding="utf-8")
    return {
        "seconds": seconds,
        "channels": totals.channels,
        "failed": len(totals.failed),
        "recording_cpu": pstats.Stats(recorder).total_tt,
        "reading_cpu": pstats.Stats(*readers).total_tt if readers else 0.0,
        "top": [{"per_channel": hits / n, "sql": shape} for shape, hits in shapes.most_common(20)],
        "queries": sum(shapes.values()),
    }


# ---- the benchmark ------------------------------------------------------------------------------------------


def check_capacity(in_flight: int) -> str:
    """The fake must answer more than the sync can ask: a plain client with 4× the sync's calls in flight."""
    fake = FakeProcess(1000, LATENCY_MS)
    try:
        load = run_phase("capacity", "sqlite://:memory:", fake.base_url, 4 * in_flight, CAPACITY_SECONDS)
    finally:
        served = fake.stop()
    rate = load["calls"] / load["seconds"]
    bound = 4 * in_flight / (LATENCY_MS / 1000)
    verdict = "not the bottleneck" if rate >= GOAL_SHARE * bound and not load["errors"] else "MAY LIMIT THE SYNC"
    return (
        f"fake server alone: {4 * in_flight} calls in flight from a plain client for {load['seconds']:.1f} s: "
        f"{rate:.0f} calls/s of a bound {bound:.0f}/s ({rate / bound:.0%}), {load['errors']} errors, "
        f"most in flight at the fake {served['most_in_flight']}, fake CPU {served['cpu_seconds']:.1f} s, "
        f"peak {served['peak_mb']:.0f} MB: {verdict} at {in_flight} in flight"
    )


def measure(database, n: int) -> dict:
    url = database.fresh_copy()
    setup = run_phase("setup", url, n)
    fake = FakeProcess(n, LATENCY_MS)
    try:
        # The command's fixed cost (interpreter, Django, the SDK, the first query): a run with no channel to read.
        empty = run_command(url, fake.base_url, WORKERS, "--account", "0")
        assert empty["summary"].startswith("0 channels read"), empty["summary"]
        measured = run_command(url, fake.base_url, WORKERS)
    finally:
        served = fake.stop()
    problems = run_phase("verify", url, n)["problems"]
    calls = sum(served["calls"].values())
    bound = WORKERS / (LATENCY_MS / 1000)
    return {
        "n": n,
        "setup_seconds": setup["seconds"],
        "calls": calls,
        "calls_by_endpoint": served["calls"],
        "rate": calls / measured["seconds"],
        "rate_in_run": calls / served["window"] if served["window"] else 0.0,
        "bound": bound,
        "most_in_flight": served["most_in_flight"],
        "fake_peak_mb": served["peak_mb"],
        "fake_cpu_seconds": served["cpu_seconds"],
        "problems": problems,
        "fixed_seconds": empty["seconds"],
        "fixed_cpu_seconds": empty["cpu_seconds"],
        **measured,
    }


def profile(database, n: int) -> None:
    url = database.fresh_copy()
    run_phase("setup", url, n)
    out = Path(tempfile.gettempdir()) / "bench_usage_sync_profile.txt"
    fake = FakeProcess(n, 0)
    try:
        figures = run_phase(
            "profile", url, n, WORKERS, LINE_MESSAGING_API_BASE=fake.base_url, BENCH_PROFILE_OUT=str(out)
        )
    finally:
        fake.stop()
    print(
        f"\nProfile, N={n:,} W={WORKERS} in one process, the fake answering at once: {figures['channels']:,} channels "
        f"in {figures['seconds']:.1f} s ({1000 * figures['seconds'] / n:.1f} ms a channel under cProfile), "
        f"CPU a channel: {1000 * figures['recording_cpu'] / n:.1f} ms claiming and recording, "
        f"{1000 * figures['reading_cpu'] / n:.1f} ms reading (both under cProfile); "
        f"{figures['queries'] / n:.1f} queries a channel (BEGIN and COMMIT not counted). Query shapes:"
    )
    for shape in figures["top"]:
        print(f"  {shape['per_channel']:5.2f}/channel  {shape['sql']}")
    print(f"cProfile tables: {out}", flush=True)


def per_account(r: dict, key: str) -> float:
    """Seconds of `key` (wall or CPU) per account, the command's fixed cost (an empty run's) taken off."""
    return (r[key] - r[f"fixed_{key}"]) / r["n"]


def report(results: list[dict]) -> list[str]:
    lines = []
    for r in results:
        n = r["n"]
        per_call = ", ".join(f"{name} {count / n:g}" for name, count in sorted(r["calls_by_endpoint"].items()))
        share = r["rate_in_run"] / r["bound"]
        lines += [
            f"N={n:,} accounts, --workers {WORKERS} ({WORKERS} calls in flight), {LATENCY_MS} ms a call:",
            f"  wall time               {r['seconds']:8.1f} s    ({r['summary']})",
            f"  calls                   {r['calls']:8,}      ({r['calls'] / n:g} an account: {per_call})",
            f"  calls per second        {r['rate_in_run']:8.1f}      from the first call to the last, of a bound "
            f"{r['bound']:.0f}/s = {share:.0%} (goal ≥ {GOAL_SHARE:.0%}: {'met' if share >= GOAL_SHARE else 'MISSED'});"
            f" over the whole command {r['rate']:.1f}/s = {r['rate'] / r['bound']:.0%}",
            f"  in flight at the fake   {r['most_in_flight']:8}      at most",
            f"  peak RSS, command       {r['peak_mb']:8.0f} MB   (goal < {GOAL_MB} MB: "
            f"{'met' if r['peak_mb'] < GOAL_MB else 'MISSED'})",
            f"  peak RSS, fake server   {r['fake_peak_mb']:8.0f} MB   (goal < {GOAL_MB} MB: "
            f"{'met' if r['fake_peak_mb'] < GOAL_MB else 'MISSED'}); its CPU {r['fake_cpu_seconds']:.1f} s",
            f"  cost per account        {1000 * per_account(r, 'seconds'):8.2f} ms wall, "
            f"{1000 * per_account(r, 'cpu_seconds'):.2f} ms CPU of the command, beyond its fixed cost "
            f"(an empty run: {r['fixed_seconds']:.1f} s, {r['fixed_cpu_seconds']:.1f} s CPU)",
            f"  rows                    {'checked ok' if not r['problems'] else 'WRONG: ' + '; '.join(r['problems'])}",
        ]
    if len(results) >= 2:
        small, large = results[0], results[-1]
        for label, key in (("wall", "seconds"), ("CPU", "cpu_seconds")):
            a, b = per_account(small, key), per_account(large, key)
            same = abs(b / a - 1) <= GOAL_SAME_COST
            lines.append(
                f"cost per account, {label}: {1000 * a:.2f} ms at {small['n']:,}, {1000 * b:.2f} ms at "
                f"{large['n']:,}: ×{b / a:.2f} (goal: the same, within ±{GOAL_SAME_COST:.0%}: "
                f"{'met' if same else 'MISSED'})"
            )
    return lines


def main() -> None:
    database = Sqlite() if "--sqlite" in sys.argv[1:] else Postgres()
    database.refuse_leftovers()
    results = []
    try:
        migrated = run_phase("migrate", database.create_base())
        print(f"{database.describe()}: migrated in {migrated['seconds']:.1f} s", flush=True)
        print(check_capacity(WORKERS), flush=True)
        for n in SIZES:
            results.append(measure(database, n))
            print("\n".join(report(results[-1:])), flush=True)
        if PROFILE_N:
            profile(database, PROFILE_N)
    finally:
        database.drop_all()
    print("\n" + "\n".join(report(results)))
    if any(r["problems"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    phases = {"migrate": phase_migrate, "setup": phase_setup, "verify": phase_verify, "profile": phase_profile}
    if len(sys.argv) >= 2 and sys.argv[1] == "fake":
        phase_fake(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "capacity":
        print(json.dumps(phase_capacity(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
    elif len(sys.argv) >= 2 and sys.argv[1] in phases:
        setup_django()
        print(json.dumps(phases[sys.argv[1]](*(int(arg) for arg in sys.argv[2:])), default=str))
    else:
        main()
