import os

import pytest
from django.conf import settings

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip, with the reason, on SQLite; with REQUIRE_POSTGRES=1 they must run."""
    keep_migrated_data(items)
    postgres_items = [item for item in items if item.get_closest_marker("postgres")]
    if ON_POSTGRES or not postgres_items:
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but DATABASE_URL is not a PostgreSQL database")
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (real row locks); this run uses SQLite: set DATABASE_URL to a PostgreSQL URL"
    )
    for item in postgres_items:
        item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    """Under REQUIRE_POSTGRES=1 a skipped PostgreSQL test fails the run: CI must not pass without them."""
    if os.environ.get("REQUIRE_POSTGRES") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [r for r in (reporter.stats.get("skipped", []) if reporter else []) if "postgres" in r.keywords]
    if skipped:
        reporter.write_line(f"REQUIRE_POSTGRES=1: {len(skipped)} PostgreSQL test(s) were skipped", red=True)
        session.exitstatus = 1


def keep_migrated_data(items):
    """Give every transactional test a serialized rollback, so the plans the migrations loaded survive it.

    A transactional test flushes every table. It has to hold for all of them: one that flushes without it
    re-creates content types that the next serialized test would then load a second time.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            item.add_marker(
                pytest.mark.django_db(*marker.args, **marker.kwargs, serialized_rollback=True), append=False
            )
