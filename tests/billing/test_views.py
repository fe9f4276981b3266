"""The admins' pages through Django's test client: the flows' steps, refusals, and query budgets."""

from datetime import date

import pytest
from django.urls import reverse

from billing.models import Checkout, CheckoutStatus
from payments.gateways.sandbox import tokenise_card
from payments.models import Charge, PaymentMethod
from promos.models import CodeStatus
from tests.factories import (
    EInvoiceProfileFactory,
    MembershipFactory,
    PaymentMethodFactory,
    PromoCodeFactory,
    SubscriptionFactory,
)
from tests.helpers import add_card, new_admin, past_charges

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def admin_of_new_account(client, **subscription):
    membership = new_admin(**subscription)
    client.force_login(membership.user)
    return membership


def billing_url(name, *args, side="billing"):
    return reverse(f"{side}:{name}", args=args)


def test_first_time_desktop_upgrade_walks_every_step_to_the_receipt(client):
    # given an admin of a light account with nothing registered (情境二, by card)
    membership = admin_of_new_account(client)
    account = membership.account
    code = PromoCodeFactory()
    # when they choose Medium → upgrade
    response = client.post(billing_url("upgrade_start", account.pk, "medium"))
    checkout = Checkout.objects.get()
    assert response["Location"] == billing_url("checkout", checkout.token)
    # then the checkout asks for e-invoice information first
    response = client.get(response["Location"])
    assert response["Location"].startswith(billing_url("einvoice", account.pk))
    response = client.post(
        response["Location"],
        {
            "kind": "printed",
            "name": "王小明",
            "email": "ming@example.tw",
            "next": billing_url("checkout", checkout.token),
        },
    )
    assert response["Location"] == billing_url("checkout", checkout.token)
    # then a payment method
    response = client.get(response["Location"])
    assert response["Location"].startswith(billing_url("payment_method_add", account.pk))
    token = tokenise_card(number="4242424242424242", expiry="12/30", cvc="123", today=date(2026, 6, 1))
    data = {"card_token": token.one_time_token, "next": billing_url("checkout", checkout.token)}
    response = client.post(billing_url("card_add", account.pk), data)
    assert response["Location"] == billing_url("checkout", checkout.token)
    # then the summary, where the code shows its deduction and the forfeited part
    client.post(billing_url("checkout_code", checkout.token), {"code": code.code.lower()})
    summary = client.get(billing_url("checkout", checkout.token)).content.decode()
    assert 'data-testid="deduction">-NT$800<' in summary
    assert 'data-testid="total">NT$0<' in summary
    assert "The remaining NT$400 of its value is forfeited" in summary
    # and the purchase needs the terms ticked
    refused = client.post(billing_url("checkout_purchase", checkout.token), {"expected_total_twd": "0"})
    assert refused.status_code == 422
    assert not Charge.objects.exists()
    response = client.post(
        billing_url("checkout_purchase", checkout.token), {"expected_total_twd": "0", "accept_terms": "1"}
    )
    assert response["Location"] == billing_url("checkout_receipt", checkout.token)
    receipt = client.get(response["Location"]).content.decode()
    assert 'data-testid="receipt-plan">Medium<' in receipt
    assert 'data-testid="receipt-deduction">-NT$800<' in receipt
    account.subscription.refresh_from_db()
    assert account.subscription.plan.code == "medium"
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED


def test_the_webstore_keeps_the_admin_in_the_webstore(client):
    membership = admin_of_new_account(client)
    response = client.post(billing_url("upgrade_start", membership.account.pk, "high", side="webstore"))
    checkout = Checkout.objects.get()
    assert response["Location"] == billing_url("checkout", checkout.token, side="webstore")
    page = client.get(billing_url("plans", membership.account.pk, side="webstore")).content.decode()
    assert 'data-testid="menu"' in page
    assert billing_url("payment_methods", membership.account.pk, side="webstore") in page


@pytest.mark.parametrize(
    ("name", "args", "data"),
    [
        ("upgrade_start", ("medium",), {}),
        ("downgrade", ("light",), {}),
        ("promo_code", (), {"code": "X"}),
        ("einvoice", (), {"kind": "printed", "name": "A", "email": "a@example.tw"}),
        ("linepay_start", (), {}),
        ("card_add", (), {"card_token": "x"}),
        ("payment_method_add", (), {}),
    ],
)
def test_an_operator_is_refused_every_buying_or_editing_action(client, name, args, data):
    membership = MembershipFactory(operator=True)
    SubscriptionFactory(account=membership.account, medium=True)
    client.force_login(membership.user)
    response = client.post(billing_url(name, membership.account.pk, *args), data)
    assert response.status_code == 403
    assert not Checkout.objects.exists()
    assert not PaymentMethod.objects.exists()


def test_an_operator_sees_the_pages_without_their_buttons(client):
    membership = MembershipFactory(operator=True)
    SubscriptionFactory(account=membership.account, medium=True)
    client.force_login(membership.user)
    page = client.get(billing_url("plans", membership.account.pk)).content.decode()
    assert 'data-testid="upgrade-high"' not in page
    assert 'data-testid="current-plan">Medium<' in page


def test_another_accounts_pages_and_checkout_are_a_404(client):
    owner = admin_of_new_account(client)
    checkout = Checkout.objects.create(account=owner.account, user=owner.user, target_plan_id=2)
    stranger = MembershipFactory()
    client.force_login(stranger.user)
    assert client.get(billing_url("checkout", checkout.token)).status_code == 404
    assert client.post(billing_url("checkout_purchase", checkout.token), {"accept_terms": "1"}).status_code == 404
    assert client.get(billing_url("plans", owner.account.pk)).status_code == 404
    assert client.get(billing_url("checkout", "no-such-token")).status_code == 404


def test_a_declined_card_shows_the_reason_and_changes_nothing(client):
    membership = admin_of_new_account(client)
    EInvoiceProfileFactory(account=membership.account)
    add_card(membership.account, number="4000000000000002")
    client.post(billing_url("upgrade_start", membership.account.pk, "medium"))
    checkout = Checkout.objects.get()
    response = client.post(
        billing_url("checkout_purchase", checkout.token),
        {"expected_total_twd": "840", "accept_terms": "1"},
        follow=True,
    )
    assert "declined" in response.content.decode()
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.OPEN
    membership.account.subscription.refresh_from_db()
    assert membership.account.subscription.plan.code == "light"


def test_an_unknown_code_shows_its_message(client):
    membership = admin_of_new_account(client)
    EInvoiceProfileFactory(account=membership.account)
    add_card(membership.account)
    client.post(billing_url("upgrade_start", membership.account.pk, "medium"))
    checkout = Checkout.objects.get()
    response = client.post(billing_url("checkout_code", checkout.token), {"code": "ABCD-EFGH"})
    assert response.status_code == 422
    assert "There is no such code" in response.content.decode()


def test_registering_a_code_for_the_next_renewal_and_removing_it(client):
    membership = admin_of_new_account(client, medium=True)
    add_card(membership.account)
    code = PromoCodeFactory()
    client.post(billing_url("promo_code", membership.account.pk), {"code": code.code})
    code.refresh_from_db()
    assert (code.status, code.registered_account) == (CodeStatus.REGISTERED, membership.account)
    page = client.get(billing_url("promo_code", membership.account.pk)).content.decode()
    assert code.display_code in page
    client.post(billing_url("promo_code_remove", membership.account.pk))
    code.refresh_from_db()
    assert code.status == CodeStatus.AVAILABLE


PAGES = ["plans", "payment_methods", "einvoice", "promo_code", "payment_records"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_keep_a_fixed_query_budget_with_200_charges_and_20_methods(client, name, django_assert_max_num_queries):
    membership = admin_of_new_account(client, high=True)
    account = membership.account
    EInvoiceProfileFactory(account=account)
    method = PaymentMethodFactory(account=account)
    PaymentMethodFactory.create_batch(19, account=account, spare=True)
    past_charges(account, method)
    # the plans page also prices the next renewal: its method, code, this month's figure and bill, once each
    with django_assert_max_num_queries(13):
        response = client.get(billing_url(name, account.pk))
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "budget"), [("usage", 16), ("usage_estimate", 10)])
def test_the_usage_pages_keep_a_fixed_query_budget(client, name, budget, django_assert_max_num_queries):
    # given an account with history: 200 charges, 20 methods, and no renewal row for any of the six months shown
    membership = admin_of_new_account(client, high=True)
    account = membership.account
    EInvoiceProfileFactory(account=account)
    method = PaymentMethodFactory(account=account)
    PaymentMethodFactory.create_batch(19, account=account, spare=True)
    past_charges(account, method)
    # then a month priced by the current plan reads no prices of its own (they were read with every plan's)
    with django_assert_max_num_queries(budget):
        response = client.get(billing_url(name, account.pk))
    assert response.status_code == 200


def test_the_summary_and_receipt_keep_a_fixed_query_budget_with_200_charges(client, django_assert_max_num_queries):
    membership = admin_of_new_account(client)
    account = membership.account
    EInvoiceProfileFactory(account=account)
    method = add_card(account)
    PaymentMethodFactory.create_batch(19, account=account, spare=True)
    past_charges(account, method)
    code = PromoCodeFactory()
    client.post(billing_url("upgrade_start", account.pk, "medium"))
    checkout = Checkout.objects.get()
    client.post(billing_url("checkout_code", checkout.token), {"code": code.code})
    # the session, the user, the checkout (its account, subscription, plans and profile), the membership, the main
    # method, the two plans' prices and their tiers, the code
    with django_assert_max_num_queries(8):
        summary = client.get(billing_url("checkout", checkout.token))
    assert 'data-testid="deduction">-NT$800<' in summary.content.decode()
    client.post(billing_url("checkout_purchase", checkout.token), {"expected_total_twd": "0", "accept_terms": "1"})
    with django_assert_max_num_queries(12):
        receipt = client.get(billing_url("checkout_receipt", checkout.token))
    assert receipt.status_code == 200


@pytest.mark.parametrize(("query", "rows", "page_number"), [("", 25, 1), ("?page=8", 25, 8), ("?page=9", 0, 9)])
def test_payment_records_come_25_a_page_and_any_page_number_answers(client, query, rows, page_number):
    membership = admin_of_new_account(client, high=True)
    account = membership.account
    past_charges(account, PaymentMethodFactory(account=account))  # 200
    response = client.get(billing_url("payment_records", account.pk) + query)
    assert response.status_code == 200
    shown = response.content.decode().count('data-testid="charge"')
    assert shown == (rows or 200 - 25 * 7)  # page 9 does not exist: the last page, 8, shows its 25
    assert response.context["records"].number == min(page_number, 8)


@pytest.mark.parametrize("page", ["abc", "-1", "0", "1e9", "１", "%00"])
def test_a_bad_page_number_shows_a_page_never_an_error(client, page):
    membership = admin_of_new_account(client)
    response = client.get(billing_url("payment_records", membership.account.pk), {"page": page})
    assert response.status_code == 200
