"""Benchmark: requests per second of the checkout summary page against a minimal Django view (/healthz/).

    .venv/bin/python bench/checkout_summary.py          # needs wrk: apt-get install wrk

Goal (issue 3, "Tests"): the summary serves at least half as many requests per second as /healthz/,
both measured on the same gunicorn server (2 sync workers) in the same run.

The database, oa_billing_bench_web on the PostgreSQL server of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/oa_billing_bench_web), is created here and dropped at the end;
if it already exists (a leftover of an interrupted run) the script stops and says so. It holds the
issue's query-budget scenario: one account with an e-invoice profile, a sandbox card as its main
method and 19 spare methods (20 in all), 200 past charges, and an open checkout light → medium
with a NT$1,200 code entered (deduction NT$800, NT$400 forfeited).

gunicorn runs the production settings (DEBUG off, CONN_MAX_AGE=60, the manifest static storage)
with SECURE_SSL_REDIRECT off and static files collected into a temporary STATIC_ROOT, so nothing is
written into the project. The load generator is wrk (C, one thread, epoll): on a 2-core machine it
shares the CPUs with the two workers and PostgreSQL, and a lean client takes the least from them.
A Lua hook counts every response: only a 200 whose body holds the expected text counts as done
(the summary: the NT$800 deduction; /healthz/: "ok"). Both targets are measured in interleaved
rounds (A B, B A, A B, ...) so neither gets the cold or the warm turn.

Settings: BENCH_SECONDS (per round and target, 5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (8),
BENCH_WARMUP_SECONDS (3).
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _databases import create_database, drop_database, server_connection

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oa_billing_bench_web"
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
WARMUP_SECONDS = int(os.environ.get("BENCH_WARMUP_SECONDS", "3"))
WORKERS = 2
GOAL = 0.5
SUMMARY_NEEDLE = 'data-testid="deduction">-NT$800<'

# Counts the responses that are right (status 200 and the expected text in the body) per wrk thread,
# then prints one JSON line with those counts and wrk's own figures.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) needle = args[1]; good = 0; bad = 0 end
function response(status, headers, body)
  if status == 200 and body ~= nil and string.find(body, needle, 1, true) then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do g = g + t:get("good"); b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"good": %d, "bad": %d, "requests": %d, "duration_us": %d, "errors": %d, "mean_us": %.1f, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    g, b, summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99)))
end
"""


# ---- the database -------------------------------------------------------------------------------


def server_environment(url: str, settings_dir: Path) -> dict:
    """What both this process and gunicorn run with: production settings, plain HTTP on 127.0.0.1."""
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "bench_web_settings",
        "PYTHONPATH": os.pathsep.join([str(settings_dir), str(ROOT)]),
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": "bench-only-throwaway-key-not-used-anywhere-else",
        # DEBUG off needs a seller; the demo company's, as before it was required.
        "SELLER_UBN": "22099131", "SELLER_NAME": "示範數位服務股份有限公司", "SELLER_ADDRESS": "臺北市信義區市府路1號",
        # and a key for the Messaging API channel tokens
        "MESSAGING_TOKEN_KEY": "YmVuY2gtb25seS10aHJvd2F3YXktdG9rZW4ta2V5LTM=",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    return env


def write_settings(settings_dir: Path) -> None:
    """The production settings with a STATIC_ROOT of our own (the manifest storage needs collected files)."""
    (settings_dir / "bench_web_settings.py").write_text(
        f"from config.settings import *  # noqa: F403\n\nSTATIC_ROOT = {str(settings_dir / 'static')!r}\n"
    )


def setup_django(env: dict, settings_dir: Path) -> None:
    sys.path[:0] = [str(settings_dir), str(ROOT)]
    os.environ.update(env)
    import django

    django.setup()


def create_scenario() -> tuple[str, str]:
    """The issue's query-budget scenario; returns the checkout's token and the admin's session cookie."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Membership, OfficialAccount, Role
    from accounts.periods import local_date
    from billing.checkout import checkout_set_code, checkout_start
    from billing.models import Plan, Subscription
    from invoices.models import EInvoiceProfile, ProfileKind
    from payments.gateways.sandbox import tokenise_card
    from payments.models import PaymentMethod
    from payments.services import card_add
    from promos.codes import random_code
    from promos.models import Campaign, PromoCode
    from tests.helpers import past_charges

    now = timezone.now()
    user = get_user_model().objects.create_user("bench-admin", "admin@example.tw", "bench-pass-not-secret-1")
    account = OfficialAccount.objects.create(name="壓測小店", basic_id="@bench001")
    Subscription.objects.create(
        account=account, plan=Plan.objects.get(code="light"), period_start=local_date(now).replace(day=1)
    )
    Membership.objects.create(user=user, account=account, role=Role.ADMIN)
    EInvoiceProfile.objects.create(
        account=account, kind=ProfileKind.MEMBER_CARRIER, name="王小明", email="owner@example.tw"
    )
    token = tokenise_card(number="4242424242424242", expiry="12/30", cvc="123", today=local_date(now))
    card = card_add(account=account, one_time_token=token.one_time_token, actor=user)
    PaymentMethod.objects.bulk_create(
        PaymentMethod(
            account=account,
            kind=card.kind,
            gateway=card.gateway,
            gateway_token=f"tok_bench_{i:03d}",
            brand="visa",
            last_four=f"{i:04d}",
            expiry_month=12,
            expiry_year=2030,
            is_main=False,
        )
        for i in range(19)
    )
    past_charges(account, card, count=200)  # the same 200 charges as the tests' query budgets
    campaign = Campaign.objects.create(
        name="壓測活動", face_value_twd=1200, valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=365)
    )
    code = PromoCode.objects.create(campaign=campaign, code=random_code())
    checkout = checkout_start(account=account, plan=Plan.objects.get(code="medium"), user=user, channel="desktop")
    checkout_set_code(checkout=checkout, text=code.code)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return checkout.token, client.cookies["sessionid"].value


def queries_per_summary(path: str, session: str) -> int:
    """The summary once through Django's test client here, counting its queries (and checking it)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies["sessionid"] = session
    client.get(path)  # the first request pays for the URL resolver and the template loaders
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    if response.status_code != 200 or SUMMARY_NEEDLE not in response.content.decode():
        raise SystemExit(f"the summary page is not right ({response.status_code}); nothing was measured")
    return len(queries)


# ---- gunicorn and wrk ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict, port: int, log: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application", "--workers", str(WORKERS),
        "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        "--error-logfile", str(log),
    ]  # fmt: skip
    # Its own session: a Ctrl-C reaches this script, whose `finally` stops the whole server.
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def wait_until_up(server: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/healthz/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within 30 s:\n{log.read_text()[-3000:]}")


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # its own process group: the master and its workers
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def run_wrk(url: str, needle: str, seconds: int, script: Path, headers: list[str]) -> dict:
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(CONNECTIONS),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(script),
    ]
    for header in headers:
        command += ["--header", header]
    output = subprocess.run([*command, url, "--", needle], check=True, capture_output=True, text=True).stdout
    line = next((line for line in output.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{output}")
    return json.loads(line.removeprefix("BENCH "))


class ServerCpu:
    """CPU seconds spent by the gunicorn workers and their PostgreSQL backends, from /proc.

    Requests per second depend on whatever else the machine runs; the server's CPU time per request
    much less so. A backend opened or closed during a round is counted for the part this sees.
    """

    def __init__(self, server: subprocess.Popen, url: str):
        self.server = server
        self.connection, self.database = server_connection(url)

    def pids(self) -> list[int]:
        workers = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children").read_text().split()
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database]
        ).fetchall()
        return [int(pid) for pid in workers] + [row[0] for row in rows]

    def sample(self) -> dict[int, float]:
        seconds = {}
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        return seconds

    def close(self) -> None:
        self.connection.close()


class Target:
    def __init__(self, name: str, url: str, needle: str, headers: list[str]):
        self.name, self.url, self.needle, self.headers = name, url, needle, headers
        self.rounds: list[dict] = []

    def measure(self, seconds: int, script: Path, cpu: ServerCpu) -> dict:
        before = cpu.sample()
        result = run_wrk(self.url, self.needle, seconds, script, self.headers)
        after = cpu.sample()
        result["cpu_s"] = sum(spent - before.get(pid, 0.0) for pid, spent in after.items())
        if result["bad"] or result["errors"] or not result["good"]:
            raise SystemExit(
                f"{self.name}: {result['bad']} wrong responses and {result['errors']} socket errors "
                f"out of {result['requests']}; errors must not count as speed"
            )
        return result

    @property
    def rps(self) -> float:
        return sum(r["good"] for r in self.rounds) / (sum(r["duration_us"] for r in self.rounds) / 1e6)

    @property
    def cpu_ms(self) -> float:
        """Server CPU (workers and their database backends) per request."""
        return sum(r["cpu_s"] for r in self.rounds) / sum(r["requests"] for r in self.rounds) * 1000

    def report(self) -> str:
        weights = [r["good"] for r in self.rounds]
        mean = sum(r["mean_us"] * w for r, w in zip(self.rounds, weights, strict=True)) / sum(weights) / 1000
        p50 = statistics.median(r["p50_us"] for r in self.rounds) / 1000
        p99 = max(r["p99_us"] for r in self.rounds) / 1000
        per_round = ", ".join(f"{r['good'] / (r['duration_us'] / 1e6):.0f}" for r in self.rounds)
        return (
            f"{self.name:<16} {self.rps:7.1f} req/s  latency mean {mean:6.1f} ms, p50 {p50:6.1f}, "
            f"p99 {p99:6.1f}  server CPU {self.cpu_ms:5.2f} ms/request  (rounds: {per_round} req/s)"
        )


def measure(base: str, token: str, session: str, script: Path, cpu: ServerCpu) -> tuple[Target, Target]:
    cookie = [f"Cookie: sessionid={session}"]
    healthz = Target("/healthz/", f"{base}/healthz/", "ok", [])
    summary = Target("checkout summary", f"{base}/checkout/{token}/", SUMMARY_NEEDLE, cookie)
    for target in (healthz, summary):
        target.measure(WARMUP_SECONDS, script, cpu)
    for index in range(ROUNDS):
        order = (healthz, summary) if index % 2 == 0 else (summary, healthz)
        for target in order:
            target.rounds.append(target.measure(SECONDS, script, cpu))
    return healthz, summary


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (the load generator of this benchmark)")
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    workdir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    write_settings(workdir)
    script = workdir / "check.lua"
    script.write_text(WRK_SCRIPT)
    env = server_environment(url, workdir)
    create_database(url)
    server = None
    try:
        setup_django(env, workdir)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        token, session = create_scenario()
        queries = queries_per_summary(f"/checkout/{token}/", session)
        connection.close()
        port = free_port()
        log = workdir / "gunicorn.log"
        server = start_gunicorn(env, port, log)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(server, base, log)
        name = connection.settings_dict["NAME"]
        print(f"gunicorn: {WORKERS} sync workers on {base}, DEBUG off, CONN_MAX_AGE=60, database {name}")
        print(f"load generator: wrk, 1 thread, {CONNECTIONS} connections, on the same {os.cpu_count()} CPUs")
        print(f"warm-up {WARMUP_SECONDS} s each, then {ROUNDS} interleaved rounds of {SECONDS} s per target;")
        print("only a 200 with the expected text in its body counts")
        print(f"the summary: 200 charges, 20 payment methods, a code entered; {queries} queries per request")
        cpu = ServerCpu(server, url)
        healthz, summary = measure(base, token, session, script, cpu)
        cpu.close()
        load = os.getloadavg()[0]
        print(healthz.report())
        print(summary.report())
        ratio = summary.rps / healthz.rps
        verdict = "ok" if ratio >= GOAL else "MISSES THE GOAL"
        print(f"ratio summary / healthz: {ratio:.2f}  (goal: at least {GOAL})  {verdict}")
        cpu_ratio = healthz.cpu_ms / summary.cpu_ms
        print(f"the same from server CPU per request (less sensitive to other load on the machine): {cpu_ratio:.2f}")
        print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs")
    finally:
        if server is not None:
            stop_gunicorn(server)
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        drop_database(url)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
