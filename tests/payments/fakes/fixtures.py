"""pytest fixtures: each fake server started on a random port, the settings pointed at it, stopped after.

tests/conftest.py registers this module (`pytest_plugins`), so every test can ask for these by name.
"""

import pytest

from tests.payments.fakes.linepay import FakeLinePay
from tests.payments.fakes.tappay import FakeTapPay

CLIENT_TIMEOUT = 0.5  # the fakes' lost answers come after 1.5 s


def serve(fake, settings, **gateway_settings):
    """Start `fake`, set `gateway_settings` and a client time-out shorter than its lost answers; stop it after."""
    fake.start()
    for name, value in gateway_settings.items():
        setattr(settings, name, value)
    settings.GATEWAY_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    yield fake
    fake.stop()


@pytest.fixture
def fake_linepay(settings):
    fake = FakeLinePay()
    yield from serve(
        fake,
        settings,
        LINEPAY_API_BASE=fake.base_url,
        LINEPAY_CHANNEL_ID=fake.channel_id,
        LINEPAY_CHANNEL_SECRET=fake.secret,
    )


@pytest.fixture
def fake_tappay(settings):
    fake = FakeTapPay()
    yield from serve(
        fake,
        settings,
        TAPPAY_API_BASE=fake.base_url,
        TAPPAY_PARTNER_KEY=fake.partner_key,
        TAPPAY_MERCHANT_ID=fake.merchant_id,
    )


@pytest.fixture
def linepay_on(settings, fake_linepay):
    """The real LINE Pay adapter (PAYMENTS_GATEWAY "linepay"), pointed at the fake."""
    settings.PAYMENTS_GATEWAY = "linepay"
    return fake_linepay


@pytest.fixture
def tappay_on(settings, fake_tappay):
    """The real TapPay adapter (PAYMENTS_GATEWAY "tappay"), pointed at the fake."""
    settings.PAYMENTS_GATEWAY = "tappay"
    return fake_tappay
