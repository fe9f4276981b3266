"""Issuing e-invoices for charges, numbering the pending ones, and correcting them (void or allowance).

Every function owns its transaction and leaves an audit record. Rules: SPEC §4 and
shared/reference/domain-facts.md §4 (periods, 字軌, B2C/B2B, void in the period, allowance later).
"""

import secrets
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import advisory_xact_lock, audit_entry, audit_record, audit_records_save, move_status, snapshot
from accounts.bulk import create_rows
from accounts.errors import ServiceError
from accounts.money import round_half_up_twd, tax_rate
from accounts.notices import language_for_address, send_in_language
from accounts.periods import local_date
from invoices.carriers import CITIZEN_CERTIFICATE_TYPE, MOBILE_BARCODE_TYPE, member_carrier_type
from invoices.deadlines import filing_deadline, period_of
from invoices.models import (
    Allowance,
    EInvoiceProfile,
    Invoice,
    InvoiceNumberRange,
    InvoiceStatus,
    ProfileKind,
    live_allowances,
)
from invoices.services import ALLOWANCE_LOCK_NAMESPACE
from invoices.uploads import (
    allowance_message,
    allowance_void_message,
    issue_message,
    messages_record,
    void_message,
)
from payments.models import Charge, ChargeStatus, Refund

B2C_BUYER_IDENTIFIER = "0000000000"
CARRIER_TYPES = {
    ProfileKind.MOBILE_BARCODE: MOBILE_BARCODE_TYPE,
    ProfileKind.CITIZEN_CERTIFICATE: CITIZEN_CERTIFICATE_TYPE,
}
INVOICE_FIELDS = ("status", "period", "number", "sales_twd", "tax_twd", "total_twd", "void_reason", "voided_at")


# ---- periods and amounts ----------------------------------------------------------------------


def invoice_period(day: date) -> str:
    """The two-month period of a day as ROC year + even month: 2026-11-21 → 11512, 2026-01-05 → 11502."""
    return period_of(day)


def period_label(period: str) -> str:
    """11512 → 115年11-12月, as the 證明聯 prints it."""
    month = int(period[3:])
    return f"{int(period[:3])}年{month - 1:02d}-{month:02d}月"


def split_tax_inclusive(total_twd: int) -> tuple[int, int]:
    """A tax-inclusive amount as (sales, tax): sales = round(total / (1 + the tax rate)), tax = the rest
    (at 5%: 5238 + 262 = 5500). The 401's period total rounds the tax instead (period_report.b2c_tax_backed_out)."""
    sales = round_half_up_twd(Decimal(total_twd) / (1 + tax_rate()))
    return sales, total_twd - sales


# ---- snapshots --------------------------------------------------------------------------------


def buyer_snapshot(profile: EInvoiceProfile | None) -> dict:
    """The buyer as the invoice keeps it: later changes to the profile never reach an issued invoice."""
    if profile is None:
        return {
            "kind": "",
            "identifier": B2C_BUYER_IDENTIFIER,
            "name": "",
            "email": "",
            "carrier_type": "",
            "carrier_number": "",
            "donation_code": "",
            "ubn": "",
            "address": "",
        }
    company = profile.is_b2b
    carrier_type, carrier_number = _carrier(profile)
    return {
        "kind": profile.kind,
        "identifier": profile.ubn if company else B2C_BUYER_IDENTIFIER,
        "name": profile.company_title if company else profile.name,
        "email": profile.email,
        "carrier_type": carrier_type,
        "carrier_number": carrier_number,
        "donation_code": profile.donation_code,
        "ubn": profile.ubn,
        "address": profile.address,
    }


def _carrier(profile: EInvoiceProfile) -> tuple[str, str]:
    """(MIG CarrierType, the carrier number for CarrierId1/2), or ("", "") for an invoice with no carrier.

    The 會員載具 is the member's e-mail under the CarrierType MOF assigned to this seller; where the seller is not
    a carrier platform (a profile kept from before), the invoice has no carrier and is printed (PrintMark Y), as
    the rules allow for a buyer with no carrier, donation or 統編 (invoices/carriers.py). A company's optional
    手機條碼 is sent with the 統編 (手機條碼報核).
    """
    if profile.kind == ProfileKind.MEMBER_CARRIER:
        member_type = member_carrier_type()
        return (member_type, profile.email) if member_type else ("", "")
    if profile.kind == ProfileKind.COMPANY:
        return (MOBILE_BARCODE_TYPE, profile.carrier_number) if profile.carrier_number else ("", "")
    return CARRIER_TYPES.get(profile.kind, ""), profile.carrier_number if profile.kind in CARRIER_TYPES else ""


def seller_snapshot() -> dict:
    return {"ubn": settings.SELLER_UBN, "name": settings.SELLER_NAME, "address": settings.SELLER_ADDRESS}


def lines_snapshot(charge: Charge, plan_names: Mapping[str, str]) -> list[dict]:
    """The charge's amount lines as invoice items (tax excluded: it is the invoice's own tax amount)."""
    plan_name = plan_names.get(charge.plan_code, "")
    month = charge.period_start.strftime("%Y-%m")
    descriptions = {
        "fee": f"LINE官方帳號 {plan_name} 月費 {month}".replace("  ", " "),
        "deduction": "優惠活動代碼折抵",
        "extra_messages": "加購訊息",
    }
    items = [
        {
            "description": descriptions.get(line.get("kind"), str(line.get("kind"))),
            "quantity": 1,
            "unit_price_twd": line["amount_twd"],
            "amount_twd": line["amount_twd"],
        }
        for line in charge.lines
        if line.get("kind") != "tax" and line.get("amount_twd")
    ]
    if sum(item["amount_twd"] for item in items) != charge.net_twd:
        items = [
            {
                "description": descriptions["fee"],
                "quantity": 1,
                "unit_price_twd": charge.net_twd,
                "amount_twd": charge.net_twd,
            }
        ]
    return items


# ---- issuing ----------------------------------------------------------------------------------


def invoice_issue(
    *, charge: Charge, plan_names: Mapping[str, str] | None = None, at: datetime | None = None
) -> Invoice | None:
    """The charge's one invoice: issued with the period's next number, or number pending when none is left.

    A zero total gets no invoice (None). Calling it again returns the invoice already there.
    """
    return invoices_issue(charges=[charge], plan_names=plan_names, at=at).get(charge.pk)


def invoices_issue(
    *, charges: list[Charge], plan_names: Mapping[str, str] | None = None, at: datetime | None = None
) -> dict[int, Invoice]:
    """`invoice_issue` for many charges at once: {charge pk: its invoice} (zero totals have none).

    `plan_names` names the plans (by code) in the items' descriptions; billing, which owns the plans, gives them.

    Numbers are taken in the order the charges are given; those left without one wait as number pending.
    """
    at = at or timezone.now()
    with transaction.atomic():
        ids = [charge.pk for charge in charges]
        # Lock the charges and read their status afresh; a charge's amounts and lines never change once
        # recorded, so the rest is taken from the rows given (with their plan and account, if read).
        status = Charge.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", "status")
        status = dict(status)
        invoices = {invoice.charge_id: invoice for invoice in Invoice.objects.filter(charge_id__in=ids)}
        to_issue = [charge for charge in charges if charge.pk not in invoices and charge.total_twd > 0]
        if any(status[charge.pk] != ChargeStatus.SUCCEEDED for charge in to_issue):
            raise ServiceError(_("Only a succeeded charge gets an invoice."), code="charge_not_succeeded")
        if not to_issue:
            return invoices
        period = invoice_period(local_date(at))
        numbers = _take_numbers(period, len(to_issue))
        numbers += [None] * (len(to_issue) - len(numbers))
        profiles = EInvoiceProfile.objects.filter(account_id__in={charge.account_id for charge in to_issue})
        buyers = {profile.account_id: buyer_snapshot(profile) for profile in profiles}
        seller = seller_snapshot()
        created = create_rows(
            [
                _issued_if_numbered(
                    Invoice(
                        charge=charge,
                        period=period,
                        number=number,
                        random_code=f"{secrets.randbelow(10_000):04d}",
                        buyer=buyers.get(charge.account_id) or buyer_snapshot(None),
                        seller=seller,
                        lines=lines_snapshot(charge, plan_names or {}),
                        sales_twd=charge.net_twd,
                        tax_twd=charge.tax_twd,
                        total_twd=charge.total_twd,
                        issued_at=at if number else None,
                    )
                )
                for charge, number in zip(to_issue, numbers, strict=True)
            ]
        )
        audit_records_save(
            [
                audit_entry(
                    actor=None,
                    action="invoice.issue" if invoice.number else "invoice.number_pending",
                    obj=invoice,
                    account=invoice.charge.account,
                    after=snapshot(invoice, *INVOICE_FIELDS),
                )
                for invoice in created
            ]
        )
        messages_record([issue_message(invoice) for invoice in created if invoice.number])
        for invoice in created:
            if invoice.number:
                transaction.on_commit(lambda invoice=invoice: invoice_notice_send(invoice=invoice), robust=True)
    return invoices | {invoice.charge_id: invoice for invoice in created}


def _issued_if_numbered(invoice: Invoice) -> Invoice:
    """A new invoice starts number pending; one that got a number is issued at once."""
    if invoice.number:
        move_status(invoice, InvoiceStatus.ISSUED)
    return invoice


def invoices_issue_pending(*, at: datetime | None = None) -> int:
    """Number the current period's number-pending invoices, oldest first, while the ranges last."""
    at = at or timezone.now()
    period = invoice_period(local_date(at))
    pending = Invoice.objects.filter(status=InvoiceStatus.NUMBER_PENDING, period=period).order_by("created_at", "pk")
    issued = 0
    for pk in pending.values_list("pk", flat=True):
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().filter(pk=pk, status=InvoiceStatus.NUMBER_PENDING).first()
            if invoice is None:
                continue
            number = _take_number(period)
            if number is None:
                break
            before = snapshot(invoice, *INVOICE_FIELDS)
            move_status(invoice, InvoiceStatus.ISSUED)
            invoice.number, invoice.issued_at = number, at
            invoice.save(update_fields=["number", "status", "issued_at"])
            _audit(invoice, actor=None, action="invoice.issue", before=before)
            messages_record([issue_message(invoice)])
            transaction.on_commit(lambda invoice=invoice: invoice_notice_send(invoice=invoice), robust=True)
        issued += 1
    return issued


def _take_number(period: str) -> str | None:
    numbers = _take_numbers(period, 1)
    return numbers[0] if numbers else None


def _take_numbers(period: str, count: int) -> list[str]:
    """The period's next `count` unused numbers (fewer when the ranges run out), in order.

    Each range row used stays locked until the caller's transaction ends, so concurrent issues wait in
    line. A waiter whose range ran out meanwhile finds no row in that statement (PostgreSQL re-checks
    the locked row, not the next one), so it asks again.
    """
    numbers, misses = [], 0
    while len(numbers) < count and misses < 3:
        number_range = (
            InvoiceNumberRange.objects.select_for_update()
            .filter(period=period, next_number__lte=F("last_number"))
            .order_by("prefix", "first_number")
            .first()
        )
        if number_range is None:
            misses += 1
            continue
        taken = min(count - len(numbers), number_range.last_number - number_range.next_number + 1)
        first = number_range.next_number
        numbers += [f"{number_range.prefix}{n:08d}" for n in range(first, first + taken)]
        number_range.next_number = first + taken
        number_range.save(update_fields=["next_number"])
    return numbers


def invoice_notice_send(*, invoice: Invoice) -> int:
    """E-mail the invoice notice to the profile's address, in the language of the account's admin."""
    email = invoice.buyer.get("email")
    if not email:
        return 0
    return send_in_language(
        to=email,
        language=language_for_address(account_id=invoice.charge.account_id, email=email),
        template="emails/invoice_issued.txt",
        context={"invoice": invoice, "period": period_label(invoice.period)},
        log_as=f"invoice notice for {invoice.pk}",
    )


# ---- corrections ------------------------------------------------------------------------------


def invoice_void(*, invoice: Invoice, reason: str, actor, at: datetime | None = None) -> Invoice:
    """Void (作廢) an issued invoice until its period's filing deadline; a number-pending one at any time.

    Refused while it has an allowance not voided (void the allowances first, G0501: einvoice-compliance §5.4),
    and after the 15th of the month following its period, when the return is filed: an allowance then.
    """
    at = at or timezone.now()
    reason = _reason(reason)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status == InvoiceStatus.VOIDED:
            raise ServiceError(_("This invoice is already void."), code="already_void")
        if invoice.status == InvoiceStatus.ISSUED:
            _refuse_past_filing_deadline(invoice.period, at)
        live = list(live_allowances(invoice).values_list("number", flat=True))
        if live:
            raise ServiceError(
                _("This invoice has allowances that are not voided (%(allowances)s): void them first.")
                % {"allowances": ", ".join(live)},
                code="void_has_allowances",
            )
        before = snapshot(invoice, *INVOICE_FIELDS)
        move_status(invoice, InvoiceStatus.VOIDED)
        invoice.void_reason, invoice.voided_at = reason, at
        invoice.save(update_fields=["status", "void_reason", "voided_at"])
        _audit(invoice, actor=actor, action="invoice.void", before=before)
        if invoice.number:
            messages_record([void_message(invoice)])
    return invoice


def allowance_void(*, allowance: Allowance, reason: str, actor, at: datetime | None = None) -> Allowance:
    """Void (作廢) an allowance (G0501) until its period's filing deadline: it no longer counts against its invoice."""
    at = at or timezone.now()
    reason = _reason(reason)
    with transaction.atomic():
        # The invoice first, as every correction of it locks it: allowances are counted under its lock.
        Invoice.objects.select_for_update().filter(pk=allowance.invoice_id).first()
        allowance = Allowance.objects.select_for_update().select_related("invoice").get(pk=allowance.pk)
        if allowance.voided_at is not None:
            raise ServiceError(_("This allowance is already void."), code="allowance_already_void")
        _refuse_past_filing_deadline(allowance.period, at)
        allowance.void_reason, allowance.voided_at = reason, at
        allowance.save(update_fields=["void_reason", "voided_at"])
        audit_record(
            actor=actor,
            action="invoice.allowance_void",
            obj=allowance.invoice,
            account=allowance.invoice.charge.account,
            before={"allowance": allowance.number, "voided_at": None},
            after={"allowance": allowance.number, "voided_at": str(at), "void_reason": reason},
        )
        messages_record([allowance_void_message(allowance)])
    return allowance


def _refuse_past_filing_deadline(period: str, at: datetime) -> None:
    deadline = filing_deadline(period)
    if local_date(at) > deadline:
        raise ServiceError(
            _(
                "Period %(period)s was due for filing by %(deadline)s: it can no longer be voided"
                " (issue an allowance instead, or ask the tax office for a 專案作廢)."
            )
            % {"period": period, "deadline": deadline.isoformat()},
            code="void_past_filing_deadline",
        )


def invoice_allowance(
    *, invoice: Invoice, amount_twd: int, reason: str, actor, refund: Refund | None = None, at: datetime | None = None
) -> Allowance:
    """An allowance (折讓) of a tax-inclusive amount of an issued invoice, with its own number."""
    at = at or timezone.now()
    reason = _reason(reason)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status != InvoiceStatus.ISSUED:
            raise ServiceError(_("Only an issued invoice can get an allowance."), code="allowance_not_issued")
        given = live_allowances(invoice).aggregate(sales=Sum("sales_twd"), tax=Sum("tax_twd"), total=Sum("total_twd"))
        remaining = invoice.total_twd - (given["total"] or 0)
        if not 0 < amount_twd <= remaining:
            raise ServiceError(
                _("An allowance must be between NT$1 and the NT$%(remaining)s not yet allowed.")
                % {"remaining": f"{remaining:,}"},
                code="allowance_amount",
            )
        tax_left = invoice.tax_twd - (given["tax"] or 0)
        if amount_twd == remaining:
            sales, tax = invoice.sales_twd - (given["sales"] or 0), tax_left
        else:
            tax = min(split_tax_inclusive(amount_twd)[1], tax_left)
            sales = amount_twd - tax
        period = invoice_period(local_date(at))
        allowance = Allowance.objects.create(
            invoice=invoice,
            refund=refund,
            number=_allowance_number(period),
            period=period,
            reason=reason,
            sales_twd=sales,
            tax_twd=tax,
            total_twd=amount_twd,
            created_at=at,
        )
        audit_record(
            actor=actor,
            action="invoice.allowance",
            obj=invoice,
            account=invoice.charge.account,
            after={"allowance": allowance.number, "sales_twd": sales, "tax_twd": tax, "total_twd": amount_twd},
        )
        messages_record([allowance_message(allowance)])
    return allowance


def invoice_correct_for_refund(*, refund: Refund, actor, at: datetime | None = None) -> Invoice | Allowance | None:
    """What a refund does to the charge's invoice: a full refund in the invoice's period voids it, else an allowance.

    Calling it twice for one refund changes nothing the second time. No invoice (a zero total) → None.
    """
    at = at or timezone.now()
    invoice = Invoice.objects.filter(charge_id=refund.charge_id).first()
    if invoice is None or invoice.status == InvoiceStatus.VOIDED:
        return invoice
    existing = Allowance.objects.filter(refund=refund).first()
    if existing is not None:
        return existing
    reason = refund.reason or "退款"
    in_period = invoice.status == InvoiceStatus.NUMBER_PENDING or invoice_period(local_date(at)) == invoice.period
    if in_period and refund.amount_twd == invoice.total_twd and not live_allowances(invoice).exists():
        return invoice_void(invoice=invoice, reason=reason, actor=actor, at=at)
    return invoice_allowance(
        invoice=invoice, amount_twd=refund.amount_twd, reason=reason, actor=actor, refund=refund, at=at
    )


def _allowance_number(period: str) -> str:
    """AL + period + a 6-digit sequence of the period, e.g. AL11512000001 (MIG AllowanceNumber, ≤ 16)."""
    advisory_xact_lock(ALLOWANCE_LOCK_NAMESPACE, period)
    return f"AL{period}{Allowance.objects.filter(period=period).count() + 1:06d}"


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Give the reason for the correction."), code="reason_required")
    return reason[:200]


def _audit(invoice: Invoice, *, actor, action: str, before: dict | None = None) -> None:
    audit_record(
        actor=actor,
        action=action,
        obj=invoice,
        account=invoice.charge.account,
        before=before,
        after=snapshot(invoice, *INVOICE_FIELDS),
    )
