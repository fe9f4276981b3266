"""Every page of the staff admin opens: the list, the add form and a row's change form of every registered model.

The suite once never opened the 字軌 add page with GET, and it was a 500 (InvoiceNumberRange.remaining on an
unsaved row): staff could not register an invoice number range at all.
"""

import pytest
from django.contrib import admin

from accounts.admin import CheckedInputMixin
from invoices.models import InvoiceNumberRange
from tests.admin_rows import admin_url, one_row_of
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label_lower)
# Adding is refused (403) on purpose: rows only services write, the three plans of SPEC §2, and django-axes'
# records of log-in attempts.
NO_ADDING = {
    "billing.plan",
    "billing.subscription",
    "billing.planchange",
    "accounts.auditrecord",
    "billing.checkout",
    "billing.renewalrun",
    "billing.renewal",
    "billing.usagenotice",
    "billing.extramessagesbill",
    "billing.billingreminder",
    "payments.paymentmethod",
    "payments.charge",
    "payments.refund",
    "payments.linepayregistration",
    "promos.codebatch",
    "promos.promocode",
    "promos.redemption",
    "promos.codeguess",
    "invoices.invoice",
    "invoices.allowance",
    "invoices.migmessage",
    "usage.messagingchannel",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}


def label(model) -> str:
    return model._meta.label_lower


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    client.raise_request_exception = False  # a 500 is seen as a status, with the others
    return client


@pytest.mark.parametrize("model", REGISTERED, ids=label)
def test_every_admin_add_page_opens_or_is_refused_on_purpose(staff, model):
    # when
    response = staff.get(admin_url(model, "add"))
    # then
    assert response.status_code == (403 if label(model) in NO_ADDING else 200)


@pytest.mark.parametrize("model", REGISTERED, ids=label)
def test_every_admin_change_page_and_list_open(staff, model):
    # given
    row = one_row_of(model)
    # when
    change = staff.get(admin_url(model, "change", row.pk))
    changelist = staff.get(admin_url(model, "changelist"))
    # then
    assert change.status_code == 200
    assert changelist.status_code == 200
    assert f'href="{admin_url(model, "change", row.pk)}"' in changelist.content.decode()


def test_the_forbidden_adds_are_exactly_the_admins_without_add_permission(rf):
    # given
    request = rf.get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    # when
    refusing = {
        label(model)
        for model, model_admin in admin.site._registry.items()
        if not model_admin.has_add_permission(request)
    }
    # then
    assert refusing == NO_ADDING


def test_every_registered_admin_refuses_junk_the_checked_way():
    unchecked = [
        label(model)
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, CheckedInputMixin)
    ]
    assert unchecked == []


def test_the_number_range_add_page_shows_no_count_until_the_range_is_saved(staff):
    # when
    response = staff.get(admin_url(InvoiceNumberRange, "add"))
    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="first_number"' in page and 'name="last_number"' in page
    assert "Numbers left:" in page
    assert InvoiceNumberRange.objects.count() == 0


def test_an_unsaved_number_range_counts_the_numbers_it_will_hold():
    assert InvoiceNumberRange(first_number=100, last_number=149).remaining == 50
    assert InvoiceNumberRange(first_number=100).remaining is None
    assert InvoiceNumberRange().remaining is None
