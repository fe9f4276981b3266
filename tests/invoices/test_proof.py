"""The printable proof (電子發票證明聯) and its Code 39 barcode; only the account's members see it."""

import pytest
from django.urls import reverse

from invoices.barcode import code39_bars, code39_svg
from tests.factories import ChargeFactory, InvoiceFactory, MembershipFactory, UserFactory

B2B_BUYER = {"kind": "company", "identifier": "04595252", "ubn": "04595252", "name": "小店有限公司"}


def proof_of(client, invoice):
    return client.get(reverse("invoices:proof", args=[invoice.pk]))


def test_code39_draws_start_and_stop_and_five_bars_per_character():
    # '*' is n w n n w n w n n: its bars are narrow, narrow, wide, wide, narrow
    bars = code39_bars("0")
    assert [width for _x, width in bars] == [1, 1, 3, 3, 1, 1, 1, 3, 3, 1, 1, 1, 3, 3, 1]
    assert bars[0][0] == 10  # the quiet zone
    assert len(code39_bars("11502AB000000011234")) == 5 * 21


def test_code39_refuses_what_it_cannot_encode():
    with pytest.raises(ValueError):
        code39_bars("ab")
    with pytest.raises(ValueError):
        code39_bars("A*B")


def test_the_svg_is_escaped_and_sized():
    svg = code39_svg("AB1")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="barcode"')
    assert 'data-code39="AB1"' in svg
    assert svg.count("<rect") == 1 + 5 * 5


@pytest.mark.django_db
def test_a_member_sees_the_b2c_proof_with_its_fields_and_barcode(client):
    # given an issued B2C invoice AB00000001 of 11502 (2026-01-05 10:00, random code 1234)
    membership = MembershipFactory(role="operator")
    invoice = InvoiceFactory(charge=ChargeFactory(account=membership.account), number="AB00000001")
    client.force_login(membership.user)
    # when
    response = proof_of(client, invoice)
    # then
    page = response.content.decode()
    assert response.status_code == 200
    for text in (
        "電子發票證明聯",
        "115年01-02月",
        "AB-00000001",
        "2026-01-05 10:00:00",
        "隨機碼 1234",
        "總計 840",
        "賣方 12345675",
        'data-code39="11502AB000000011234"',
        "@media print",
    ):
        assert text in page, text
    assert "買方" not in page
    assert 'data-testid="proof-tax"' not in page


@pytest.mark.django_db
def test_a_b2b_proof_shows_the_buyers_ubn_and_the_tax_apart(client):
    membership = MembershipFactory()
    invoice = InvoiceFactory(charge=ChargeFactory(account=membership.account), buyer=B2B_BUYER)
    client.force_login(membership.user)
    page = proof_of(client, invoice).content.decode()
    for text in ("買方 04595252", 'data-testid="proof-sales">800<', 'data-testid="proof-tax">40<', "格式 25"):
        assert text in page, text


@pytest.mark.django_db
def test_a_stranger_gets_404_and_a_visitor_the_login_page(client):
    # given
    invoice = InvoiceFactory()
    # when
    anonymous = proof_of(client, invoice)
    client.force_login(MembershipFactory().user)  # a member of another account
    stranger = proof_of(client, invoice)
    missing = client.get(reverse("invoices:proof", args=[invoice.pk + 1]))
    client.force_login(UserFactory())
    nobody = proof_of(client, invoice)
    # then
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("login"))
    assert (stranger.status_code, missing.status_code, nobody.status_code) == (404, 404, 404)
