"""Browser tests: Chromium (the system's, from Debian's `chromium` package) driven by Playwright against
pytest-django's live server. tests/conftest.py skips them, with the reason, where Chromium is missing.

Playwright's sync API keeps an event loop running in this thread, so Django would refuse the ORM calls
the tests make to arrange data and check the database; the live server runs in its own thread anyway.
"""

import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.conftest import CHROMIUM  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
EXPECT_TIMEOUT_MS = 10_000


@pytest.fixture(scope="package")
def chromium():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(chromium, live_server):
    """Open browser contexts (one per user or device) on the live server; all closed after the test."""
    contexts = []

    def open_context(device=DESKTOP, locale="zh-TW"):
        context = chromium.new_context(base_url=live_server.url, locale=locale, **device)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def desktop(new_context):
    """A desktop browser page (1280×800) in zh-Hant, as a Taiwanese admin's browser asks for."""
    return new_context(DESKTOP).new_page()


@pytest.fixture
def phone(new_context):
    """A phone's browser page (375×812) for the webstore."""
    return new_context(PHONE).new_page()


@pytest.fixture
def screenshot(request):
    """Save the page under artifacts/, named after the test (and a suffix when a test saves several)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(page, suffix=""):
        name = request.node.name.replace("[", "-").replace("]", "") + (f"-{suffix}" if suffix else "")
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
