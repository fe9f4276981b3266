"""MIG 4.1 messages for the MOF platform: F0401 (issue), F0501 (void), G0401 (allowance), G0501 (allowance void)
and E0402 (blank numbers), one XML file each, from the messages recorded with their events (invoices.uploads).

Built with xml.etree.ElementTree in MIG 4.1's namespaces and element order, and checked against the schema
(invoices/mig_schema.py) before any is written: a message that fails is reported, never written. Dates are
local (Asia/Taipei).
A B2B F0401 carries the invoice's sales, tax and total apart, and untaxed lines. A B2C F0401 carries the
tax-inclusive total as its sales amount with tax 0, and tax-inclusive lines adding up to it (營業稅法 §32:
"合計開立"; einvoice-compliance.md §3): the split stays in the product and in the proof's QR code. A G0401, B2C
or B2B, keeps the untaxed amount with the tax apart (§3.3).
"""

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from accounts.money import tax_rate
from accounts.periods import BILLING_TZ
from invoices.amounts import invoice_lines
from invoices.mig_schema import MessageInvalid, check_message
from invoices.models import Allowance, BlankRun, EInvoiceMessage, Invoice, MessageKind, PeriodClosing
from invoices.uploads import messages_mark_exported

NAMESPACE = "urn:GEINV:eInvoiceMessage:{}:4.1"
INVOICE_TYPE = "07"  # 一般稅額計算之電子發票
TAX_TYPE = "1"  # 應稅
ALLOWANCE_BY_SELLER = "2"
CANCEL_REASON_LENGTH = 20  # F0501 CancelReason; the invoice keeps the whole reason, and its audit record too


def _add(parent: ET.Element, tag: str, text=None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def _fields(parent: ET.Element, tag: str, pairs: list[tuple[str, object]]) -> ET.Element:
    element = _add(parent, tag)
    for name, value in pairs:
        _add(element, name, value)
    return element


def _local(moment):
    return timezone.localtime(moment, BILLING_TZ)


def _party(parent: ET.Element, tag: str, identifier: str, name: str, address: str = "") -> None:
    pairs = [("Identifier", identifier), ("Name", name or identifier)]
    _fields(parent, tag, pairs + ([("Address", address)] if address else []))


def _parties(main: ET.Element, invoice: Invoice) -> None:
    seller, buyer = invoice.seller, invoice.buyer
    _party(main, "Seller", seller["ubn"], seller["name"], seller.get("address", ""))
    _party(main, "Buyer", buyer["identifier"], buyer.get("name", ""))


def _qualified(root: ET.Element, kind: str) -> ET.Element:
    """Every element in the message's namespace, as the schema and the platform read it."""
    namespace = NAMESPACE.format(kind)
    for element in root.iter():
        element.tag = f"{{{namespace}}}{element.tag}"
    return root


def f0401(invoice: Invoice) -> ET.Element:
    """平台存證開立發票訊息."""
    root = ET.Element("Invoice")
    main = _add(root, "Main")
    issued = _local(invoice.issued_at)
    _add(main, "InvoiceNumber", invoice.number)
    _add(main, "InvoiceDate", issued.strftime("%Y%m%d"))
    _add(main, "InvoiceTime", issued.strftime("%H:%M:%S"))
    _parties(main, invoice)
    buyer = invoice.buyer
    donated = bool(buyer.get("donation_code"))
    _add(main, "InvoiceType", INVOICE_TYPE)
    _add(main, "DonateMark", "1" if donated else "0")
    if buyer.get("carrier_type"):
        _add(main, "CarrierType", buyer["carrier_type"])
        _add(main, "CarrierId1", buyer["carrier_number"])
        _add(main, "CarrierId2", buyer["carrier_number"])
    printed = not (donated or buyer.get("carrier_type")) or invoice.is_b2b
    _add(main, "PrintMark", "Y" if printed else "N")
    if donated:
        _add(main, "NPOBAN", buyer["donation_code"])
    _add(main, "RandomNumber", invoice.random_code)
    details = _add(root, "Details")
    for sequence, line in enumerate(invoice_lines(invoice), start=1):
        _fields(details, "ProductItem", [
            ("Description", line["description"]), ("Quantity", line["quantity"]),
            ("UnitPrice", line["unit_price_twd"]), ("TaxType", TAX_TYPE),
            ("Amount", line["amount_twd"]), ("SequenceNumber", f"{sequence:03d}"),
        ])  # fmt: skip
    sales_twd, tax_twd = (invoice.sales_twd, invoice.tax_twd) if invoice.is_b2b else (invoice.total_twd, 0)
    _fields(root, "Amount", [
        ("SalesAmount", sales_twd), ("FreeTaxSalesAmount", 0), ("ZeroTaxSalesAmount", 0),
        ("TaxType", TAX_TYPE), ("TaxRate", tax_rate()), ("TaxAmount", tax_twd),
        ("TotalAmount", invoice.total_twd),
    ])  # fmt: skip
    return _qualified(root, "F0401")


def f0501(invoice: Invoice) -> ET.Element:
    """平台存證作廢發票訊息."""
    root = ET.Element("CancelInvoice")
    voided = _local(invoice.voided_at)
    for name, value in [
        ("CancelInvoiceNumber", invoice.number), ("InvoiceDate", _local(invoice.issued_at).strftime("%Y%m%d")),
        ("BuyerId", invoice.buyer["identifier"]), ("SellerId", invoice.seller["ubn"]),
        ("CancelDate", voided.strftime("%Y%m%d")), ("CancelTime", voided.strftime("%H:%M:%S")),
        ("CancelReason", invoice.void_reason[:CANCEL_REASON_LENGTH]),
    ]:  # fmt: skip
        _add(root, name, value)
    return _qualified(root, "F0501")


def g0401(allowance: Allowance) -> ET.Element:
    """平台存證開立折讓證明單訊息: one item per allowance, amounts without tax and the tax apart."""
    invoice = allowance.invoice
    root = ET.Element("Allowance")
    main = _add(root, "Main")
    _add(main, "AllowanceNumber", allowance.number)
    _add(main, "AllowanceDate", _local(allowance.created_at).strftime("%Y%m%d"))
    _parties(main, invoice)
    _add(main, "AllowanceType", ALLOWANCE_BY_SELLER)
    details = _add(root, "Details")
    _fields(details, "ProductItem", [
        ("OriginalInvoiceDate", _local(invoice.issued_at).strftime("%Y%m%d")),
        ("OriginalInvoiceNumber", invoice.number), ("OriginalSequenceNumber", "001"),
        ("OriginalDescription", allowance.reason), ("Quantity", 1), ("UnitPrice", allowance.sales_twd),
        ("Amount", allowance.sales_twd), ("Tax", allowance.tax_twd), ("AllowanceSequenceNumber", "1"),
        ("TaxType", TAX_TYPE),
    ])  # fmt: skip
    _fields(root, "Amount", [("TaxAmount", allowance.tax_twd), ("TotalAmount", allowance.sales_twd)])
    return _qualified(root, "G0401")


def g0501(allowance: Allowance) -> ET.Element:
    """平台存證作廢折讓證明單訊息."""
    invoice = allowance.invoice
    root = ET.Element("CancelAllowance")
    voided = _local(allowance.voided_at)
    for name, value in [
        ("CancelAllowanceNumber", allowance.number), ("AllowanceDate", _local(allowance.created_at).strftime("%Y%m%d")),
        ("BuyerId", invoice.buyer["identifier"]), ("SellerId", invoice.seller["ubn"]),
        ("CancelDate", voided.strftime("%Y%m%d")), ("CancelTime", voided.strftime("%H:%M:%S")),
        ("CancelReason", allowance.void_reason[:CANCEL_REASON_LENGTH]),
    ]:  # fmt: skip
        _add(root, name, value)
    return _qualified(root, "G0501")


def e0402(closing: PeriodClosing, runs: list[BlankRun]) -> ET.Element:
    """空白未使用字軌檔: one 字軌 and invoice type of a closed period, one item per blank run (§1.3). A seller
    with no branches is its own head office: HeadBan = BranchBan."""
    root = ET.Element("BranchTrackBlank")
    _fields(root, "Main", [
        ("HeadBan", closing.seller_ubn), ("BranchBan", closing.seller_ubn), ("InvoiceType", runs[0].invoice_type),
        ("YearMonth", closing.period), ("InvoiceTrack", runs[0].prefix),
    ])  # fmt: skip
    details = _add(root, "Details")
    for run in runs:
        _fields(details, "BranchTrackBlankItem", [
            ("InvoiceBeginNo", f"{run.first_number:08d}"), ("InvoiceEndNo", f"{run.last_number:08d}"),
        ])  # fmt: skip
    return _qualified(root, "E0402")


def message_xml(message: EInvoiceMessage) -> ET.Element:
    if message.kind == MessageKind.F0401:
        return f0401(message.invoice)
    if message.kind == MessageKind.F0501:
        return f0501(message.invoice)
    if message.kind == MessageKind.G0401:
        return g0401(message.allowance)
    if message.kind == MessageKind.G0501:
        return g0501(message.allowance)
    runs = [run for run in message.closing.blank_runs.all() if f"{run.invoice_type}{run.prefix}" == message.subject]
    return e0402(message.closing, runs)


def message_name(message: EInvoiceMessage) -> str:
    """F0401_AB00000001, E0402_07AB: the file name of a message in a period's folder, without .xml."""
    return f"{message.kind}_{message.subject}"


def period_messages(period: str) -> list[EInvoiceMessage]:
    """The period's messages, as recorded with their events: F0401 per numbered invoice, F0501 per void, G0401
    per allowance, G0501 per voided allowance, E0402 per 字軌 with blank numbers once the period is closed."""
    return list(
        EInvoiceMessage.objects.filter(period=period)
        .select_related("invoice__charge", "allowance__invoice", "closing")
        .prefetch_related("closing__blank_runs")
        .order_by("kind", "subject")
    )


def write_message(message: EInvoiceMessage, path: Path) -> Path:
    """Check the message against its schema, then write it as UTF-8: into a temporary name first and renamed,
    so a reader of the folder (Turnkey) never sees half a file. Raises MessageInvalid, writing nothing."""
    root = message_xml(message)
    check_message(message.kind, message_name(message), root)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    ET.ElementTree(root).write(
        partial, encoding="UTF-8", xml_declaration=True, default_namespace=NAMESPACE.format(message.kind)
    )
    os.replace(partial, path)
    return path


@dataclass
class Export:
    written: list[Path] = field(default_factory=list)
    refused: list[MessageInvalid] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already written for Turnkey, or uploaded (invoices.turnkey)


def export_period(*, period: str, out: Path, at=None) -> Export:
    """Write the period's messages into `out`, one XML file each (F0401_AB00000001.xml, E0402_07AB.xml…), and
    record the first export of each written (pending → written). Those their schema refuses are listed, not
    written, and stay pending."""
    out.mkdir(parents=True, exist_ok=True)
    export = Export()
    written = []
    for message in period_messages(period):
        try:
            export.written.append(write_message(message, out / f"{message_name(message)}.xml"))
        except MessageInvalid as refusal:
            export.refused.append(refusal)
        else:
            written.append(message)
    messages_mark_exported(messages=written, at=at or timezone.now())
    return export
