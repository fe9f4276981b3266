"""The invoices admin: what staff add or change (number ranges, e-invoice profiles) goes through the services."""

import pytest

from accounts.models import AuditRecord
from invoices.models import EInvoiceProfile, InvoiceNumberRange
from tests.admin_rows import admin_url
from tests.factories import EInvoiceProfileFactory

# These tests read the English source strings; tests/test_i18n.py checks the zh-Hant ones.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_a_number_range_added_by_staff_is_registered_by_the_service(admin_client):
    # given
    data = {"period": "11502", "prefix": "AB", "first_number": 100, "last_number": 199}

    # when
    response = admin_client.post(admin_url(InvoiceNumberRange, "add"), data)

    # then
    assert response.status_code == 302
    number_range = InvoiceNumberRange.objects.get()
    assert (number_range.first_number, number_range.last_number, number_range.next_number) == (100, 199, 100)
    assert AuditRecord.objects.get().action == "invoice_number_range.create"


def test_an_einvoice_profile_saved_by_staff_is_audited(admin_client):
    # given
    profile = EInvoiceProfileFactory()
    data = {"kind": "donation", "email": "owner@example.tw", "donation_code": "168", "name": "王小明"}

    # when
    response = admin_client.post(admin_url(EInvoiceProfile, "change", profile.pk), data)

    # then
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.kind, profile.donation_code, profile.name) == ("donation", "168", "")
    assert AuditRecord.objects.get().action == "einvoice_profile.update"
