"""Set-up shared by the test modules: admins with what a purchase needs, cards, checkouts, past charges.

Plain functions (no pytest, no browser), so the service tests and the browser tests (tests/e2e) both use them.
"""

from datetime import date

from billing.checkout import checkout_start
from billing.invoicing import plan_names_on_invoices
from billing.models import Checkout, CheckoutStatus
from invoices import issuing
from payments.gateways.sandbox import LINEPAY_CARDS, tokenise_card
from payments.models import Charge, ChargeStatus, SandboxLinePayTransaction
from payments.services import card_add, linepay_registration_confirm, linepay_registration_start
from promos.models import CodeStatus, Redemption
from tests.factories import (
    EInvoiceProfileFactory,
    MembershipFactory,
    PaymentMethodFactory,
    SubscriptionFactory,
    plan,
)

CARD_TODAY = date(2026, 6, 10)  # the day the sandbox's hosted fields tokenise the cards (they expire 12/30)


def add_card(account, number="4242424242424242", user=None):
    """A sandbox card, tokenised as the hosted fields would, saved to the account through the service."""
    token = tokenise_card(number=number, expiry="12/30", cvc="123", today=CARD_TODAY).one_time_token
    return card_add(account=account, one_time_token=token, actor=user)


def add_linepay(account, card_index=0):
    """LINE Pay registered in the sandbox (its approval page passed with LINE Pay card `card_index`) as the
    account's payment method, through the service."""
    registration, _url = linepay_registration_start(
        account=account, actor=None, confirm_url=lambda o: "/c", cancel_url=lambda o: "/x"
    )
    SandboxLinePayTransaction.objects.filter(transaction_id=registration.transaction_id).update(
        status="approved", card=LINEPAY_CARDS[card_index][0]
    )
    return linepay_registration_confirm(
        registration=registration, transaction_id=registration.transaction_id, actor=None
    )


def new_admin(*, role="admin", region="TW", **subscription):
    """A member of a fresh official account on the Light plan (or `medium=True` / `high=True`)."""
    membership = MembershipFactory(account__region=region, operator=role == "operator")
    SubscriptionFactory(account=membership.account, **subscription)
    return membership


def ready_admin(*, card="4242424242424242", linepay=False, region="TW", **subscription):
    """An admin of a fresh account whose e-invoice information and main payment method (the sandbox card
    `card`, or a LINE Pay one) are registered: ready for a checkout."""
    membership = new_admin(region=region, **subscription)
    EInvoiceProfileFactory(account=membership.account)
    if linepay:
        PaymentMethodFactory(account=membership.account, linepay=True)
    else:
        add_card(membership.account, number=card)
    return membership


def start_checkout(membership, target="medium"):
    """The membership's admin starts an upgrade to `target` on the desktop."""
    return checkout_start(account=membership.account, plan=plan(target), user=membership.user, channel="desktop")


def assert_upgraded_with_code(account, code, *, plan, deduction, forfeited, method_kind):
    """The database after a paid upgrade: new plan, one succeeded charge, the code redeemed on it."""
    account.subscription.refresh_from_db()
    assert account.subscription.plan.code == plan
    charge = Charge.objects.get(account=account)
    assert (charge.status, charge.plan_code) == (ChargeStatus.SUCCEEDED, plan)
    assert (charge.deduction_twd, charge.forfeited_twd) == (deduction, forfeited)
    assert charge.payment_method.kind == method_kind
    redemption = Redemption.objects.get(code=code)
    assert (redemption.account, redemption.charge) == (account, charge)
    assert (redemption.applied_twd, redemption.forfeited_twd) == (deduction, forfeited)
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED
    assert Checkout.objects.get(account=account).status == CheckoutStatus.PAID
    return charge


def past_charges(account, method, count=200):
    """`count` succeeded NT$1,260 renewals in January 2026, paid by `method`: rows for the query budgets."""
    Charge.objects.bulk_create(
        Charge(
            account=account,
            purpose="renewal",
            period_start=date(2026, 1, 1),
            payment_method=method,
            fee_twd=1200,
            net_twd=1200,
            tax_twd=60,
            total_twd=1260,
            idempotency_key=f"k{i}",
            status="succeeded",
        )
        for i in range(count)
    )


def invoice_issue(**kwargs):
    """invoices.issuing.invoice_issue with the plans' names, as billing gives them when it issues."""
    return issuing.invoice_issue(plan_names=plan_names_on_invoices(), **kwargs)
