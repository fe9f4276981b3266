"""pytest fixtures: each fake server started on a random port, the settings pointed at it, stopped after."""

import pytest

from tests.payments.fakes.linepay import FakeLinePay
from tests.payments.fakes.tappay import FakeTapPay

CLIENT_TIMEOUT = 0.5  # the fakes' lost answers come after 1.5 s


@pytest.fixture
def fake_linepay(settings):
    fake = FakeLinePay().start()
    settings.LINEPAY_API_BASE = fake.base_url
    settings.LINEPAY_CHANNEL_ID = fake.channel_id
    settings.LINEPAY_CHANNEL_SECRET = fake.secret
    settings.GATEWAY_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    yield fake
    fake.stop()


@pytest.fixture
def fake_tappay(settings):
    fake = FakeTapPay().start()
    settings.TAPPAY_API_BASE = fake.base_url
    settings.TAPPAY_PARTNER_KEY = fake.partner_key
    settings.TAPPAY_MERCHANT_ID = fake.merchant_id
    settings.GATEWAY_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    yield fake
    fake.stop()
