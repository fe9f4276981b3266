"""Benchmark: server CPU per request of the checkout summary and every billing page, beside /healthz/ and a
minimal logged-in page that renders the same base layout.

    .venv/bin/python bench/checkout_summary.py          # needs wrk: apt-get install wrk

Goals (issue 14): the summary at most 5 ms of server CPU per request, every billing page (plans, payment
methods, e-invoice, promo code, payment records, usage, estimate; desktop and webstore) at most 10 ms, with 200
charges of history; all measured on the same gunicorn server (2 sync workers) in the same run. Server CPU is
the workers' and their PostgreSQL backends' (from /proc), per request: requests per second depend on whatever
else the machine runs, CPU per request much less so. Each figure is printed with its goal beside it, split
into Django and PostgreSQL, and less the layout page's (what the page itself costs beyond being a logged-in
page of the base layout: the session, the user, the membership, the layout).

The database, oa_billing_bench_web on the PostgreSQL server of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/oa_billing_bench_web), is created here and dropped at the end;
if it already exists (a leftover of an interrupted run) the script stops and says so. It holds the
issue's query-budget scenario: one account with an e-invoice profile, a sandbox card as its main
method and 19 spare methods (20 in all), 200 past charges, and an open checkout light → medium
with a NT$1,200 code entered (deduction NT$800, NT$400 forfeited).

gunicorn runs the production settings (DEBUG off, CONN_MAX_AGE=60, the manifest static storage)
with SECURE_SSL_REDIRECT off and static files collected into a temporary STATIC_ROOT, so nothing is
written into the project; its URLs are the project's plus the layout page (/bench/layout/<account>/, in the
benchmark's own URLconf: an account member's page that renders billing/base.html and nothing else). The load
generator is wrk (C, one thread, epoll): on a 2-core machine it shares the CPUs with the two workers and
PostgreSQL, and a lean client takes the least from them. A Lua hook counts every response: only a 200 whose
body holds the expected text counts as done (the summary: the NT$800 deduction; /healthz/: "ok"; the other
pages: the end of the page). All targets are measured in interleaved rounds (forwards, then backwards, ...)
so none gets the cold or the warm turn.

Settings: BENCH_SECONDS (per round and target, 3), BENCH_ROUNDS (3), BENCH_CONNECTIONS (8),
BENCH_WARMUP_SECONDS (2), BENCH_PAGES (comma-separated target names to measure only those, beside the
references; e.g. "summary,payments").
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
SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
WARMUP_SECONDS = int(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
ONLY = [name for name in os.environ.get("BENCH_PAGES", "").split(",") if name]
WORKERS = 2
SUMMARY_GOAL_MS = 5.0
PAGE_GOAL_MS = 10.0
SUMMARY_NEEDLE = 'data-testid="deduction">-NT$800<'
PAGE_NEEDLE = "</html>"
# The billing pages of an account (desktop under /accounts/<id>/, the webstore under /webstore/accounts/<id>/).
ACCOUNT_PAGES = {
    "plans": "plans/",
    "payment methods": "payment-methods/",
    "e-invoice": "einvoice/",
    "promo code": "promo-code/",
    "payment records": "payments/",
    "usage": "usage/",
    "estimate": "usage/estimate/",
}

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


LAYOUT_URLCONF = """
from django.shortcuts import render
from django.urls import path

from accounts.permissions import account_member_required
from config.urls import urlpatterns as project_urlpatterns


@account_member_required
def layout(request, account):
    \"\"\"A member's page of the base layout and nothing else: what every account page costs before its own.\"\"\"
    return render(request, "billing/base.html", {"account": account})


urlpatterns = [path("bench/layout/<int:account_id>/", layout), *project_urlpatterns]
"""


def write_settings(settings_dir: Path) -> None:
    """The production settings with a STATIC_ROOT of our own (the manifest storage needs collected files) and the
    project's URLs plus the layout page."""
    (settings_dir / "bench_web_settings.py").write_text(
        "from config.settings import *  # noqa: F403\n\n"
        f"STATIC_ROOT = {str(settings_dir / 'static')!r}\nROOT_URLCONF = 'bench_web_urls'\n"
    )
    (settings_dir / "bench_web_urls.py").write_text(LAYOUT_URLCONF)


def setup_django(env: dict, settings_dir: Path) -> None:
    sys.path[:0] = [str(settings_dir), str(ROOT)]
    os.environ.update(env)
    import django

    django.setup()


def create_scenario() -> tuple[str, str, int]:
    """The issue's query-budget scenario; returns the checkout's token, the admin's session cookie, the account."""
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
    return checkout.token, client.cookies["sessionid"].value, account.pk


def queries_per_request(target: "Target", session: str) -> int:
    """The target once through Django's test client here, counting its queries (and checking it)."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    if target.headers:  # as wrk sends it: the session cookie, except to /healthz/
        client.cookies["sessionid"] = session
    client.get(target.path)  # the first request pays for the URL resolver and the template loaders
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(target.path)
    if response.status_code != 200 or target.needle not in response.content.decode():
        raise SystemExit(f"{target.name} is not right ({response.status_code}); nothing was measured")
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

    def sample(self) -> dict[int, tuple[str, float]]:
        """CPU seconds so far of each worker ("django") and backend ("postgresql")."""
        workers = set(Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children").read_text().split())
        seconds = {}
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            spent = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
            seconds[pid] = ("django" if str(pid) in workers else "postgresql", spent)
        return seconds

    def close(self) -> None:
        self.connection.close()


class Target:
    def __init__(self, name: str, path: str, needle: str, headers: list[str], goal_ms: float | None):
        self.name, self.path, self.needle, self.headers, self.goal_ms = name, path, needle, headers, goal_ms
        self.rounds: list[dict] = []
        self.queries = 0

    def measure(self, base: str, seconds: int, script: Path, cpu: ServerCpu) -> dict:
        before = cpu.sample()
        result = run_wrk(base + self.path, self.needle, seconds, script, self.headers)
        after = cpu.sample()
        for side in ("django", "postgresql"):
            result[f"{side}_s"] = sum(
                spent - before.get(pid, (side, 0.0))[1] for pid, (kind, spent) in after.items() if kind == side
            )
        if result["bad"] or result["errors"] or not result["good"]:
            raise SystemExit(
                f"{self.name}: {result['bad']} wrong responses and {result['errors']} socket errors "
                f"out of {result['requests']}; errors must not count as speed"
            )
        return result

    @property
    def rps(self) -> float:
        return sum(r["good"] for r in self.rounds) / (sum(r["duration_us"] for r in self.rounds) / 1e6)

    def cpu_ms(self, side: str | None = None) -> float:
        """Server CPU (workers and their database backends, or one `side`) per request."""
        sides = [side] if side else ["django", "postgresql"]
        spent = sum(r[f"{s}_s"] for r in self.rounds for s in sides)
        return spent / sum(r["requests"] for r in self.rounds) * 1000

    def report(self, layout: "Target | None") -> str:
        p50 = statistics.median(r["p50_us"] for r in self.rounds) / 1000
        own = f"{self.cpu_ms() - layout.cpu_ms():+6.2f}" if layout is not None and self is not layout else "      "
        if self.goal_ms is None:
            goal = ""
        else:
            verdict = "ok" if self.cpu_ms() <= self.goal_ms else "MISSES THE GOAL"
            goal = f"goal ≤ {self.goal_ms:g} ms  {verdict}"
        return (
            f"{self.name:<27} {self.cpu_ms():6.2f} ms = {self.cpu_ms('django'):5.2f} + {self.cpu_ms('postgresql'):4.2f}"
            f"  {own}  {self.queries:3d}  {self.rps:6.1f} req/s  p50 {p50:6.1f} ms  {goal}"
        )


def targets(token: str, session: str, account_id: int) -> list[Target]:
    cookie = [f"Cookie: sessionid={session}"]
    found = [
        Target("/healthz/", "/healthz/", "ok", [], None),
        Target("layout (logged-in, base)", f"/bench/layout/{account_id}/", PAGE_NEEDLE, cookie, None),
        Target("summary", f"/checkout/{token}/", SUMMARY_NEEDLE, cookie, SUMMARY_GOAL_MS),
        Target("webstore summary", f"/webstore/checkout/{token}/", SUMMARY_NEEDLE, cookie, SUMMARY_GOAL_MS),
    ]
    for prefix, side in (("", ""), ("/webstore", "webstore ")):
        for name, path in ACCOUNT_PAGES.items():
            found.append(Target(f"{side}{name}", f"{prefix}/accounts/{account_id}/{path}", PAGE_NEEDLE, cookie, 10.0))
    references = {"/healthz/", "layout (logged-in, base)"}
    return [target for target in found if not ONLY or target.name in references or target.name in ONLY]


def measure(base: str, chosen: list[Target], script: Path, cpu: ServerCpu) -> None:
    for target in chosen:
        target.measure(base, WARMUP_SECONDS, script, cpu)
    for index in range(ROUNDS):
        for target in chosen if index % 2 == 0 else reversed(chosen):
            target.rounds.append(target.measure(base, SECONDS, script, cpu))


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
        token, session, account_id = create_scenario()
        chosen = targets(token, session, account_id)
        for target in chosen:
            target.queries = queries_per_request(target, session)
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
        print("the account: 200 charges, 20 payment methods; its checkout with a code entered")
        cpu = ServerCpu(server, url)
        measure(base, chosen, script, cpu)
        cpu.close()
        load = os.getloadavg()[0]
        print()
        print(f"{'server CPU per request':<27} {'total':>9} = django + postgresql  {'−layout':>6}  "
              f"{'SQL':>3}  {'throughput':>12}  {'latency':>11}")  # fmt: skip
        layout = next(target for target in chosen if target.name.startswith("layout"))
        for target in chosen:
            print(target.report(layout))
        summary = next((target for target in chosen if target.name == "summary"), None)
        if summary is not None:
            healthz = chosen[0]
            print(f"summary ÷ /healthz/ in requests per second: {summary.rps / healthz.rps:.2f}")
        misses = [target.name for target in chosen if target.goal_ms and target.cpu_ms() > target.goal_ms]
        print(f"pages over their goal: {', '.join(misses) if misses else 'none'}")
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
