"""折讓證明單: an allowance's printable proof for the account's members (a 404 for anyone else), linked from 付款紀錄
under its invoice; a voided invoice says so there."""

import re

import pytest
from django.urls import reverse

from invoices.models import Allowance
from tests.factories import InvoiceFactory, MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def allowance_of(invoice, total=421):
    return Allowance.objects.create(
        invoice=invoice,
        number="AL11504000001",
        period="11504",
        reason="部分退款",
        sales_twd=401,
        tax_twd=20,
        total_twd=total,
    )


def test_the_records_page_links_each_invoice_and_its_allowance_and_the_proof_adds_up(client):
    invoice = InvoiceFactory(number="AB00000042")
    allowance = allowance_of(invoice)
    member = MembershipFactory(account=invoice.charge.account)
    client.force_login(member.user)
    records = client.get(reverse("billing:payment_records", args=[invoice.charge.account_id]))
    page = text(records)
    assert "AB00000042" in page
    assert "Allowance AL11504000001 (NT$421)" in page
    assert reverse("invoices:allowance_proof", args=[allowance.pk]) in records.content.decode()
    proof = text(client.get(reverse("invoices:allowance_proof", args=[allowance.pk])))
    assert "AL11504000001" in proof and "AB00000042" in proof and "部分退款" in proof
    assert "Sales amount NT$401 Tax NT$20 Total NT$421" in proof


def test_a_voided_invoice_says_so_on_the_records_page(client):
    invoice = InvoiceFactory(status="voided")
    member = MembershipFactory(account=invoice.charge.account)
    client.force_login(member.user)
    page = text(client.get(reverse("billing:payment_records", args=[invoice.charge.account_id])))
    assert "Voided" in page


def test_another_accounts_member_gets_a_404(client):
    allowance = allowance_of(InvoiceFactory())
    client.force_login(MembershipFactory().user)
    assert client.get(reverse("invoices:allowance_proof", args=[allowance.pk])).status_code == 404
