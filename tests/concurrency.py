"""Run the same work in many threads released at one instant, for the PostgreSQL race tests."""

import threading

from django.db import connection


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
