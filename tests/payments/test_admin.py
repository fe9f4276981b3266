"""The payments admin: charges stay as services wrote them, refunds go through the gateway, tokens never show."""

import pytest
from django.utils import timezone

from invoices.models import InvoiceNumberRange
from payments.models import Charge, PaymentMethod
from tests.admin_rows import admin_url, post_action
from tests.factories import ChargeFactory, PaymentMethodFactory
from tests.helpers import ready_admin, start_checkout

# These tests read the English source strings; tests/test_i18n.py checks the zh-Hant ones.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_a_charge_cannot_be_changed_by_a_post(admin_client):
    # given
    charge = ChargeFactory(idempotency_key="upgrade-42")

    # when
    response = admin_client.post(
        admin_url(Charge, "change", charge.pk), {"total_twd": 1, "status": "refunded", "idempotency_key": "x"}
    )

    # then
    charge.refresh_from_db()
    assert response.status_code == 403
    assert (charge.total_twd, charge.status, charge.idempotency_key) == (840, "succeeded", "upgrade-42")


# ---- payment methods: the token never shows -------------------------------------------------


def test_the_gateway_token_is_not_in_the_changelist_and_masked_on_the_change_page(admin_client):
    # given
    method = PaymentMethodFactory(gateway_token="tok_sandbox_secret_9876")

    # when
    changelist = admin_client.get(admin_url(PaymentMethod, "changelist"))
    change_page = admin_client.get(admin_url(PaymentMethod, "change", method.pk))

    # then
    assert "tok_sandbox_secret" not in changelist.content.decode()
    assert "tok_sandbox_secret" not in change_page.content.decode()
    assert "••••9876" in change_page.content.decode()


# ---- refunds --------------------------------------------------------------------------------


def test_staff_refund_a_charge_through_the_gateway_and_the_invoice_is_voided(admin_client, admin_user):
    # given a paid upgrade with its invoice, in this period
    from billing.checkout import checkout_purchase
    from invoices.issuing import invoice_period
    from invoices.models import InvoiceStatus

    membership = ready_admin()
    InvoiceNumberRange.objects.create(
        period=invoice_period(timezone.localdate()), prefix="AB", first_number=1, last_number=9
    )
    checkout = start_checkout(membership)
    charge = checkout_purchase(checkout=checkout, expected_total_twd=840, actor=None).charge
    # when staff refund it in full, with a reason
    form = post_action(admin_client, Charge, "refund", [charge])
    assert form.status_code == 200
    done = post_action(admin_client, Charge, "refund", [charge], apply="1", amount_twd="", reason="客戶要求")
    # then the gateway refunded, the charge is refunded and its invoice voided
    assert done.status_code == 302
    charge.refresh_from_db()
    assert charge.status == "refunded"
    refund = charge.refunds.get()
    assert (refund.amount_twd, refund.reason, refund.actor) == (840, "客戶要求", admin_user)
    assert refund.gateway_reference.startswith("R")
    assert charge.invoice.status == InvoiceStatus.VOIDED
