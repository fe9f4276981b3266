"""The upgrade checkout through the sandbox gateway: steps, purchase, declines, double submits."""

import pytest

from accounts.errors import ServiceError
from accounts.models import AuditRecord
from billing.checkout import (
    EINVOICE,
    PAYMENT_METHOD,
    RECEIPT,
    SUMMARY,
    QuoteChanged,
    checkout_purchase,
    checkout_quote,
    checkout_set_code,
    checkout_start,
    checkout_step,
)
from billing.models import Checkout, CheckoutStatus, PlanChange, PlanChangeKind, SubscriptionStatus
from payments.gateways.sandbox import LINEPAY_CARDS
from payments.models import Charge, ChargeStatus, MethodStatus, PaymentMethod
from promos.eligibility import CodeRefusal
from promos.models import CodeStatus, Redemption
from promos.services import CodeNotUsable, promo_code_register
from tests.factories import EInvoiceProfileFactory, MembershipFactory, PromoCodeFactory, SubscriptionFactory, plan
from tests.helpers import add_card, ready_admin, start_checkout

# Decline reasons are read in English here; the pages show them in the admin's language.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def ready():
    """An admin of a light account with e-invoice information and a working card."""
    return ready_admin()


def state(account):
    account.subscription.refresh_from_db()
    return account.subscription.plan.code, Charge.objects.filter(account=account).count()


# ---- steps ------------------------------------------------------------------------------------


def test_each_step_waits_for_its_precondition():
    membership = MembershipFactory()
    SubscriptionFactory(account=membership.account)
    checkout = start_checkout(membership)
    assert checkout_step(checkout) == EINVOICE
    EInvoiceProfileFactory(account=membership.account)
    assert checkout_step(checkout) == PAYMENT_METHOD
    add_card(membership.account)
    assert checkout_step(checkout) == SUMMARY


def test_starting_again_resumes_the_open_checkout(ready):
    assert start_checkout(ready).pk == start_checkout(ready).pk
    assert start_checkout(ready, "high").pk != start_checkout(ready).pk


@pytest.mark.parametrize("target", ["light"])
def test_only_a_bigger_plan_can_be_bought(ready, target):
    with pytest.raises(ServiceError):
        start_checkout(ready, target)


def test_a_past_due_account_cannot_upgrade(ready):
    ready.account.subscription.status = SubscriptionStatus.PAST_DUE
    ready.account.subscription.save()
    with pytest.raises(ServiceError) as error:
        start_checkout(ready)
    assert error.value.code == "past_due"


# ---- buying -----------------------------------------------------------------------------------


def test_buying_medium_with_the_1200_code_deducts_800_forfeits_400_and_charges_nothing(ready):
    # given
    code = PromoCodeFactory()
    checkout = start_checkout(ready)
    quote = checkout_set_code(checkout=checkout, text=code.code.lower())
    assert (quote.deduction_twd, quote.forfeited_twd, quote.total_twd) == (800, 400, 0)
    # when
    checkout = checkout_purchase(checkout=checkout, expected_total_twd=0, actor=ready.user)
    # then
    assert checkout.status == CheckoutStatus.PAID
    assert checkout_step(checkout) == RECEIPT
    charge = checkout.charge
    assert (charge.status, charge.fee_twd, charge.deduction_twd, charge.forfeited_twd, charge.total_twd) == (
        ChargeStatus.SUCCEEDED,
        800,
        800,
        400,
        0,
    )
    redemption = Redemption.objects.get()
    assert (redemption.charge, redemption.applied_twd, redemption.forfeited_twd) == (charge, 800, 400)
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED
    assert state(ready.account) == ("medium", 1)
    change = PlanChange.objects.get(kind=PlanChangeKind.UPGRADE)
    assert (change.from_plan.code, change.to_plan.code, change.charge) == ("light", "medium", charge)


def test_buying_without_a_code_charges_the_card_840(ready):
    checkout = checkout_purchase(checkout=start_checkout(ready), expected_total_twd=840, actor=ready.user)
    assert checkout.status == CheckoutStatus.PAID
    assert (checkout.charge.total_twd, checkout.charge.status) == (840, ChargeStatus.SUCCEEDED)
    assert checkout.charge.gateway_reference.startswith("D")


def test_a_declined_card_changes_nothing_but_shows_the_reason_and_frees_the_code():
    # given an account whose only card is declined, and a code entered
    membership = ready_admin(card="4000000000000002")
    code = PromoCodeFactory(campaign__face_value_twd=500)
    checkout = start_checkout(membership)
    checkout_set_code(checkout=checkout, text=code.code)
    # when
    checkout = checkout_purchase(checkout=checkout, expected_total_twd=315, actor=membership.user)
    # then
    assert checkout.status == CheckoutStatus.OPEN
    assert checkout.attempt == 2
    assert "declined" in checkout.last_error
    assert Charge.objects.get().status == ChargeStatus.FAILED
    code.refresh_from_db()
    assert (code.status, code.held_for) == (CodeStatus.AVAILABLE, None)
    assert not Redemption.objects.exists()
    assert state(membership.account) == ("light", 1)


def test_after_a_decline_a_new_card_pays_on_a_new_attempt():
    membership = ready_admin(card="4000000000009995")
    checkout = checkout_purchase(checkout=start_checkout(membership), expected_total_twd=840, actor=None)
    assert "insufficient" in checkout.last_error
    from payments.services import payment_method_make_main

    payment_method_make_main(method=add_card(membership.account), actor=None)
    checkout = checkout_purchase(checkout=checkout, expected_total_twd=840, actor=None)
    assert checkout.status == CheckoutStatus.PAID
    assert list(Charge.objects.order_by("id").values_list("status", flat=True)) == ["failed", "succeeded"]


def test_an_expired_card_is_marked_expired_and_no_longer_main():
    membership = MembershipFactory()
    SubscriptionFactory(account=membership.account)
    EInvoiceProfileFactory(account=membership.account)
    method = add_card(membership.account, number="4000000000000069")
    checkout_purchase(checkout=start_checkout(membership), expected_total_twd=840, actor=None)
    method.refresh_from_db()
    assert (method.status, method.is_main) == (MethodStatus.EXPIRED, False)


def test_a_second_submit_of_the_same_attempt_makes_no_second_charge(ready):
    checkout = start_checkout(ready)
    first = checkout_purchase(checkout=checkout, expected_total_twd=840, actor=None)
    second = checkout_purchase(checkout=checkout, expected_total_twd=840, actor=None)
    assert first.pk == second.pk
    assert second.status == CheckoutStatus.PAID
    assert Charge.objects.count() == 1


def test_a_changed_price_charges_nothing_and_says_so(ready):
    checkout = start_checkout(ready)
    with pytest.raises(QuoteChanged) as error:
        checkout_purchase(checkout=checkout, expected_total_twd=0, actor=None)
    assert error.value.quote.total_twd == 840
    assert state(ready.account) == ("light", 0)


def test_a_code_used_elsewhere_since_the_summary_charges_nothing(ready):
    code = PromoCodeFactory()
    checkout = start_checkout(ready)
    checkout_set_code(checkout=checkout, text=code.code)
    other = SubscriptionFactory(medium=True).account
    add_card(other)
    promo_code_register(account=other, text=code.code, actor=None)
    with pytest.raises(CodeNotUsable) as error:
        checkout_purchase(checkout=checkout, expected_total_twd=0, actor=None)
    assert error.value.refusal == CodeRefusal.REGISTERED_ELSEWHERE
    assert state(ready.account) == ("light", 0)
    checkout.refresh_from_db()
    assert checkout.code == ""


def test_a_code_registered_for_renewal_can_be_spent_on_the_upgrade(ready):
    code = PromoCodeFactory()
    promo_code_register(account=ready.account, text=code.code, actor=None)
    checkout = start_checkout(ready, "high")
    checkout_set_code(checkout=checkout, text=code.code)
    checkout_purchase(checkout=checkout, expected_total_twd=0, actor=None)
    code.refresh_from_db()
    assert (code.status, code.registered_account) == (CodeStatus.REDEEMED, None)
    assert state(ready.account) == ("high", 1)


def test_an_upgrade_cancels_a_scheduled_downgrade():
    membership = ready_admin(medium=True, scheduled_plan=plan("light"))
    checkout_purchase(checkout=start_checkout(membership, "high"), expected_total_twd=420, actor=None)
    membership.account.subscription.refresh_from_db()
    assert (membership.account.subscription.plan.code, membership.account.subscription.scheduled_plan) == ("high", None)


def test_a_refused_code_is_not_kept(ready):
    checkout = start_checkout(ready)
    with pytest.raises(CodeNotUsable):
        checkout_set_code(checkout=checkout, text="NOPE-NOPE")
    checkout.refresh_from_db()
    assert checkout.code == ""
    assert checkout_quote(checkout).total_twd == 840


def test_linepay_pays_through_its_regkey(ready):
    from payments.gateways.sandbox import SandboxGateway
    from payments.services import linepay_registration_confirm, linepay_registration_start, payment_method_make_main

    registration, url = linepay_registration_start(
        account=ready.account, actor=None, confirm_url=lambda o: f"/c/{o}", cancel_url=lambda o: f"/x/{o}"
    )
    from payments.models import SandboxLinePayTransaction

    SandboxLinePayTransaction.objects.filter(transaction_id=registration.transaction_id).update(
        status="approved", card=LINEPAY_CARDS[0][0]
    )
    method = linepay_registration_confirm(
        registration=registration, transaction_id=registration.transaction_id, actor=None
    )
    assert (method.kind, method.masked_card, len(method.gateway_token)) == ("linepay", "**** **** **** 1111", 15)
    payment_method_make_main(method=method, actor=None)
    checkout = checkout_purchase(checkout=start_checkout(ready), expected_total_twd=840, actor=None)
    assert checkout.status == CheckoutStatus.PAID
    assert len(checkout.charge.gateway_reference) == 19
    assert SandboxGateway.name == "sandbox"
    assert AuditRecord.objects.filter(action="subscription.upgrade").count() == 1
    assert PaymentMethod.objects.filter(account=ready.account).count() == 2


def test_a_second_admins_upgrade_waits_while_another_payment_of_the_account_is_at_the_gateway(ready):
    # given a first admin's purchase whose gateway answer is still pending
    first = start_checkout(ready, "high")
    Checkout.objects.filter(pk=first.pk).update(status=CheckoutStatus.PROCESSING)
    other_admin = MembershipFactory(account=ready.account)
    second = checkout_start(account=ready.account, plan=plan("medium"), user=other_admin.user, channel="desktop")
    # when the second admin purchases
    with pytest.raises(ServiceError) as error:
        checkout_purchase(checkout=second, expected_total_twd=840, actor=other_admin.user)
    # then nothing is charged and the plan is unchanged
    assert error.value.code == "payment_in_progress"
    assert state(ready.account) == ("light", 0)


def test_a_passing_database_fault_while_settling_does_not_leave_a_paid_checkout_unsettled(ready, monkeypatch):
    # given a settlement whose first try meets a lock time-out, after the gateway has taken the money
    from django.db import OperationalError

    import billing.checkout as checkout_module

    settle, tries = checkout_module._settle, []

    def flaky_settle(*args, **kwargs):
        tries.append(1)
        if len(tries) == 1:
            raise OperationalError("deadlock detected")
        return settle(*args, **kwargs)

    monkeypatch.setattr(checkout_module, "_settle", flaky_settle)
    # when the admin purchases
    checkout = checkout_purchase(checkout=start_checkout(ready), expected_total_twd=840, actor=ready.user)
    # then the same request settled it on its second try: paid, upgraded, one charge
    assert (checkout.status, len(tries)) == (CheckoutStatus.PAID, 2)
    assert state(ready.account) == ("medium", 1)
    assert Charge.objects.get().status == ChargeStatus.SUCCEEDED


def test_a_checkout_paid_in_full_by_a_code_and_left_unsettled_is_reconciled_as_paid(ready, monkeypatch):
    # given a NT$1,200 code that pays the whole Medium upgrade, and a request that died before settling it
    from datetime import timedelta

    import time_machine
    from django.core.management import call_command
    from django.utils import timezone

    import billing.checkout as checkout_module

    code = PromoCodeFactory()
    checkout = start_checkout(ready)
    checkout_set_code(checkout=checkout, text=code.code)

    def died(*args, **kwargs):
        raise SystemExit("the worker was killed")

    monkeypatch.setattr(checkout_module, "_settle_now", died)
    with pytest.raises(SystemExit):
        checkout_purchase(checkout=checkout, expected_total_twd=0, actor=ready.user)
    monkeypatch.undo()
    assert Checkout.objects.get().status == CheckoutStatus.PROCESSING
    # when reconciliation runs a few minutes later
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        call_command("reconcile_payments")
    # then it is paid (nothing was ever due at the gateway), not failed and reopened
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    assert state(ready.account) == ("medium", 1)
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED
