"""Run the same work in many threads released at one instant, or a command as cron starts it, for the
PostgreSQL race tests."""

import os
import subprocess
import sys
import threading
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def run_at_once(work, count):
    """Run work(i) for i in range(count), all released together; return each result or exception."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def runner(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as error:  # noqa: BLE001 - each thread's outcome is the test's data
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def manage_command(name: str, *args, delay_ms: int = 0) -> subprocess.Popen:
    """`manage.py name args` in a process of its own, as cron would start it, against this test's database
    (the sandbox gateway taking `delay_ms` a charge)."""
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
        [sys.executable, "manage.py", name, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
