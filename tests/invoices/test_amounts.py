"""B2C amounts (SPEC §4; einvoice-compliance.md §3): a consumer's invoice states tax-inclusive lines that add up
to its total, on its proof and in its F0401 (sales = total, tax 0); a company's states untaxed lines and the tax
apart; an allowance keeps the untaxed amount and the tax apart."""

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.money import round_half_up_twd
from accounts.periods import BILLING_TZ
from invoices.amounts import apportion_twd, invoice_lines, tax_inclusive_lines
from invoices.issuing import invoice_allowance, lines_snapshot
from invoices.mig import f0401, g0401
from invoices.models import Invoice
from tests.factories import ChargeFactory, EInvoiceProfileFactory, InvoiceNumberRangeFactory, MembershipFactory
from tests.helpers import invoice_issue

MARCH = datetime(2026, 3, 2, 14, 30, tzinfo=BILLING_TZ)
COMPANY = {"kind": "company", "identifier": "04595252", "ubn": "04595252", "name": "小店有限公司"}
CONSUMER = {"kind": "member", "identifier": "0000000000", "name": "王小明", "email": "owner@example.tw"}
NS = "{urn:GEINV:eInvoiceMessage:F0401:4.1}"


def charge_lines(fee_twd: int, deduction_twd: int, extra_twd: int) -> tuple[list[dict], int, int, int]:
    """A charge's lines as billing.pricing writes them (fee, a code's deduction, extra messages, tax on the
    rest at 5% rounded half up) and its net, tax and total."""
    net_twd = fee_twd - deduction_twd + extra_twd
    tax_twd = round_half_up_twd(Decimal(net_twd) * Decimal("0.05"))
    lines = [{"kind": "fee", "plan": "medium", "amount_twd": fee_twd}]
    if deduction_twd:
        lines.append({"kind": "deduction", "code": "X", "amount_twd": -deduction_twd, "forfeited_twd": 0})
    if extra_twd:
        lines.append({"kind": "extra_messages", "messages": 1, "amount_twd": extra_twd})
    lines.append({"kind": "tax", "rate": "0.05", "amount_twd": tax_twd})
    return lines, net_twd, tax_twd, net_twd + tax_twd


def unsaved_invoice(buyer: dict, fee_twd: int, deduction_twd: int, extra_twd: int) -> Invoice:
    """An invoice as invoices.issuing makes it for such a charge (not saved: pure arithmetic)."""
    lines, net_twd, tax_twd, total_twd = charge_lines(fee_twd, deduction_twd, extra_twd)
    charge = SimpleNamespace(lines=lines, plan_code="medium", period_start=date(2026, 3, 1), net_twd=net_twd)
    return Invoice(
        number="AB00000001",
        random_code="1234",
        period="11504",
        buyer=buyer,
        seller={"ubn": "22099131", "name": "示範公司", "address": "臺北市"},
        lines=lines_snapshot(charge, {"medium": "中用量"}),
        sales_twd=net_twd,
        tax_twd=tax_twd,
        total_twd=total_twd,
        issued_at=MARCH,
    )


def parsed(root: ET.Element) -> ET.Element:
    """The message as the platform reads it: written out and parsed back, its namespace on every tag."""
    return ET.fromstring(ET.tostring(root))


def items(root: ET.Element) -> list[dict]:
    return [{child.tag.removeprefix(NS): child.text for child in item} for item in root.iter(f"{NS}ProductItem")]


def amount(root: ET.Element) -> dict:
    return {child.tag.removeprefix(NS): child.text for child in root.find(f"{NS}Amount")}


# ---- sharing the total among the lines ------------------------------------------------------------------


def test_each_line_is_its_own_tax_inclusive_price_and_the_rounding_of_the_tax_is_settled_by_largest_remainder():
    def shown(*amounts, total_twd):
        lines = [{"description": str(n), "amount_twd": amount} for n, amount in enumerate(amounts)]
        return [line["amount_twd"] for line in tax_inclusive_lines(lines, total_twd)]

    assert shown(800, total_twd=840) == [840]
    # a code's deduction and extra messages: 840 − 840 + 129.15 on an invoice of NT$123 + 6 = 129
    assert shown(800, -800, 123, total_twd=129) == [840, -840, 129]
    # 840 + 129.15 = 969.15 on NT$923 + 46 = 969: the dropped .15 is the tax's own rounding
    assert shown(800, 123, total_twd=969) == [840, 129]
    # 10.50 + 10.50 on NT$20 + 1 = 21: the NT$1 missing after rounding down goes to the first of the tie
    assert shown(10, 10, total_twd=21) == [11, 10]
    # 106.05 + 105 + 105 = 316.05 on NT$301 + 15 = 316: whole prices stay, the first is rounded down
    assert shown(101, 100, 100, total_twd=316) == [106, 105, 105]


def test_lines_that_do_not_add_up_to_the_taxed_amount_share_the_total_in_proportion():
    # given lines of 840 (already tax-inclusive, as a hand-made row might hold) on a total of 840
    lines = [{"description": "中用量", "amount_twd": 840}]
    # then they stay 840 rather than become 882
    assert [line["amount_twd"] for line in tax_inclusive_lines(lines, 840)] == [840]


def test_shares_too_far_from_the_total_are_refused():
    with pytest.raises(ValueError):
        apportion_twd([Fraction(100), Fraction(-100)], 5)


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(st.integers(-50_000, 50_000), min_size=1, max_size=8).filter(lambda a: sum(a) > 0),
    rate=st.sampled_from(["0.05", "0.10", "0.01", "0"]),
)
def test_shares_always_add_up_and_none_is_a_dollar_from_its_line_with_tax(amounts, rate):
    # given untaxed lines and the tax on their sum, rounded half up
    tax_twd = round_half_up_twd(Decimal(sum(amounts)) * Decimal(rate))
    exact = [amount * (1 + Fraction(rate)) for amount in amounts]
    # when the total is shared out
    shares = apportion_twd(exact, sum(amounts) + tax_twd)
    # then it adds up, and each line is within NT$1 of its own tax-inclusive price (whole ones exactly it)
    assert sum(shares) == sum(amounts) + tax_twd
    for share, price in zip(shares, exact, strict=True):
        assert abs(share - price) < 1
        assert share == price or price.denominator != 1


def test_lines_that_add_to_nothing_become_one_line_of_the_total():
    assert tax_inclusive_lines([], 840) == [
        {"description": "", "quantity": 1, "unit_price_twd": 840, "amount_twd": 840}
    ]


fees = st.sampled_from([0, 800, 1200, 1800]) | st.integers(0, 20_000)


@settings(max_examples=300, deadline=None)
@given(fee_twd=fees, code=st.integers(0, 30_000), extra_twd=st.integers(0, 500_000))
def test_for_any_fee_code_and_extra_messages_the_lines_add_up_to_the_invoice(fee_twd, code, extra_twd):
    # given a charge's fee, a code's deduction (never above the fee) and extra messages
    deduction_twd = min(code, fee_twd)
    if fee_twd - deduction_twd + extra_twd == 0:
        return  # a zero total gets no invoice
    b2c = unsaved_invoice(CONSUMER, fee_twd, deduction_twd, extra_twd)
    b2b = unsaved_invoice(COMPANY, fee_twd, deduction_twd, extra_twd)
    # when the invoices state their lines, on the proof and in F0401
    b2c_lines, b2b_lines = invoice_lines(b2c), invoice_lines(b2b)
    b2c_xml, b2b_xml = parsed(f0401(b2c)), parsed(f0401(b2b))
    # then a consumer's lines add up to the total, each carrying its share of the tax, as do the F0401's, whose
    # sales amount is the total with tax 0
    assert sum(line["amount_twd"] for line in b2c_lines) == b2c.total_twd
    assert [line["amount_twd"] for line in b2c_lines] == [int(item["Amount"]) for item in items(b2c_xml)]
    assert all(item["UnitPrice"] == item["Amount"] and item["Quantity"] == "1" for item in items(b2c_xml))
    assert amount(b2c_xml)["SalesAmount"] == amount(b2c_xml)["TotalAmount"] == str(b2c.total_twd)
    assert amount(b2c_xml)["TaxAmount"] == "0"
    # and a company's lines add up to the sales amount, the tax apart
    assert sum(line["amount_twd"] for line in b2b_lines) == b2b.sales_twd
    assert sum(int(item["Amount"]) for item in items(b2b_xml)) == b2b.sales_twd
    assert (amount(b2b_xml)["SalesAmount"], amount(b2b_xml)["TaxAmount"]) == (str(b2b.sales_twd), str(b2b.tax_twd))
    assert int(amount(b2b_xml)["TotalAmount"]) == b2b.sales_twd + b2b.tax_twd


# ---- F0401 field by field ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("buyer", "expected_items", "expected_amount"),
    [
        (
            CONSUMER,
            [("LINE官方帳號 中用量 月費 2026-03", "840"), ("優惠活動代碼折抵", "-840"), ("加購訊息", "129")],
            {"SalesAmount": "129", "TaxAmount": "0", "TotalAmount": "129"},
        ),
        (
            COMPANY,
            [("LINE官方帳號 中用量 月費 2026-03", "800"), ("優惠活動代碼折抵", "-800"), ("加購訊息", "123")],
            {"SalesAmount": "123", "TaxAmount": "6", "TotalAmount": "129"},
        ),
    ],
    ids=["B2C", "B2B"],
)
def test_f0401_of_a_fee_a_code_and_extra_messages(buyer, expected_items, expected_amount):
    # given NT$800 − a NT$800 code + NT$123 of extra messages: NT$123 + 6 tax = NT$129
    invoice = unsaved_invoice(buyer, 800, 800, 123)
    # when its F0401 is made
    root = parsed(f0401(invoice))
    # then
    assert [(item["Description"], item["Amount"]) for item in items(root)] == expected_items
    assert [item["UnitPrice"] for item in items(root)] == [amount for _d, amount in expected_items]
    assert {name: amount(root)[name] for name in expected_amount} == expected_amount
    assert (amount(root)["TaxType"], amount(root)["TaxRate"]) == ("1", "0.05")


# ---- the proof -------------------------------------------------------------------------------------------


def proof_amounts(page: str, testid: str) -> list[int]:
    return [int(value) for value in re.findall(rf'data-testid="{testid}">(-?\d+)<', page)]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["b2c", "b2b"])
def test_the_proofs_lines_add_up_to_what_it_states(client, kind):
    # given an issued invoice of NT$800 − a NT$500 code + NT$123 extra messages: NT$423 + 21 = NT$444
    InvoiceNumberRangeFactory(period="11504", prefix="AB", first_number=1, last_number=9)
    membership = MembershipFactory()
    if kind == "b2b":
        EInvoiceProfileFactory(
            account=membership.account, kind="company", name="", company_title="小店", ubn="04595252", address="台中"
        )
    else:
        EInvoiceProfileFactory(account=membership.account)
    lines, net_twd, tax_twd, total_twd = charge_lines(800, 500, 123)
    charge = ChargeFactory(
        account=membership.account,
        lines=lines,
        fee_twd=800,
        deduction_twd=500,
        extra_messages_twd=123,
        net_twd=net_twd,
        tax_twd=tax_twd,
        total_twd=total_twd,
        period_start=date(2026, 3, 1),
    )
    invoice = invoice_issue(charge=charge, at=MARCH)
    client.force_login(membership.user)
    # when the proof is shown
    page = client.get(reverse("invoices:proof", args=[invoice.pk])).content.decode()
    # then a consumer's lines are tax-inclusive and add up to its 總計; a company's add up to its 銷售額, the
    # 稅額 beside them
    shown = proof_amounts(page, "proof-line-amount")
    assert f"總計 {total_twd}" in page
    if kind == "b2c":
        assert (total_twd, shown) == (444, [840, -525, 129])
        assert sum(shown) == total_twd
        assert 'data-testid="proof-tax"' not in page
    else:
        assert shown == [800, -500, 123]
        assert sum(shown) == proof_amounts(page, "proof-sales")[0] == 423
        assert proof_amounts(page, "proof-tax") == [21]


@pytest.mark.django_db
def test_the_b2c_proof_of_the_seeds_upgrade_says_840_under_840(client):
    # issue 13: the line said 800 under a 總計 of 840
    membership = MembershipFactory()
    EInvoiceProfileFactory(account=membership.account)
    InvoiceNumberRangeFactory(period="11504", prefix="AB", first_number=1, last_number=9)
    invoice = invoice_issue(charge=ChargeFactory(account=membership.account), at=MARCH)
    client.force_login(membership.user)
    page = client.get(reverse("invoices:proof", args=[invoice.pk])).content.decode()
    assert proof_amounts(page, "proof-line-amount") == [840]
    assert "總計 840" in page


# ---- allowances ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("buyer", [CONSUMER, COMPANY], ids=["B2C", "B2B"])
def test_an_allowance_keeps_the_untaxed_amount_and_the_tax_apart(buyer):
    # given an issued NT$840 invoice, B2C or B2B
    InvoiceNumberRangeFactory(period="11504", prefix="AB", first_number=1, last_number=9)
    profile = EInvoiceProfileFactory(**({"kind": "company", "name": "", "company_title": "小店", "ubn": "04595252",
                                         "address": "台中"} if buyer is COMPANY else {}))  # fmt: skip
    invoice = invoice_issue(charge=ChargeFactory(account=profile.account), at=MARCH)
    # when NT$315 of it is allowed
    allowance = invoice_allowance(invoice=invoice, amount_twd=315, reason="部分退款", actor=None, at=MARCH)
    root = parsed(g0401(allowance))
    ns = "{urn:GEINV:eInvoiceMessage:G0401:4.1}"
    item = {child.tag.removeprefix(ns): child.text for child in root.find(f"{ns}Details/{ns}ProductItem")}
    totals = {child.tag.removeprefix(ns): child.text for child in root.find(f"{ns}Amount")}
    # then its G0401 carries NT$300 untaxed and NT$15 tax, whoever the buyer
    assert (item["UnitPrice"], item["Amount"], item["Tax"]) == ("300", "300", "15")
    assert totals == {"TaxAmount": "15", "TotalAmount": "300"}
