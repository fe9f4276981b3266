"""A two-month period for the accountant (the 401 return): register, totals, voids, allowances, blanks, uploads.

einvoice-compliance.md §6: B2B invoices are totalled as issued (sales and tax apart); B2C invoices carry the
tax in their amounts, so the return takes the period's B2C total and backs the tax out of it once,
tax = round(total ÷ (1 + rate) × rate), sales = total − tax (§6.2): per-invoice rounding never reaches it.
Voided invoices are listed without counting; allowances count in the period they were issued, voided ones
not; blank numbers are those reported when the period was closed (before that: as they stand, not final).
"""

import csv
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from accounts.money import round_half_up_twd, tax_rate
from accounts.periods import local_date
from invoices.closing import period_blanks
from invoices.models import Allowance, BlankRun, EInvoiceMessage, Invoice, InvoiceStatus, PeriodClosing
from invoices.uploads import UploadState, upload_state


def b2c_tax_backed_out(total_twd: int, rate: Decimal | None = None) -> tuple[int, int]:
    """(sales, tax) of a tax-inclusive B2C period total, as the 401 computes them: the tax rounded once, half up.
    Not invoices.issuing.split_tax_inclusive, which rounds the sales (an allowance's or a refund's split): the
    two may differ by NT$1 on the same total, and each is the rule of its own form."""
    rate = tax_rate() if rate is None else rate
    tax = round_half_up_twd(Decimal(total_twd) / (1 + rate) * rate)
    return total_twd - tax, tax


@dataclass
class Totals:
    count: int = 0
    sales_twd: int = 0
    tax_twd: int = 0
    total_twd: int = 0

    def add(self, row) -> None:
        self.count += 1
        self.sales_twd += row.sales_twd
        self.tax_twd += row.tax_twd
        self.total_twd += row.total_twd


@dataclass
class PeriodReport:
    period: str
    today: date
    invoices: list  # numbered invoices, by number (voided ones too)
    allowances: list
    blanks: list
    closing: PeriodClosing | None
    messages: list
    pending: int  # invoices of the period still waiting for a number
    b2b: Totals = field(default_factory=Totals)
    b2c: Totals = field(default_factory=Totals)  # as issued: the stored per-invoice split
    b2c_401_sales_twd: int = 0
    b2c_401_tax_twd: int = 0
    voided: Totals = field(default_factory=Totals)
    allowances_b2b: Totals = field(default_factory=Totals)
    allowances_b2c: Totals = field(default_factory=Totals)
    upload_counts: dict = field(default_factory=dict)

    @property
    def voids(self) -> list:
        return [invoice for invoice in self.invoices if invoice.status == InvoiceStatus.VOIDED]

    @property
    def total_twd(self) -> int:
        """What the period's invoices came to, voids left out."""
        return self.b2b.total_twd + self.b2c.total_twd

    @property
    def blank_count(self) -> int:
        return sum(run.count for run in self.blanks)

    @property
    def late(self) -> list:
        return [
            m for m in self.messages if upload_state(m, self.today) in {UploadState.LATE, UploadState.UPLOADED_LATE}
        ]


def period_report(*, period: str, today: date) -> PeriodReport:
    messages = Prefetch("messages", queryset=EInvoiceMessage.objects.order_by("kind"))
    invoices = list(
        Invoice.objects.filter(period=period, number__isnull=False).prefetch_related(messages).order_by("number")
    )
    allowances = list(
        Allowance.objects.filter(period=period).select_related("invoice").prefetch_related(messages).order_by("number")
    )
    closing = PeriodClosing.objects.filter(period=period).first()
    blanks = list(BlankRun.objects.filter(closing=closing)) if closing else period_blanks(period)
    report = PeriodReport(
        period=period,
        today=today,
        invoices=invoices,
        allowances=allowances,
        blanks=blanks,
        closing=closing,
        messages=list(EInvoiceMessage.objects.filter(period=period).order_by("due_on", "kind", "subject")),
        pending=Invoice.objects.filter(period=period, status=InvoiceStatus.NUMBER_PENDING).count(),
    )
    for invoice in invoices:
        if invoice.status == InvoiceStatus.VOIDED:
            report.voided.add(invoice)
        else:
            (report.b2b if invoice.is_b2b else report.b2c).add(invoice)
    report.b2c_401_sales_twd, report.b2c_401_tax_twd = b2c_tax_backed_out(report.b2c.total_twd)
    for allowance in allowances:
        if allowance.voided_at is None:
            (report.allowances_b2b if allowance.invoice.is_b2b else report.allowances_b2c).add(allowance)
    for message in report.messages:
        state = upload_state(message, today)
        report.upload_counts[state] = report.upload_counts.get(state, 0) + 1
    return report


# ---- CSV ----------------------------------------------------------------------------------------


def _day(moment) -> str:
    return local_date(moment).isoformat() if moment else ""


def _uploads(messages, today: date) -> str:
    states = dict(UploadState.choices)
    return "; ".join(
        f"{message.kind} {states[upload_state(message, today)]} ({_('due')} {message.due_on.isoformat()})"
        for message in messages
    )


def _kind(invoice: Invoice) -> str:
    return "B2B" if invoice.is_b2b else "B2C"


def write_csv(report: PeriodReport, stream) -> None:
    """The report as one CSV table; its first column says what each row is (invoice, allowance, blank, total)."""
    writer = csv.writer(stream)
    writer.writerow(
        [
            _("section"),
            _("number"),
            _("date"),
            _("buyer identifier"),
            _("buyer"),
            _("B2B/B2C"),
            _("sales amount (NT$)"),
            _("tax (NT$)"),
            _("total (NT$)"),
            _("status"),
            _("voided on"),
            _("original invoice"),
            _("reason"),
            _("count"),
            _("upload"),
        ]
    )
    for invoice in report.invoices:
        buyer = invoice.buyer
        writer.writerow(
            [
                _("invoice"),
                invoice.number,
                _day(invoice.issued_at),
                buyer.get("identifier", ""),
                buyer.get("name", ""),
                _kind(invoice),
                invoice.sales_twd,
                invoice.tax_twd,
                invoice.total_twd,
                invoice.get_status_display(),
                _day(invoice.voided_at),
                "",
                invoice.void_reason,
                1,
                _uploads(invoice.messages.all(), report.today),
            ]
        )
    for allowance in report.allowances:
        invoice = allowance.invoice
        writer.writerow(
            [
                _("allowance"),
                allowance.number,
                _day(allowance.created_at),
                invoice.buyer.get("identifier", ""),
                invoice.buyer.get("name", ""),
                _kind(invoice),
                allowance.sales_twd,
                allowance.tax_twd,
                allowance.total_twd,
                _("Voided") if allowance.voided_at else _("Issued"),
                _day(allowance.voided_at),
                invoice.number,
                allowance.void_reason or allowance.reason,
                1,
                _uploads(allowance.messages.all(), report.today),
            ]
        )
    blank_status = _("reported") if report.closing else _("not reported: the period is not closed")
    for run in report.blanks:
        number = f"{run.prefix}{run.first_number:08d}–{run.prefix}{run.last_number:08d}"
        writer.writerow([_("blank"), number, "", "", "", "", 0, 0, 0, blank_status, "", "", "", run.count, ""])
    totals = [
        (_("B2B invoices"), report.b2b.count, report.b2b.sales_twd, report.b2b.tax_twd, report.b2b.total_twd),
        (
            _("B2C invoices (401: tax backed out of the period total once)"),
            report.b2c.count,
            report.b2c_401_sales_twd,
            report.b2c_401_tax_twd,
            report.b2c.total_twd,
        ),
        (_("all invoices, voids left out"), report.b2b.count + report.b2c.count, "", "", report.total_twd),
        (_("voided invoices (not counted)"), report.voided.count, "", "", report.voided.total_twd),
        (
            _("B2B allowances"),
            report.allowances_b2b.count,
            report.allowances_b2b.sales_twd,
            report.allowances_b2b.tax_twd,
            report.allowances_b2b.total_twd,
        ),
        (
            _("B2C allowances"),
            report.allowances_b2c.count,
            report.allowances_b2c.sales_twd,
            report.allowances_b2c.tax_twd,
            report.allowances_b2c.total_twd,
        ),
        (_("blank numbers"), report.blank_count, "", "", ""),
    ]
    for label, count, sales, tax, total in totals:
        writer.writerow([_("total"), label, "", "", "", "", sales, tax, total, "", "", "", "", count, ""])
