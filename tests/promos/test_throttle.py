from datetime import datetime, timedelta

import pytest

from billing.checkout import checkout_set_code, checkout_start
from billing.errors import ServiceError
from billing.periods import BILLING_TZ
from promos.models import CodeGuess, CodeStatus
from promos.services import CodeNotUsable, promo_code_register
from promos.throttle import MAX_PER_ACCOUNT, MAX_PER_CLIENT, WINDOW
from tests.factories import (
    CampaignFactory,
    PromoCodeFactory,
    plan,
)
from tests.helpers import ready_admin

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 10, 12, tzinfo=BILLING_TZ)


def paying_account():
    return ready_admin(medium=True)


def guess(account, client="203.0.113.7", at=NOW):
    with pytest.raises(CodeNotUsable):
        promo_code_register(account=account, text="NOPE-NOPE-NOPE", actor=None, at=at, client=client)


def test_after_ten_wrong_codes_the_account_is_refused_even_a_good_one_for_a_while():
    # given
    account = paying_account().account
    for _ in range(MAX_PER_ACCOUNT):
        guess(account)
    code = PromoCodeFactory()
    # when / then
    with pytest.raises(ServiceError) as error:
        promo_code_register(account=account, text=code.code, actor=None, at=NOW, client="198.51.100.1")
    assert error.value.code == "throttled"
    code.refresh_from_db()
    assert code.status == CodeStatus.AVAILABLE
    # and once the window has passed, it works again
    later = NOW + WINDOW + timedelta(seconds=1)
    promo_code_register(account=account, text=code.code, actor=None, at=later, client="198.51.100.1")
    code.refresh_from_db()
    assert code.status == CodeStatus.REGISTERED


def test_one_client_guessing_across_accounts_is_refused_too():
    accounts = [paying_account().account for _ in range(3)]
    for i in range(MAX_PER_CLIENT):
        guess(accounts[i % 3], client="203.0.113.9")
    with pytest.raises(ServiceError) as error:
        promo_code_register(account=paying_account().account, text="X", actor=None, at=NOW, client="203.0.113.9")
    assert error.value.code == "throttled"


def test_a_real_code_refused_for_a_reason_is_not_a_guess():
    account = paying_account().account
    expired = PromoCodeFactory(campaign=CampaignFactory(valid_until=datetime(2026, 6, 1, tzinfo=BILLING_TZ)))
    for _ in range(MAX_PER_ACCOUNT + 2):
        with pytest.raises(CodeNotUsable):
            promo_code_register(account=account, text=expired.code, actor=None, at=NOW, client="203.0.113.7")
    assert not CodeGuess.objects.exists()


def test_wrong_codes_at_checkout_count_as_well():
    membership = paying_account()
    checkout = checkout_start(account=membership.account, plan=plan("high"), user=membership.user, channel="desktop")
    for _ in range(MAX_PER_ACCOUNT):
        with pytest.raises(CodeNotUsable):
            checkout_set_code(checkout=checkout, text="NOPE", at=NOW, client="203.0.113.7")
    with pytest.raises(ServiceError) as error:
        checkout_set_code(checkout=checkout, text=PromoCodeFactory().code, at=NOW, client="203.0.113.7")
    assert error.value.code == "throttled"
    assert CodeGuess.objects.filter(account=membership.account).count() == MAX_PER_ACCOUNT
