"""Closing a two-month period: its blank numbers (空白未使用字軌, E0402) fixed once and its ranges closed for good.

Blank numbers are computed from the ranges staff registered and the invoices numbered from them: each range's
numbers that no invoice holds, as maximal runs (a range never touched is one run, whole). A voided invoice's
number is used, not blank (einvoice-compliance §1.4). One E0402 is owed per invoice type and 字軌 with blanks,
by the 10th of the next odd month.

The guard in the database: numbers are only ever taken at a range's cursor, and closing moves every range's
cursor past its end, where the constraint `range_closed_cursor_past_end` holds it for as long as the range is
closed. An issue that waited on a range's lock while the period closed finds no number left and leaves its
invoice number pending, as when the ranges run out. Closing again with the same blanks changes nothing;
with other blanks (a range added behind the service's back) it is refused.
"""

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import advisory_xact_lock, audit_entry, audit_record, audit_records_save
from accounts.errors import ServiceError
from accounts.periods import local_date
from invoices.deadlines import next_period_start
from invoices.models import (
    INVOICE_TYPE_GENERAL,
    BlankRun,
    Invoice,
    InvoiceNumberRange,
    InvoiceStatus,
    PeriodClosing,
)
from invoices.services import PERIOD_CLOSE_LOCK_NAMESPACE
from invoices.uploads import blank_message, messages_record
from invoices.validators import validate_invoice_period


def period_blanks(period: str, ranges: list[InvoiceNumberRange] | None = None) -> list[BlankRun]:
    """The period's blank runs (unsaved), per range in 字軌 and number order."""
    if ranges is None:
        ranges = list(InvoiceNumberRange.objects.filter(period=period).order_by("prefix", "first_number"))
    runs = []
    for number_range in ranges:
        prefix, first, last = number_range.prefix, number_range.first_number, number_range.last_number
        used = Invoice.objects.filter(
            number__startswith=prefix, number__gte=f"{prefix}{first:08d}", number__lte=f"{prefix}{last:08d}"
        )
        cursor = first
        for number in sorted(int(number[2:]) for number in used.values_list("number", flat=True)):
            if number > cursor:
                runs.append(_run(number_range, cursor, number - 1))
            cursor = number + 1
        if cursor <= last:
            runs.append(_run(number_range, cursor, last))
    return runs


def _run(number_range: InvoiceNumberRange, first: int, last: int) -> BlankRun:
    return BlankRun(
        number_range=number_range,
        invoice_type=INVOICE_TYPE_GENERAL,
        prefix=number_range.prefix,
        first_number=first,
        last_number=last,
    )


def invoice_period_close(*, period: str, actor, at: datetime | None = None) -> tuple[PeriodClosing, bool]:
    """Close a period that has ended: record its blank runs and their E0402 messages, close its ranges.

    Returns (the closing, whether this call closed it). Refused (ServiceError) before the period ends, while
    an invoice of the period waits for a number, and when it was closed before with other blanks.
    """
    at = at or timezone.now()
    try:
        validate_invoice_period(period)
    except ValidationError as error:
        raise ServiceError(error.messages[0], code="period_invalid") from None
    opens = next_period_start(period)
    if local_date(at) < opens:
        raise ServiceError(
            _("Period %(period)s can be closed from %(date)s, once it has ended.")
            % {"period": period, "date": opens.isoformat()},
            code="period_not_ended",
        )
    with transaction.atomic():
        advisory_xact_lock(PERIOD_CLOSE_LOCK_NAMESPACE, period)
        # In the order issues take them, so a close and an issue never wait for each other in a circle.
        ranges = list(
            InvoiceNumberRange.objects.select_for_update().filter(period=period).order_by("prefix", "first_number")
        )
        blanks = period_blanks(period, ranges)
        closing = PeriodClosing.objects.filter(period=period).first()
        if closing is not None:
            reported = sorted(run.as_tuple() for run in closing.blank_runs.all())
            if reported != sorted(run.as_tuple() for run in blanks):
                raise ServiceError(
                    _(
                        "Period %(period)s was closed on %(date)s with other blank numbers: a closed period's"
                        " blanks cannot change."
                    )
                    % {"period": period, "date": local_date(closing.closed_at).isoformat()},
                    code="period_closed_with_other_blanks",
                )
            return closing, False
        pending = Invoice.objects.filter(period=period, status=InvoiceStatus.NUMBER_PENDING).count()
        if pending:
            raise ServiceError(
                _(
                    "%(count)s invoice(s) of period %(period)s still wait for a number: void them or number them"
                    " before closing the period."
                )
                % {"count": pending, "period": period},
                code="period_has_pending",
            )
        closed_by = actor if getattr(actor, "is_authenticated", False) else None
        closing = PeriodClosing.objects.create(
            period=period, seller_ubn=settings.SELLER_UBN, closed_at=at, closed_by=closed_by
        )
        for run in blanks:
            run.closing = closing
        BlankRun.objects.bulk_create(blanks)
        entries = []
        for number_range in ranges:
            before = number_range.next_number
            number_range.next_number, number_range.closed_at = number_range.last_number + 1, at
            number_range.save(update_fields=["next_number", "closed_at"])
            entries.append(
                audit_entry(
                    actor=actor,
                    action="invoice_number_range.close",
                    obj=number_range,
                    before={"next_number": before, "closed_at": None},
                    after={"next_number": number_range.next_number, "closed_at": str(at)},
                )
            )
        audit_records_save(entries)
        audit_record(
            actor=actor,
            action="invoice_period.close",
            obj=closing,
            after={"blanks": [str(run) for run in blanks]},
        )
        tracks = dict.fromkeys((run.invoice_type, run.prefix) for run in blanks)
        messages_record([blank_message(closing, invoice_type=kind, prefix=prefix) for kind, prefix in tracks])
    return closing, True
