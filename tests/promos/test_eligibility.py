"""Code eligibility has one home, promos.eligibility: the checks that holding, registering and expiring make are
built on it, so they cannot drift apart."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from accounts.periods import BILLING_TZ
from promos.eligibility import (
    RENEWAL_CHARGE_KINDS,
    Buyer,
    CodeRefusal,
    CodeTerms,
    code_refusal,
    registration_refusal,
    state_refusal,
    window_closed,
)
from promos.models import ChargeKind

LAST_SECOND = datetime(2026, 6, 30, 23, 59, 59, tzinfo=BILLING_TZ)
JUNE_10 = datetime(2026, 6, 10, tzinfo=BILLING_TZ)
JULY_1 = datetime(2026, 7, 1, tzinfo=BILLING_TZ)
BUYER = Buyer(account_id=7, region="TW", main_payment_method_kind="card")
CODE = CodeTerms(
    code="ABCDEFGHJKMNPQRSTUVW",
    status="available",
    registered_account_id=None,
    face_value_twd=1200,
    valid_from=datetime(2026, 1, 1, tzinfo=BILLING_TZ),
    valid_until=LAST_SECOND,
    regions=frozenset({"TW"}),
    payment_method_kinds=frozenset({"card"}),
    charge_kinds=frozenset(kind.value for kind in ChargeKind),
)


def test_the_window_closes_after_its_last_second():
    assert not window_closed(CODE, LAST_SECOND)
    assert window_closed(CODE, LAST_SECOND + timedelta(seconds=1))
    assert code_refusal(code=CODE, buyer=BUYER, at=LAST_SECOND, charge_kind=None) is None
    assert code_refusal(code=CODE, buyer=BUYER, at=LAST_SECOND + timedelta(seconds=1), charge_kind=None) == (
        CodeRefusal.EXPIRED
    )


def test_the_renewal_kinds_are_the_campaigns_renewal_charges():
    assert {ChargeKind.RENEWAL_MEDIUM, ChargeKind.RENEWAL_HIGH} == RENEWAL_CHARGE_KINDS


@pytest.mark.parametrize(
    ("status", "registered_to", "held_for_this_charge", "refusal"),
    [
        ("available", None, False, None),
        ("void", None, False, CodeRefusal.VOID),
        ("expired", None, False, CodeRefusal.EXPIRED),
        ("redeemed", None, False, CodeRefusal.REDEEMED),
        ("held", None, False, CodeRefusal.IN_USE),
        ("held", None, True, None),
        ("registered", 7, False, None),
        ("registered", 8, False, CodeRefusal.REGISTERED_ELSEWHERE),
    ],
)
def test_a_code_s_state_decides_alike_for_pricing_and_for_holding(status, registered_to, held_for_this_charge, refusal):
    # holding and redeeming ask the state alone
    assert (
        state_refusal(
            status=status, registered_account_id=registered_to, account_id=7, held_for_this_charge=held_for_this_charge
        )
        == refusal
    )
    # pricing asks it first (no charge is priced with a held code)
    if not held_for_this_charge:
        code = replace(CODE, status=status, registered_account_id=registered_to)
        assert code_refusal(code=code, buyer=BUYER, at=JUNE_10, charge_kind=None) == refusal


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({}, None),
        ({"valid_until": JULY_1}, None),  # the renewal's first second is still inside the window
        ({"status": "registered", "registered_account_id": 7}, CodeRefusal.REGISTERED_ELSEWHERE),
        ({"charge_kinds": frozenset({"upgrade_to_medium"})}, CodeRefusal.WRONG_CHARGE),
        ({"regions": frozenset({"JP"})}, CodeRefusal.WRONG_REGION),
    ],
)
def test_registration_asks_whether_the_next_renewal_could_use_the_code(changes, refusal):
    # given a code valid until the end of the year, unless changed
    code = replace(CODE, **{"valid_until": datetime(2026, 12, 31, 23, 59, 59, tzinfo=BILLING_TZ), **changes})
    assert registration_refusal(code=code, buyer=BUYER, at=JUNE_10, renewal_at=JULY_1) == refusal


def test_a_code_still_valid_today_but_over_by_the_renewal_is_told_apart_from_one_already_over():
    # a window ending on June 30th, asked on June 10th for the renewal of July 1st
    assert registration_refusal(code=CODE, buyer=BUYER, at=JUNE_10, renewal_at=JULY_1) == (
        CodeRefusal.ENDS_BEFORE_RENEWAL
    )
    # asked once it is over, or for a code the expiry job already marked
    assert registration_refusal(code=CODE, buyer=BUYER, at=JULY_1, renewal_at=JULY_1) == CodeRefusal.EXPIRED
    expired = replace(CODE, status="expired")
    assert registration_refusal(code=expired, buyer=BUYER, at=JUNE_10, renewal_at=JULY_1) == CodeRefusal.EXPIRED
