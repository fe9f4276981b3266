import importlib
import os

import pytest
from django.conf import settings
from django.utils import translation

# The fake payment gateways' fixtures (fake_linepay, fake_tappay, linepay_on, tappay_on) and the fake Messaging
# API's (fake_messaging_api), for any test to ask for.
pytest_plugins = ["tests.payments.fakes.fixtures", "tests.usage.fakes.fixtures"]

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# The browser tests (tests/e2e) drive the system's Chromium (Debian's `chromium` package) through Playwright.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package: pip install -r requirements.txt"
    return None


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip, with the reason, on SQLite; with REQUIRE_POSTGRES=1 they must run."""
    skip_browser_tests_without_a_browser(items)
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


def skip_browser_tests_without_a_browser(items):
    """Browser tests skip, with the reason, where Chromium is missing; REQUIRE_BROWSER=1 then fails the run."""
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    reason = browser_missing() if browser_items else None
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"browser test skipped: {reason}")
    for item in browser_items:
        item.add_marker(skip)


def skipped_for_no_browser(report) -> bool:
    """A browser test skipped because the browser is missing (not, say, a PostgreSQL-only one on SQLite)."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return "browser" in report.keywords and "browser test skipped:" in reason


def pytest_sessionfinish(session, exitstatus):
    """Under REQUIRE_BROWSER=1 a skipped browser test fails the run; under REQUIRE_POSTGRES=1 a skipped
    PostgreSQL test does: CI must not pass without them."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("REQUIRE_BROWSER") == "1":
        skipped = [r for r in (reporter.stats.get("skipped", []) if reporter else []) if skipped_for_no_browser(r)]
        if skipped:
            reporter.write_line(f"REQUIRE_BROWSER=1: {len(skipped)} browser test(s) were skipped", red=True)
            session.exitstatus = 1
    if os.environ.get("REQUIRE_POSTGRES") != "1":
        return
    skipped = [r for r in (reporter.stats.get("skipped", []) if reporter else []) if "postgres" in r.keywords]
    if skipped:
        reporter.write_line(f"REQUIRE_POSTGRES=1: {len(skipped)} PostgreSQL test(s) were skipped", red=True)
        session.exitstatus = 1


@pytest.fixture
def english(settings):
    """The site in English (LANGUAGE_CODE "en"): for modules that read the English source strings, through
    `pytestmark = pytest.mark.usefixtures("english")`; tests/test_i18n.py checks the zh-Hant ones."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def english_messages():
    """Messages built outside a request (validation errors, form errors) in English, through
    `pytestmark = pytest.mark.usefixtures("english_messages")`."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def plans_after_a_flush(request):
    """A transactional test flushes every table, the plans and message kinds the data migrations loaded included:
    load them again.

    The migration's own function does it (it is idempotent), so the tests see what a fresh database has.
    """
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    importlib.import_module("billing.migrations.0003_seed_plans").seed_plans(apps, None)
    importlib.import_module("usage.migrations.0004_seed_message_kinds").seed(apps, None)
