"""Upload deadlines (einvoice-compliance §5): calendar days from the day after the event; the reminder, once;
voids refused with a live allowance or past the period's filing deadline; G0501 (an allowance voided)."""

from datetime import date, datetime

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.errors import ServiceError
from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from invoices.deadlines import (
    blank_report_due_on,
    filing_deadline,
    next_period,
    period_end,
    period_of,
    period_start,
    upload_due_on,
)
from invoices.issuing import allowance_void, invoice_allowance, invoice_void
from invoices.models import EInvoiceMessage
from invoices.uploads import UploadState, deadline_reminders_send, messages_mark_uploaded, upload_state
from tests.factories import ChargeFactory, EInvoiceProfileFactory, InvoiceNumberRangeFactory, UserFactory
from tests.helpers import invoice_issue

JAN = datetime(2026, 1, 5, 10, 0, tzinfo=BILLING_TZ)  # period 11502


@pytest.fixture(autouse=True)
def seller(settings):
    settings.SELLER_UBN, settings.SELLER_NAME, settings.SELLER_ADDRESS = "22099131", "示範數位服務股份有限公司", "臺北"


@pytest.mark.parametrize(
    ("event", "b2b", "due"),
    [
        (date(2026, 3, 10), False, date(2026, 3, 12)),  # the reference's worked example
        (date(2026, 3, 10), True, date(2026, 3, 17)),
        (date(2026, 1, 30), False, date(2026, 2, 1)),  # across a month's end (a Friday: due on Sunday)
        (date(2026, 2, 27), True, date(2026, 3, 6)),  # across February's end
        (date(2026, 12, 31), False, date(2027, 1, 2)),  # across the year's end
        (date(2026, 3, 13), False, date(2026, 3, 15)),  # a Friday: the weekend is not skipped
        (date(2026, 3, 14), True, date(2026, 3, 21)),  # a Saturday
    ],
)
def test_upload_deadlines_count_calendar_days_from_the_day_after(event, b2b, due):
    assert upload_due_on(event, b2b=b2b) == due


@pytest.mark.parametrize(
    ("period", "start", "end", "blanks_due", "filing", "following"),
    [
        ("11502", date(2026, 1, 1), date(2026, 2, 28), date(2026, 3, 10), date(2026, 3, 15), "11504"),
        ("11312", date(2024, 11, 1), date(2024, 12, 31), date(2025, 1, 10), date(2025, 1, 15), "11402"),
        ("11302", date(2024, 1, 1), date(2024, 2, 29), date(2024, 3, 10), date(2024, 3, 15), "11304"),
    ],
)
def test_a_periods_days_and_deadlines(period, start, end, blanks_due, filing, following):
    assert (period_start(period), period_end(period)) == (start, end)
    assert blank_report_due_on(period) == blanks_due
    assert filing_deadline(period) == filing
    assert next_period(period) == following
    assert period_of(end) == period


@pytest.fixture(autouse=True)
def number_range(db):
    return InvoiceNumberRangeFactory(period="11502", prefix="AB", first_number=1, last_number=50)


def issued(*, b2b=False, at=JAN):
    kind = {"kind": "company", "company_title": "好公司", "ubn": "22099131", "address": "台北"} if b2b else {}
    account = EInvoiceProfileFactory(**kind).account
    return invoice_issue(charge=ChargeFactory(account=account), at=at)


@pytest.mark.django_db
def test_each_event_records_its_message_with_its_deadline():
    # given a B2B invoice issued on 01-05
    invoice = issued(b2b=True)
    # when it gets an allowance on 02-27 (a Friday), which is voided on 02-28, and then the invoice is voided
    allowance = invoice_allowance(
        invoice=invoice, amount_twd=105, reason="折讓", actor=None, at=datetime(2026, 2, 27, 23, 0, tzinfo=BILLING_TZ)
    )
    allowance_void(allowance=allowance, reason="誤開", actor=None, at=datetime(2026, 2, 28, 9, 0, tzinfo=BILLING_TZ))
    invoice_void(invoice=invoice, reason="取消", actor=None, at=datetime(2026, 3, 2, 9, 0, tzinfo=BILLING_TZ))
    # then one message each, due 7 calendar days after its own day
    rows = EInvoiceMessage.objects.order_by("event_at").values_list("kind", "subject", "period", "due_on")
    assert list(rows) == [
        ("F0401", invoice.number, "11502", date(2026, 1, 12)),
        ("G0401", allowance.number, "11502", date(2026, 3, 6)),
        ("G0501", allowance.number, "11502", date(2026, 3, 7)),
        ("F0501", invoice.number, "11502", date(2026, 3, 9)),
    ]


@pytest.mark.django_db
def test_a_void_is_refused_while_an_allowance_lives_then_allowed_once_it_is_voided():
    # given an invoice with an allowance
    invoice = issued()
    allowance = invoice_allowance(invoice=invoice, amount_twd=100, reason="折讓", actor=None, at=JAN)
    records = AuditRecord.objects.count()
    # when voided
    with pytest.raises(ServiceError) as caught:
        invoice_void(invoice=invoice, reason="取消", actor=None, at=JAN)
    # then refused, with the allowance named, and nothing changed
    assert caught.value.code == "void_has_allowances"
    assert allowance.number in str(caught.value.message)
    invoice.refresh_from_db()
    assert (invoice.status, AuditRecord.objects.count()) == ("issued", records)
    # when the allowance is voided first (G0501), then the invoice
    allowance_void(allowance=allowance, reason="誤開", actor=None, at=JAN)
    invoice_void(invoice=invoice, reason="取消", actor=None, at=JAN)
    # then both are void, each audited
    invoice.refresh_from_db()
    allowance.refresh_from_db()
    assert (invoice.status, allowance.void_reason) == ("voided", "誤開")
    assert AuditRecord.objects.filter(action__in=["invoice.allowance_void", "invoice.void"]).count() == 2


@pytest.mark.django_db
def test_a_voided_allowance_no_longer_counts_against_its_invoice():
    # given an NT$840 invoice allowed in full, then the allowance voided
    invoice = issued()
    allowance = invoice_allowance(invoice=invoice, amount_twd=840, reason="全額折讓", actor=None, at=JAN)
    allowance_void(allowance=allowance, reason="誤開", actor=None, at=JAN)
    # when another allowance is made
    again = invoice_allowance(invoice=invoice, amount_twd=840, reason="再折讓", actor=None, at=JAN)
    # then the full amount is available again
    assert (again.sales_twd, again.tax_twd) == (800, 40)


@pytest.mark.django_db
def test_voids_are_allowed_to_the_filing_deadline_and_refused_after_it():
    # given two invoices of 11502, whose return is due by 2026-03-15
    first, second = issued(), issued()
    last_day = datetime(2026, 3, 15, 23, 59, tzinfo=BILLING_TZ)
    day_after = datetime(2026, 3, 16, 0, 0, tzinfo=BILLING_TZ)
    # when one is voided on the last day, the other the day after
    invoice_void(invoice=first, reason="取消", actor=None, at=last_day)
    with pytest.raises(ServiceError) as caught:
        invoice_void(invoice=second, reason="取消", actor=None, at=day_after)
    # then the first is void, the second refused with the deadline in the reason
    assert caught.value.code == "void_past_filing_deadline"
    assert "2026-03-15" in str(caught.value.message)
    second.refresh_from_db()
    assert second.status == "issued"
    assert not EInvoiceMessage.objects.filter(kind="F0501", subject=second.number).exists()


@pytest.mark.django_db
def test_an_allowance_void_past_its_filing_deadline_or_twice_is_refused():
    invoice = issued()
    allowance = invoice_allowance(invoice=invoice, amount_twd=100, reason="折讓", actor=None, at=JAN)
    with pytest.raises(ServiceError) as late:
        allowance_void(
            allowance=allowance, reason="誤開", actor=None, at=datetime(2026, 3, 16, 8, 0, tzinfo=BILLING_TZ)
        )
    allowance_void(allowance=allowance, reason="誤開", actor=None, at=JAN)
    with pytest.raises(ServiceError) as twice:
        allowance_void(allowance=allowance, reason="誤開", actor=None, at=JAN)
    assert (late.value.code, twice.value.code) == ("void_past_filing_deadline", "allowance_already_void")
    assert EInvoiceMessage.objects.filter(kind="G0501").count() == 1


# ---- where an upload stands, and staff's confirmation --------------------------------------------


@pytest.mark.django_db
def test_upload_states_and_the_confirmation_after_export(tmp_path):
    # given a B2C invoice of 01-05, due 01-07
    invoice = issued()
    message = EInvoiceMessage.objects.get(invoice=invoice)
    staff = UserFactory(is_staff=True)
    # then it is due to the 7th and late from the 8th
    assert upload_state(message, date(2026, 1, 7)) == UploadState.DUE
    assert upload_state(message, date(2026, 1, 8)) == UploadState.LATE
    # when staff confirm it before it was exported: refused
    with pytest.raises(ServiceError) as caught:
        messages_mark_uploaded(message_ids=[message.pk], actor=staff)
    assert caught.value.code == "message_not_exported"
    # when it is exported on the 6th and confirmed on the 7th, late in the evening (Taipei)
    call_command("export_einvoices", "--period", "11502", "--out", str(tmp_path))
    confirmed = messages_mark_uploaded(
        message_ids=[message.pk], actor=staff, at=datetime(2026, 1, 7, 23, 30, tzinfo=BILLING_TZ)
    )
    again = messages_mark_uploaded(message_ids=[message.pk], actor=staff)
    # then it is uploaded in time, confirmed once and audited
    message.refresh_from_db()
    assert (confirmed, again) == (1, 0)
    assert upload_state(message, date(2026, 3, 1)) == UploadState.UPLOADED
    assert message.uploaded_by == staff
    assert AuditRecord.objects.filter(action="einvoice_message.uploaded", actor=staff).count() == 1
    assert EInvoiceMessage.objects.filter(pk=message.pk, uploaded_at__date__lte=date(2026, 1, 7)).exists()


# ---- the reminder, once ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_are_reminded_the_day_before_once_per_message(settings, django_capture_on_commit_callbacks):
    # given a B2C invoice of Friday 01-30, due Sunday 02-01, and a B2B one of the same day, due 02-06
    settings.EINVOICE_REMINDER_EMAILS = []
    UserFactory(is_staff=True, email="staff@example.tw")
    UserFactory(is_staff=False, email="someone@example.tw")
    friday = datetime(2026, 1, 30, 15, 0, tzinfo=BILLING_TZ)
    b2c, b2b = issued(at=friday), issued(b2b=True, at=friday)
    # when the command runs on Friday, twice on Saturday, and on Sunday
    with django_capture_on_commit_callbacks(execute=True):
        on_friday = deadline_reminders_send(as_of=friday)
        saturday = datetime(2026, 1, 31, 9, 0, tzinfo=BILLING_TZ)
        first = deadline_reminders_send(as_of=saturday)
        second = deadline_reminders_send(as_of=saturday)
        sunday = deadline_reminders_send(as_of=datetime(2026, 2, 1, 9, 0, tzinfo=BILLING_TZ))
    # then Saturday's first run alone reminds staff, of the B2C invoice only, in one e-mail
    assert [len(t.messages) for t in (on_friday, first, second, sunday)] == [0, 1, 0, 0]
    assert [str(m) for m in first.messages] == [f"F0401 {b2c.number}"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["staff@example.tw"]
    assert b2c.number in mail.outbox[0].body
    assert b2b.number not in mail.outbox[0].body
    assert "2026-02-01" in mail.outbox[0].body
    # with the address of the admin's list of messages, whole (a mail client opens no relative link)
    assert f"{settings.SITE_URL}/admin/invoices/einvoicemessage/" in mail.outbox[0].body


@pytest.mark.django_db
def test_an_uploaded_message_is_not_reminded_and_the_setting_names_the_recipients(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EINVOICE_REMINDER_EMAILS = ["books@example.tw", "ops@example.tw"]
    uploaded, waiting = issued(), issued()
    call_command("export_einvoices", "--period", "11502", "--out", str(tmp_path))
    messages_mark_uploaded(message_ids=[uploaded.messages.get().pk], actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_einvoice_deadline_reminders", "--as-of", "2026-01-06T09:00")
    assert [m.to for m in mail.outbox] == [["books@example.tw", "ops@example.tw"]]
    assert waiting.number in mail.outbox[0].body
    assert uploaded.number not in mail.outbox[0].body


@pytest.mark.django_db
def test_a_dry_run_reminds_no_one(capsys):
    invoice = issued()
    call_command("send_einvoice_deadline_reminders", "--as-of", "2026-01-06T09:00", "--dry-run")
    assert f"would remind of F0401 {invoice.number} (due 2026-01-07)" in capsys.readouterr().out
    assert EInvoiceMessage.objects.get().reminded_at is None
    assert mail.outbox == []
