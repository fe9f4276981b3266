"""The MIG 4.1 export (SPEC §4): F0401 per issue, F0501 per void, G0401 per allowance, parsed back."""

import xml.etree.ElementTree as ET

import pytest
from django.core.management import CommandError, call_command


def ns(kind: str) -> str:
    return f"{{urn:GEINV:eInvoiceMessage:{kind}:4.1}}"


def fields(element: ET.Element) -> dict:
    """Child tag (namespace dropped) → text, or the nested dict for a group."""
    return {child.tag.split("}")[1]: fields(child) if len(child) else child.text for child in element}


@pytest.mark.django_db
def test_the_export_writes_one_file_per_message_and_they_parse_back_to_the_same_totals(period_11504, tmp_path):
    # when
    call_command("export_einvoices", "--period", "11504", "--out", str(tmp_path))
    # then
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "F0401_AB00000100.xml",
        "F0401_AB00000101.xml",
        "F0401_AB00000102.xml",
        "F0501_AB00000102.xml",
        "G0401_AL11504000001.xml",
    ]
    issues = [ET.parse(path).getroot() for path in sorted(tmp_path.glob("F0401_*.xml"))]
    voids = [ET.parse(path).getroot() for path in tmp_path.glob("F0501_*.xml")]
    total = {root.find(f"{ns('F0401')}Main/{ns('F0401')}InvoiceNumber").text: fields(root)["Amount"] for root in issues}
    voided = {fields(root)["CancelInvoiceNumber"] for root in voids}
    kept = sum(int(amount["TotalAmount"]) for number, amount in total.items() if number not in voided)
    assert kept == period_11504["mobile"].total_twd + period_11504["b2b"].total_twd == 840 + 5500
    for amount in total.values():
        assert int(amount["SalesAmount"]) + int(amount["TaxAmount"]) == int(amount["TotalAmount"])
    allowance = fields(ET.parse(tmp_path / "G0401_AL11504000001.xml").getroot())
    assert int(allowance["Amount"]["TotalAmount"]) + int(allowance["Amount"]["TaxAmount"]) == 210


@pytest.mark.django_db
def test_f0401_of_a_b2c_carrier_invoice_has_every_required_field(period_11504, tmp_path):
    # given
    invoice = period_11504["mobile"]
    call_command("export_einvoices", "--period", "11504", "--out", str(tmp_path))
    # when
    root = ET.parse(tmp_path / "F0401_AB00000100.xml").getroot()
    # then
    assert root.tag == f"{ns('F0401')}Invoice"
    assert fields(root) == {
        "Main": {
            "InvoiceNumber": "AB00000100",
            "InvoiceDate": "20260302",
            "InvoiceTime": "14:30:05",
            "Seller": {"Identifier": "22099131", "Name": "示範公司", "Address": "臺北市"},
            "Buyer": {"Identifier": "0000000000", "Name": "陳小華"},
            "InvoiceType": "07",
            "DonateMark": "0",
            "CarrierType": "3J0002",
            "CarrierId1": "/ABC1234",
            "CarrierId2": "/ABC1234",
            "PrintMark": "N",
            "RandomNumber": invoice.random_code,
        },
        # a consumer's invoice carries the tax in its lines and its sales amount, with tax 0 (SPEC §4)
        "Details": {
            "ProductItem": {
                "Description": "LINE官方帳號 中用量 月費 2026-01",
                "Quantity": "1",
                "UnitPrice": "840",
                "TaxType": "1",
                "Amount": "840",
                "SequenceNumber": "001",
            }
        },
        "Amount": {
            "SalesAmount": "840",
            "FreeTaxSalesAmount": "0",
            "ZeroTaxSalesAmount": "0",
            "TaxType": "1",
            "TaxRate": "0.05",
            "TaxAmount": "0",
            "TotalAmount": "840",
        },
    }


@pytest.mark.django_db
def test_f0401_of_a_b2b_invoice_and_of_a_donation(period_11504, tmp_path):
    call_command("export_einvoices", "--period", "11504", "--out", str(tmp_path))
    b2b = fields(ET.parse(tmp_path / "F0401_AB00000101.xml").getroot())
    donated = fields(ET.parse(tmp_path / "F0401_AB00000102.xml").getroot())
    assert b2b["Main"]["Buyer"] == {"Identifier": "04595252", "Name": "小店有限公司"}
    assert (b2b["Main"]["PrintMark"], b2b["Main"]["DonateMark"]) == ("Y", "0")
    assert (b2b["Amount"]["SalesAmount"], b2b["Amount"]["TaxAmount"], b2b["Amount"]["TotalAmount"]) == (
        "5238",
        "262",
        "5500",
    )
    assert (donated["Main"]["DonateMark"], donated["Main"]["NPOBAN"], donated["Main"]["PrintMark"]) == ("1", "168", "N")
    assert "CarrierType" not in donated["Main"]


@pytest.mark.django_db
def test_f0501_and_g0401_carry_the_void_and_the_allowance(period_11504, tmp_path):
    call_command("export_einvoices", "--period", "11504", "--out", str(tmp_path))
    void = fields(ET.parse(tmp_path / "F0501_AB00000102.xml").getroot())
    allowance = fields(ET.parse(tmp_path / "G0401_AL11504000001.xml").getroot())
    assert void == {
        "CancelInvoiceNumber": "AB00000102",
        "InvoiceDate": "20260302",
        "BuyerId": "0000000000",
        "SellerId": "22099131",
        "CancelDate": "20260302",
        "CancelTime": "14:30:05",
        "CancelReason": "重複扣款",
    }
    assert allowance["Main"] == {
        "AllowanceNumber": "AL11504000001", "AllowanceDate": "20260302",
        "Seller": {"Identifier": "22099131", "Name": "示範公司", "Address": "臺北市"},
        "Buyer": {"Identifier": "0000000000", "Name": "王小明"}, "AllowanceType": "2",
    }  # fmt: skip
    assert allowance["Details"]["ProductItem"] == {
        "OriginalInvoiceDate": "20260105", "OriginalInvoiceNumber": "AA00000001", "OriginalSequenceNumber": "001",
        "OriginalDescription": "部分退款", "Quantity": "1", "UnitPrice": "200", "Amount": "200", "Tax": "10",
        "AllowanceSequenceNumber": "1", "TaxType": "1",
    }  # fmt: skip
    assert allowance["Amount"] == {"TaxAmount": "10", "TotalAmount": "200"}


@pytest.mark.django_db
def test_the_earlier_period_exports_its_own_issue_only(period_11504, tmp_path):
    call_command("export_einvoices", "--period", "11502", "--out", str(tmp_path))
    assert [path.name for path in tmp_path.iterdir()] == ["F0401_AA00000001.xml"]


@pytest.mark.django_db
def test_a_malformed_period_is_refused(tmp_path):
    with pytest.raises(CommandError):
        call_command("export_einvoices", "--period", "11503", "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
