from datetime import date

import pytest
from django.db import IntegrityError, transaction

from accounts.errors import InvalidTransition, ServiceError
from accounts.models import AuditRecord
from accounts.periods import period_start_at
from billing.pricing import PlanTerms, Rules, price_renewal
from billing.services import payment_method_remove
from payments.models import Charge, ChargeStatus, MethodStatus, PaymentMethod
from payments.services import (
    charge_create,
    charge_mark_failed,
    charge_mark_succeeded,
    payment_method_add,
    payment_method_make_main,
    payment_method_mark_expired,
    refund_settle,
    refund_start,
)
from promos.eligibility import Buyer
from tests.factories import PaymentMethodFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db
MEDIUM = PlanTerms("medium", 2, 800, 3000)


def quote_for(account):
    month = date(2026, 6, 1)
    buyer = Buyer(account_id=account.pk, region="TW", main_payment_method_kind="card")
    return price_renewal(plan=MEDIUM, month=month, at=period_start_at(month), buyer=buyer, rules=Rules())


def mains(account):
    return list(PaymentMethod.objects.filter(account=account, is_main=True).values_list("pk", flat=True))


# ---- payment methods --------------------------------------------------------------------------


def test_the_first_method_becomes_main_and_later_ones_do_not():
    account = SubscriptionFactory().account
    first = payment_method_add(
        account=account,
        kind="card",
        gateway="sandbox",
        gateway_token="tok_1",
        brand="visa",
        last_four="4242",
        expiry_month=12,
        expiry_year=2030,
        actor=None,
    )
    second = payment_method_add(
        account=account,
        kind="linepay",
        gateway="sandbox",
        gateway_token="123456789012345",
        masked_card="4111-****-****-1111",
        actor=None,
    )
    assert mains(account) == [first.pk]
    assert not second.is_main
    assert AuditRecord.objects.filter(action="payment_method.add").count() == 2


def test_make_main_moves_the_flag_and_audits_it():
    account = SubscriptionFactory().account
    old = PaymentMethodFactory(account=account)
    new = PaymentMethodFactory(account=account, spare=True)
    payment_method_make_main(method=new, actor=None)
    assert mains(account) == [new.pk]
    assert AuditRecord.objects.get(action="payment_method.make_main").before == {"main": old.pk}


def test_the_database_refuses_two_main_methods():
    account = SubscriptionFactory().account
    PaymentMethodFactory(account=account)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentMethodFactory(account=account)


def test_an_expired_method_cannot_be_made_main():
    account = SubscriptionFactory().account
    main = PaymentMethodFactory(account=account)
    expired = PaymentMethodFactory(account=account, expired=True)
    with pytest.raises(ServiceError):
        payment_method_make_main(method=expired, actor=None)
    assert mains(account) == [main.pk]


def test_the_main_method_of_a_paid_plan_cannot_be_removed():
    account = SubscriptionFactory(medium=True).account
    main = PaymentMethodFactory(account=account)
    with pytest.raises(ServiceError) as error:
        payment_method_remove(method=main, actor=None)
    assert error.value.code == "main_on_paid_plan"
    main.refresh_from_db()
    assert (main.status, main.is_main) == (MethodStatus.ACTIVE, True)


def test_a_spare_or_light_plan_main_method_can_be_removed():
    account = SubscriptionFactory().account
    main = PaymentMethodFactory(account=account)
    payment_method_remove(method=main, actor=None)
    main.refresh_from_db()
    assert (main.status, main.is_main) == (MethodStatus.REVOKED, False)


def test_a_method_the_gateway_reports_expired_stops_being_main():
    account = SubscriptionFactory(medium=True).account
    main = PaymentMethodFactory(account=account, linepay=True)
    payment_method_mark_expired(method=main, actor=None)
    main.refresh_from_db()
    assert (main.status, main.is_main) == (MethodStatus.EXPIRED, False)
    assert AuditRecord.objects.filter(action="payment_method.expire", object_id=str(main.pk)).count() == 1


# ---- charges ----------------------------------------------------------------------------------


def test_a_charge_snapshots_the_quote_and_one_key_makes_one_charge():
    account = SubscriptionFactory(medium=True).account
    method = PaymentMethodFactory(account=account)
    quote = quote_for(account)
    first, created = charge_create(
        account=account,
        amounts=quote,
        plan_code="",
        payment_method=method,
        idempotency_key="renewal:1:2026-06",
        actor=None,
    )
    again, created_again = charge_create(
        account=account,
        amounts=quote,
        plan_code="",
        payment_method=method,
        idempotency_key="renewal:1:2026-06",
        actor=None,
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Charge.objects.count() == 1
    assert (first.fee_twd, first.net_twd, first.tax_twd, first.total_twd) == (800, 800, 40, 840)
    assert first.lines == [
        {"kind": "fee", "plan": "medium", "amount_twd": 800},
        {"kind": "tax", "rate": "0.05", "amount_twd": 40},
    ]
    assert first.status == ChargeStatus.PENDING


def test_the_database_refuses_amounts_that_do_not_add_up():
    account = SubscriptionFactory().account
    with pytest.raises(IntegrityError), transaction.atomic():
        Charge.objects.create(
            account=account,
            purpose="renewal",
            period_start=date(2026, 6, 1),
            fee_twd=800,
            net_twd=800,
            tax_twd=40,
            total_twd=900,
            idempotency_key="bad",
        )


def test_charge_transitions_follow_the_table():
    account = SubscriptionFactory(medium=True).account
    charge, _ = charge_create(
        account=account, amounts=quote_for(account), plan_code="", payment_method=None, idempotency_key="t", actor=None
    )
    charge = charge_mark_succeeded(charge=charge, gateway_reference="sbx_1", actor=None)
    assert charge.status == ChargeStatus.SUCCEEDED
    assert charge.settled_at is not None
    with pytest.raises(InvalidTransition):
        charge_mark_failed(charge=charge, reason="late decline", actor=None)
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.SUCCEEDED
    assert [r.action for r in AuditRecord.objects.filter(object_type="payments.charge").order_by("id")] == [
        "charge.create",
        "charge.succeed",
    ]


def refund_now(charge, amount_twd, reason):
    """A refund started and made by the gateway at once."""
    refund = refund_start(charge=charge, amount_twd=amount_twd, reason=reason, actor=None)
    return refund_settle(refund=refund, outcome="succeeded", reference="R1", actor=None)


def test_refunds_add_up_to_the_total_and_then_the_charge_is_refunded():
    account = SubscriptionFactory(medium=True).account
    charge, _ = charge_create(
        account=account, amounts=quote_for(account), plan_code="", payment_method=None, idempotency_key="r", actor=None
    )
    charge_mark_succeeded(charge=charge, gateway_reference="sbx_2", actor=None)
    refund_now(charge, 40, "goodwill")
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.SUCCEEDED
    with pytest.raises(ServiceError):
        refund_start(charge=charge, amount_twd=801, reason="too much", actor=None)
    refund_now(charge, None, "the rest")
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.REFUNDED
    assert charge.refunded_twd == 840
    with pytest.raises(ServiceError):
        refund_start(charge=charge, amount_twd=1, reason="again", actor=None)


def test_a_pending_refund_counts_against_what_is_left_and_a_refused_one_gives_it_back():
    # given a NT$840 charge with a NT$800 refund pending at the gateway
    account = SubscriptionFactory(medium=True).account
    charge, _ = charge_create(
        account=account, amounts=quote_for(account), plan_code="", payment_method=None, idempotency_key="p", actor=None
    )
    charge_mark_succeeded(charge=charge, gateway_reference="sbx_3", actor=None)
    pending = refund_start(charge=charge, amount_twd=800, reason="first", actor=None)
    # when another refund of NT$41 is asked for, then it is refused: only NT$40 is not being refunded
    with pytest.raises(ServiceError) as refused:
        refund_start(charge=charge, amount_twd=41, reason="second", actor=None)
    assert refused.value.code == "refund_amount"
    assert charge.refunds.count() == 1
    # when the gateway refuses the first, its NT$800 can be refunded again, under a key of its own
    refund_settle(refund=pending, outcome="declined", reason="1164", actor=None)
    again = refund_start(charge=charge, amount_twd=840, reason="again", actor=None)
    pending.refresh_from_db()
    assert (pending.status, pending.failure_reason) == ("failed", "1164")
    assert again.idempotency_key != pending.idempotency_key
    charge.refresh_from_db()
    assert (charge.status, charge.refunded_twd) == (ChargeStatus.SUCCEEDED, 0)
