"""A paid charge, from the checkout or a renewal, gets its e-invoice in the same settlement."""

from datetime import date, datetime

import pytest
from django.utils import timezone

from accounts.periods import BILLING_TZ
from billing.checkout import checkout_purchase
from billing.renewals import Totals, renew_subscription
from invoices.issuing import invoice_period
from invoices.models import InvoiceNumberRange, InvoiceStatus
from payments.models import Charge
from tests.factories import EInvoiceProfileFactory, SubscriptionFactory, plan
from tests.helpers import add_card, ready_admin, start_checkout

pytestmark = pytest.mark.django_db


def number_range(day: date, prefix="AB"):
    return InvoiceNumberRange.objects.create(period=invoice_period(day), prefix=prefix, first_number=1, last_number=99)


def test_a_paid_upgrade_gets_the_periods_next_invoice_number():
    membership = ready_admin()
    number_range(timezone.localdate())
    checkout = checkout_purchase(checkout=start_checkout(membership), expected_total_twd=840, actor=membership.user)
    invoice = checkout.charge.invoice
    assert (invoice.status, invoice.number, invoice.total_twd) == (InvoiceStatus.ISSUED, "AB00000001", 840)


def test_a_paid_renewal_gets_an_invoice_and_without_a_range_it_waits_for_its_number():
    sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
    EInvoiceProfileFactory(account=sub.account)
    add_card(sub.account)
    renew_subscription(
        subscription_id=sub.pk, as_of=datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ), run=None, totals=Totals()
    )
    invoice = Charge.objects.get().invoice
    assert (invoice.status, invoice.number, invoice.total_twd) == (InvoiceStatus.NUMBER_PENDING, None, 840)
