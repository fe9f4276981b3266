"""The e-invoice precondition (SPEC §4: e-invoice information before the first payment method) has one home,
invoices.selectors.has_einvoice_profile: the payment-method pages and the checkout's steps ask it."""

import pytest

from accounts.models import OfficialAccount
from invoices.selectors import has_einvoice_profile
from tests.factories import AccountFactory, EInvoiceProfileFactory

pytestmark = pytest.mark.django_db


def test_an_account_has_its_profile_only_once_registered():
    # given one account without e-invoice information and one with
    bare = AccountFactory()
    registered = EInvoiceProfileFactory().account
    # then
    assert not has_einvoice_profile(OfficialAccount.objects.get(pk=bare.pk))
    assert has_einvoice_profile(OfficialAccount.objects.get(pk=registered.pk))


def test_a_profile_selected_with_the_account_costs_no_query(django_assert_num_queries):
    # given an account read with its profile
    account_id = EInvoiceProfileFactory().account_id
    account = OfficialAccount.objects.select_related("einvoice_profile").get(pk=account_id)
    # then asking costs nothing more
    with django_assert_num_queries(0):
        assert has_einvoice_profile(account)
