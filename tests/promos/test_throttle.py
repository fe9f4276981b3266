import io
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from accounts.errors import ServiceError
from accounts.periods import BILLING_TZ
from billing.checkout import checkout_set_code, checkout_start
from promos.eligibility import CodeRefusal
from promos.models import CodeGuess, CodeStatus
from promos.services import CodeNotUsable, promo_code_register
from promos.throttle import MAX_PER_ACCOUNT, MAX_PER_CLIENT, WINDOW
from tests.concurrency import run_at_once
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


def test_an_empty_code_is_not_a_guess():
    # given
    account = paying_account().account
    # when
    with pytest.raises(CodeNotUsable) as error:
        promo_code_register(account=account, text=" - ", actor=None, at=NOW, client="203.0.113.7")
    # then
    assert error.value.refusal == CodeRefusal.UNKNOWN
    assert not CodeGuess.objects.exists()


def test_an_empty_code_at_checkout_is_not_a_guess():
    # given
    membership = paying_account()
    checkout = checkout_start(account=membership.account, plan=plan("high"), user=membership.user, channel="desktop")
    # when
    with pytest.raises(CodeNotUsable):
        checkout_set_code(checkout=checkout, text="  ", at=NOW, client="203.0.113.7")
    # then
    assert not CodeGuess.objects.exists()
    checkout.refresh_from_db()
    assert checkout.code == ""


def test_a_registered_code_gives_its_slot_back():
    # given
    account = paying_account().account
    code = PromoCodeFactory()
    # when
    promo_code_register(account=account, text=code.code, actor=None, at=NOW, client="203.0.113.7")
    # then
    assert not CodeGuess.objects.exists()


def test_a_refusal_before_any_look_up_is_not_a_guess():
    # given an account that already has a code registered
    account = paying_account().account
    promo_code_register(account=account, text=PromoCodeFactory().code, actor=None, at=NOW, client="203.0.113.7")
    # when
    with pytest.raises(ServiceError) as error:
        promo_code_register(account=account, text="NOPE-NOPE-NOPE", actor=None, at=NOW, client="203.0.113.7")
    # then
    assert error.value.code == "already_registered"
    assert not CodeGuess.objects.exists()


def test_a_code_applied_at_checkout_gives_its_slot_back():
    # given
    membership = paying_account()
    checkout = checkout_start(account=membership.account, plan=plan("high"), user=membership.user, channel="desktop")
    code = PromoCodeFactory()
    # when
    checkout_set_code(checkout=checkout, text=code.code, at=NOW, client="203.0.113.7")
    # then
    assert not CodeGuess.objects.exists()
    checkout.refresh_from_db()
    assert checkout.code == code.code


def forget(*args: str) -> str:
    out = io.StringIO()
    call_command("forget_code_guesses", *args, stdout=out)
    return out.getvalue()


def test_forget_code_guesses_drops_only_those_past_the_window():
    # given one guess just inside the window and two past it
    account = paying_account().account
    guess(account, at=NOW - WINDOW)
    guess(account, at=NOW - WINDOW - timedelta(seconds=1))
    guess(account, at=NOW - timedelta(days=3))
    # when
    output = forget("--as-of", NOW.isoformat())
    # then
    assert list(CodeGuess.objects.values_list("created_at", flat=True)) == [NOW - WINDOW]
    assert output == f"As of {NOW.isoformat()}: forgot 2 wrong code guesses.\n"


def test_forget_code_guesses_dry_run_changes_nothing():
    # given
    account = paying_account().account
    guess(account, at=NOW - timedelta(days=3))
    # when
    output = forget("--as-of", NOW.isoformat(), "--dry-run")
    # then
    assert CodeGuess.objects.count() == 1
    assert output == f"As of {NOW.isoformat()}: would forget 1 wrong code guesses.\n"


def test_forget_code_guesses_refuses_a_bad_date_and_changes_nothing():
    # given
    account = paying_account().account
    guess(account, at=NOW - timedelta(days=3))
    # when
    with pytest.raises(CommandError) as error:
        forget("--as-of", "yesterday")
    # then
    assert "is not an ISO date or date-time" in str(error.value)
    assert CodeGuess.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_forty_wrong_codes_at_once_make_exactly_ten_look_ups():
    # given
    account = paying_account().account
    # when forty wrong codes arrive at the same instant, from forty clients
    results = run_at_once(
        lambda i: promo_code_register(
            account=account, text="NOPE-NOPE-NOPE", actor=None, at=NOW, client=f"203.0.113.{i}"
        ),
        40,
    )
    # then: ten looked up (and refused as unknown), thirty refused before any look-up
    looked_up = [r for r in results if isinstance(r, CodeNotUsable)]
    throttled = [r for r in results if isinstance(r, ServiceError) and r.code == "throttled"]
    assert (len(looked_up), len(throttled)) == (MAX_PER_ACCOUNT, 40 - MAX_PER_ACCOUNT)
    assert {r.refusal for r in looked_up} == {CodeRefusal.UNKNOWN}
    assert CodeGuess.objects.filter(account=account).count() == MAX_PER_ACCOUNT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_forty_wrong_codes_at_once_from_one_client_make_exactly_twenty_look_ups():
    # given forty accounts, one client
    memberships = [paying_account() for _ in range(40)]
    checkouts = [
        checkout_start(account=m.account, plan=plan("high"), user=m.user, channel="desktop") for m in memberships
    ]
    # when
    results = run_at_once(
        lambda i: checkout_set_code(checkout=checkouts[i], text="NOPE", at=NOW, client="203.0.113.9"), 40
    )
    # then
    looked_up = [r for r in results if isinstance(r, CodeNotUsable)]
    throttled = [r for r in results if isinstance(r, ServiceError) and r.code == "throttled"]
    assert (len(looked_up), len(throttled)) == (MAX_PER_CLIENT, 40 - MAX_PER_CLIENT)
    assert CodeGuess.objects.filter(client="203.0.113.9").count() == MAX_PER_CLIENT
