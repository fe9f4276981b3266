"""The MIG messages owed to the platform: recorded with their deadline, exported, confirmed uploaded, reminded.

A message row is made in the transaction of the event it reports (issue, void, allowance, allowance void,
period closed; invoices.issuing and invoices.closing), so what is due is known before anything is exported.
Deadlines: invoices.deadlines. A message is pending until its first export (written); staff confirm its upload
in the admin once the platform accepted it, or read_turnkey_results marks it from Turnkey's folders
(invoices.turnkey): uploaded either way, or rejected by Turnkey. Every change is audited, and every change of
state goes through the model's TRANSITIONS (move_statuses).
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_entry, audit_records_save, move_status, move_statuses
from accounts.bulk import create_rows
from accounts.errors import ServiceError
from accounts.periods import local_date
from invoices.deadlines import blank_report_due_on, upload_due_on
from invoices.models import Allowance, EInvoiceMessage, Invoice, MessageKind, MessageStatus, PeriodClosing

logger = logging.getLogger(__name__)

REMIND_DAYS_BEFORE = 1


class UploadState(models.TextChoices):
    DUE = "due", _("Due")
    LATE = "late", _("Late, not uploaded")
    UPLOADED = "uploaded", _("Uploaded in time")
    UPLOADED_LATE = "uploaded_late", _("Uploaded late")


def upload_state(message: EInvoiceMessage, today: date) -> str:
    if message.uploaded_at is None:
        return UploadState.DUE if today <= message.due_on else UploadState.LATE
    return UploadState.UPLOADED if local_date(message.uploaded_at) <= message.due_on else UploadState.UPLOADED_LATE


def upload_state_filter(state: str, today: date, prefix: str = "") -> Q:
    """The messages in `state` on `today`, as a filter (`prefix` "messages__" filters their invoices)."""
    waiting = Q(**{f"{prefix}uploaded_at__isnull": True})
    if state == UploadState.DUE:
        return waiting & Q(**{f"{prefix}due_on__gte": today})
    if state == UploadState.LATE:
        return waiting & Q(**{f"{prefix}due_on__lt": today})
    # A message confirmed on its last day is in time: compare the local day it was confirmed with the deadline.
    in_time = Q(**{f"{prefix}uploaded_at__date__lte": models.F(f"{prefix}due_on")})
    if state == UploadState.UPLOADED:
        return ~waiting & in_time
    return ~waiting & ~in_time


# ---- recording, with the event ------------------------------------------------------------------


def _message(kind: str, *, period: str, subject: str, at: datetime, b2b: bool, **links) -> EInvoiceMessage:
    return EInvoiceMessage(
        kind=kind,
        period=period,
        subject=subject,
        event_at=at,
        due_on=upload_due_on(local_date(at), b2b=b2b),
        **links,
    )


def issue_message(invoice: Invoice) -> EInvoiceMessage:
    return _message(
        MessageKind.F0401,
        period=invoice.period,
        subject=invoice.number,
        at=invoice.issued_at,
        b2b=invoice.is_b2b,
        invoice=invoice,
    )


def void_message(invoice: Invoice) -> EInvoiceMessage:
    return _message(
        MessageKind.F0501,
        period=invoice.period,
        subject=invoice.number,
        at=invoice.voided_at,
        b2b=invoice.is_b2b,
        invoice=invoice,
    )


def allowance_message(allowance: Allowance) -> EInvoiceMessage:
    return _message(
        MessageKind.G0401,
        period=allowance.period,
        subject=allowance.number,
        at=allowance.created_at,
        b2b=allowance.invoice.is_b2b,
        invoice=allowance.invoice,
        allowance=allowance,
    )


def allowance_void_message(allowance: Allowance) -> EInvoiceMessage:
    return _message(
        MessageKind.G0501,
        period=allowance.period,
        subject=allowance.number,
        at=allowance.voided_at,
        b2b=allowance.invoice.is_b2b,
        invoice=allowance.invoice,
        allowance=allowance,
    )


def blank_message(closing: PeriodClosing, *, invoice_type: str, prefix: str) -> EInvoiceMessage:
    return EInvoiceMessage(
        kind=MessageKind.E0402,
        period=closing.period,
        subject=f"{invoice_type}{prefix}",
        closing=closing,
        event_at=closing.closed_at,
        due_on=blank_report_due_on(closing.period),
    )


def messages_record(messages: list[EInvoiceMessage]) -> None:
    """Save the messages of an event, in the caller's transaction (its audit record tells of the event)."""
    create_rows(messages)


# ---- exported, confirmed ------------------------------------------------------------------------


def messages_mark_exported(*, messages: list[EInvoiceMessage], at: datetime) -> int:
    """Record the first export of each message: pending → written (a later export of the same message keeps the
    first time and its state)."""
    first = [message for message in messages if message.exported_at is None]
    if not first:
        return 0
    with transaction.atomic():
        pending = EInvoiceMessage.objects.filter(pk__in=[m.pk for m in first], status=MessageStatus.PENDING)
        ids = list(pending.select_for_update().values_list("pk", flat=True))
        move_statuses(
            EInvoiceMessage.objects.filter(pk__in=ids),
            from_statuses=[MessageStatus.PENDING],
            to_status=MessageStatus.WRITTEN,
            exported_at=at,
        )
        audit_records_save(
            [
                audit_entry(
                    actor=None,
                    action="einvoice_message.export",
                    obj=message,
                    before={"status": MessageStatus.PENDING},
                    after={"status": MessageStatus.WRITTEN, "exported_at": str(at)},
                )
                for message in first
                if message.pk in ids
            ]
        )
    for message in first:
        if message.pk in ids:  # the rows in memory as the UPDATE left them
            move_status(message, MessageStatus.WRITTEN)
            message.exported_at = at
    return len(ids)


def messages_mark_uploaded(*, message_ids: list[int], actor, at: datetime | None = None) -> int:
    """Staff confirm that the platform accepted these messages (written, or refused by Turnkey and sent another
    way): → uploaded, as Turnkey's BAK folder would make them. Refused (nothing changes) when one was never
    exported; one already uploaded keeps its first confirmation. Returns how many were confirmed now."""
    at = at or timezone.now()
    with transaction.atomic():
        rows = list(EInvoiceMessage.objects.select_for_update().filter(pk__in=message_ids).order_by("pk"))
        not_exported = [str(message) for message in rows if message.status == MessageStatus.PENDING]
        if not_exported:
            raise ServiceError(
                _("Export these messages before confirming their upload: %(messages)s.")
                % {"messages": ", ".join(not_exported)},
                code="message_not_exported",
            )
        confirmed = [message for message in rows if message.status != MessageStatus.UPLOADED]
        move_statuses(
            EInvoiceMessage.objects.filter(pk__in=[m.pk for m in confirmed]),
            from_statuses=[MessageStatus.WRITTEN, MessageStatus.REJECTED],
            to_status=MessageStatus.UPLOADED,
            uploaded_at=at,
            uploaded_by=actor,
        )
        audit_records_save(
            [
                audit_entry(
                    actor=actor,
                    action="einvoice_message.uploaded",
                    obj=message,
                    before={"status": message.status, "uploaded_at": None},
                    after={"status": MessageStatus.UPLOADED, "uploaded_at": str(at)},
                )
                for message in confirmed
            ]
        )
    return len(confirmed)


# ---- reminders ----------------------------------------------------------------------------------


@dataclass
class ReminderTotals:
    messages: list = field(default_factory=list)  # the messages reminded of (or, dry run, that would be)
    recipients: list = field(default_factory=list)
    sent: int = 0


def reminder_recipients() -> list[str]:
    """EINVOICE_REMINDER_EMAILS when set; else every active staff user with an e-mail address."""
    if settings.EINVOICE_REMINDER_EMAILS:
        return list(settings.EINVOICE_REMINDER_EMAILS)
    users = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def deadline_reminders_send(*, as_of: datetime, dry_run: bool = False) -> ReminderTotals:
    """E-mail staff, once per message, the messages not yet uploaded whose last day is tomorrow (or today, for a
    run that missed the day before). Each message is marked reminded before the e-mail leaves, under its row
    lock (rows another run holds are skipped), so reruns and several hosts remind of each message once."""
    today = local_date(as_of)
    totals = ReminderTotals(recipients=reminder_recipients())
    due = EInvoiceMessage.objects.filter(
        uploaded_at__isnull=True,
        reminded_at__isnull=True,
        due_on__gte=today,
        due_on__lte=today + timedelta(days=REMIND_DAYS_BEFORE),
    ).order_by("due_on", "kind", "subject")
    if dry_run:
        totals.messages = list(due)
        return totals
    if not totals.recipients:
        logger.warning("e-invoice deadline reminders: no staff e-mail address (set EINVOICE_REMINDER_EMAILS)")
        return totals
    with transaction.atomic():
        messages = list(due.select_for_update(skip_locked=True))
        EInvoiceMessage.objects.filter(pk__in=[m.pk for m in messages]).update(reminded_at=as_of)
        if messages:
            transaction.on_commit(lambda: _remind(messages, totals, today))
    totals.messages = messages
    return totals


def _remind(messages: list[EInvoiceMessage], totals: ReminderTotals, today: date) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        text = render_to_string("emails/einvoice_deadline.txt", {"messages": messages, "today": today})
    subject, _blank, body = text.strip().partition("\n")
    try:
        totals.sent = send_mail(subject.strip(), body.strip() + "\n", None, totals.recipients)
    except Exception:  # noqa: BLE001 - the reminder is recorded; a mail server down is logged, not raised
        logger.exception("e-invoice deadline reminder not sent")
