"""Twenty threads at once on one code or one account: exactly one wins, nothing is half done.

Real row locks need PostgreSQL; SQLite serialises whole-database writes and would prove nothing.
"""

from datetime import date, datetime

import pytest
from django.db import transaction

from accounts.errors import ServiceError
from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ, period_start_at
from billing.pricing import PlanTerms, Rules, price_renewal
from payments.models import Charge, PaymentMethod
from payments.services import charge_create, payment_method_make_main
from promos.eligibility import Buyer
from promos.models import CodeStatus, PromoCode, Redemption
from promos.services import promo_code_redeem, promo_code_register
from tests.concurrency import run_at_once
from tests.factories import ChargeFactory, PaymentMethodFactory, PromoCodeFactory, SubscriptionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 20
NOW = datetime(2026, 6, 10, 12, tzinfo=BILLING_TZ)


def paying_account(plan="medium"):
    subscription = SubscriptionFactory(**{plan: True}) if plan != "light" else SubscriptionFactory()
    PaymentMethodFactory(account=subscription.account)
    return subscription.account


def test_twenty_charges_racing_for_one_code_redeem_it_once():
    # given one code and one account; each thread records its own succeeded charge and redeems the code
    account = paying_account()
    code = PromoCodeFactory()

    def purchase(i):
        with transaction.atomic():
            charge = ChargeFactory(
                account=account,
                period_start=date(2026, 6, 1),
                deduction_twd=800,
                forfeited_twd=400,
                net_twd=0,
                tax_twd=0,
                total_twd=0,
                idempotency_key=f"race-{i}",
            )
            promo_code_redeem(
                text=code.code, account=account, charge=charge, applied_twd=800, forfeited_twd=400, actor=None
            )
            return charge.pk

    # when
    results = run_at_once(purchase, THREADS)
    # then: one winner; every loser's charge rolled back with its failed redemption
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1
    assert all(isinstance(r, ServiceError) for r in results if not isinstance(r, int))
    assert Redemption.objects.count() == 1
    assert Redemption.objects.get().charge_id == winners[0]
    assert list(Charge.objects.values_list("pk", flat=True)) == winners
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED
    assert AuditRecord.objects.filter(action="promo_code.redeem").count() == 1


def test_twenty_accounts_registering_one_code_leave_it_with_one():
    accounts = [paying_account() for _ in range(THREADS)]
    code = PromoCodeFactory()

    results = run_at_once(
        lambda i: promo_code_register(account=accounts[i], text=code.code, actor=None, at=NOW), THREADS
    )

    winners = [i for i, r in enumerate(results) if isinstance(r, PromoCode)]
    assert len(winners) == 1
    assert all(isinstance(r, ServiceError) for r in results if not isinstance(r, PromoCode))
    code.refresh_from_db()
    assert (code.status, code.registered_account_id) == (CodeStatus.REGISTERED, accounts[winners[0]].pk)
    assert AuditRecord.objects.filter(action="promo_code.register").count() == 1


def test_one_account_registering_twenty_codes_at_once_keeps_one():
    account = paying_account()
    codes = [PromoCodeFactory() for _ in range(THREADS)]

    results = run_at_once(
        lambda i: promo_code_register(account=account, text=codes[i].code, actor=None, at=NOW), THREADS
    )

    assert sum(isinstance(r, PromoCode) for r in results) == 1
    assert PromoCode.objects.filter(registered_account=account, status=CodeStatus.REGISTERED).count() == 1
    assert PromoCode.objects.filter(status=CodeStatus.AVAILABLE).count() == THREADS - 1


def test_twenty_make_main_calls_on_one_account_leave_exactly_one_main():
    # given 20 spare methods besides the current main
    account = paying_account()
    spares = [PaymentMethodFactory(account=account, spare=True) for _ in range(THREADS)]

    results = run_at_once(lambda i: payment_method_make_main(method=spares[i], actor=None), THREADS)

    assert all(isinstance(r, PaymentMethod) for r in results)
    mains = list(PaymentMethod.objects.filter(account=account, is_main=True).values_list("pk", flat=True))
    assert len(mains) == 1
    # every change saw the one before it: the audit trail is one unbroken chain ending at the main
    chain = list(AuditRecord.objects.filter(action="payment_method.make_main").order_by("id"))
    assert len(chain) == THREADS
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert later.before["main"] == earlier.after["main"]
    assert chain[-1].after["main"] == mains[0]


def test_twenty_submits_of_one_idempotency_key_make_one_charge():
    account = paying_account()
    month = date(2026, 7, 1)
    buyer = Buyer(account_id=account.pk, region="TW", main_payment_method_kind="card")
    quote = price_renewal(
        plan=PlanTerms("medium", 2, 800, 3000), month=month, at=period_start_at(month), buyer=buyer, rules=Rules()
    )

    def submit(i):
        return charge_create(
            account=account,
            amounts=quote,
            plan_code="",
            payment_method=None,
            idempotency_key="checkout:abc",
            actor=None,
        )

    results = run_at_once(submit, THREADS)

    assert all(isinstance(r, tuple) for r in results), results
    assert sum(created for _, created in results) == 1
    assert {charge.pk for charge, _ in results} == {Charge.objects.get().pk}
    assert AuditRecord.objects.filter(action="charge.create").count() == 1
