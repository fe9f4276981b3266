"""pytest fixtures: the fake Messaging API started on a random port, the settings pointed at it, stopped after.

tests/conftest.py registers this module (`pytest_plugins`), so every test can ask for `fake_messaging_api`.
"""

import pytest

from tests.usage.fakes.messaging import FakeMessagingApi

CLIENT_TIMEOUT = 0.5  # the fake's late answers ("timeout") come after 1.5 s


@pytest.fixture
def fake_messaging_api(settings):
    fake = FakeMessagingApi().start()
    settings.LINE_MESSAGING_API_BASE = fake.base_url
    settings.LINE_MESSAGING_API_CONNECT_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    settings.LINE_MESSAGING_API_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    yield fake
    fake.stop()
