"""Closing a period (einvoice-compliance §1): blank runs from used, partly used and untouched ranges, the E0402
messages, the database's guard that a number reported blank is never issued, and closing once."""

import xml.etree.ElementTree as ET
from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from accounts.errors import ServiceError
from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from invoices.closing import invoice_period_close, period_blanks
from invoices.issuing import invoice_void
from invoices.models import BlankRun, EInvoiceMessage, Invoice, InvoiceNumberRange, PeriodClosing
from invoices.services import invoice_number_range_create
from tests.concurrency import run_at_once
from tests.factories import ChargeFactory, EInvoiceProfileFactory, InvoiceFactory, InvoiceNumberRangeFactory
from tests.helpers import invoice_issue

JAN = datetime(2026, 1, 5, 10, 0, tzinfo=BILLING_TZ)  # period 11502
MARCH = datetime(2026, 3, 1, 0, 5, tzinfo=BILLING_TZ)  # period 11504: 11502 has ended
SELLER_UBN = "22099131"


@pytest.fixture(autouse=True)
def seller(settings):
    settings.SELLER_UBN, settings.SELLER_NAME, settings.SELLER_ADDRESS = SELLER_UBN, "示範數位服務股份有限公司", "臺北"


def issue(count: int, at=JAN) -> list[Invoice]:
    account = EInvoiceProfileFactory().account
    return [invoice_issue(charge=ChargeFactory(account=account), at=at) for _ in range(count)]


def ranges():
    """AB 1–10 used up, AB 11–20 partly used (3 of 10), AC 1–5 never touched; 11504's own range apart."""
    used = InvoiceNumberRangeFactory(period="11502", prefix="AB", first_number=1, last_number=10)
    partly = InvoiceNumberRangeFactory(period="11502", prefix="AB", first_number=11, last_number=20)
    untouched = InvoiceNumberRangeFactory(period="11502", prefix="AC", first_number=1, last_number=5)
    following = InvoiceNumberRangeFactory(period="11504", prefix="AD", first_number=1, last_number=50)
    return used, partly, untouched, following


def runs(closing) -> list[str]:
    return [str(run) for run in closing.blank_runs.order_by("prefix", "first_number")]


@pytest.mark.django_db
def test_a_period_with_used_partly_used_and_untouched_ranges_reports_their_blanks():
    # given 13 invoices of 11502, one of them voided
    used, partly, untouched, following = ranges()
    invoices = issue(13)
    invoice_void(invoice=invoices[4], reason="取消", actor=None, at=JAN)
    # when the period is closed in March
    closing, closed_now = invoice_period_close(period="11502", actor=None, at=MARCH)
    # then the partly used range's tail and the untouched range are blank; the voided number is used
    assert closed_now
    assert runs(closing) == ["AB00000014–AB00000020", "AC00000001–AC00000005"]
    assert [run.count for run in closing.blank_runs.order_by("prefix")] == [7, 5]
    assert closing.seller_ubn == SELLER_UBN
    # and every range of the period is closed, its cursor past its end; the next period's is not touched
    for number_range in (used, partly, untouched):
        number_range.refresh_from_db()
        assert (number_range.next_number, number_range.closed_at) == (number_range.last_number + 1, MARCH)
    following.refresh_from_db()
    assert (following.next_number, following.closed_at) == (1, None)
    # and one E0402 per 字軌 with blanks, due on 03-10, the closing audited
    e0402 = EInvoiceMessage.objects.filter(kind="E0402").values_list("subject", "due_on")
    assert sorted(e0402) == [("07AB", date(2026, 3, 10)), ("07AC", date(2026, 3, 10))]
    assert AuditRecord.objects.filter(action="invoice_period.close").count() == 1
    assert AuditRecord.objects.filter(action="invoice_number_range.close").count() == 3


@pytest.mark.django_db
def test_a_gap_inside_a_range_is_a_blank_run_of_its_own():
    # given a range whose numbers 3 and 4 no invoice holds (a gap the product never makes, but one may import)
    number_range = InvoiceNumberRangeFactory(period="11502", prefix="AB", first_number=1, last_number=8)
    for number in (1, 2, 5, 6):
        InvoiceFactory(number=f"AB{number:08d}")
    InvoiceFactory(number="AC00000003")  # another 字軌's number 3 does not fill the gap
    # when the blanks are computed
    blanks = period_blanks("11502")
    # then the gap and the tail are two runs
    assert [str(run) for run in blanks] == ["AB00000003–AB00000004", "AB00000007–AB00000008"]
    assert {run.number_range_id for run in blanks} == {number_range.pk}


@pytest.mark.django_db
def test_a_number_reported_blank_is_never_issued_afterwards():
    # given 11502 closed with AB 14–20 and AC 1–5 blank
    ranges()
    issue(13)
    invoice_period_close(period="11502", actor=None, at=MARCH)
    # when an invoice is issued late with a time in 11502 (a renewal run with --as-of, say)
    late = issue(1, at=datetime(2026, 2, 28, 23, 59, tzinfo=BILLING_TZ))[0]
    # then it takes no number of the closed period: it waits, number pending
    assert (late.status, late.number, late.period) == ("pending", None, "11502")
    # and an invoice issued now takes the next period's range
    assert issue(1, at=MARCH)[0].number == "AD00000001"


@pytest.mark.django_db
def test_the_database_refuses_to_reopen_a_closed_ranges_cursor():
    # given a closed range
    ranges()
    issue(13)
    invoice_period_close(period="11502", actor=None, at=MARCH)
    partly = InvoiceNumberRange.objects.get(prefix="AB", first_number=11)
    # when anything writes its cursor back into the reported blanks, bypassing every service
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceNumberRange.objects.filter(pk=partly.pk).update(next_number=14)
    # then the constraint refused it and the cursor stays past the end
    partly.refresh_from_db()
    assert partly.next_number == 21


@pytest.mark.django_db
def test_closing_again_with_the_same_blanks_changes_nothing_and_with_other_blanks_is_refused():
    # given 11502 closed
    ranges()
    issue(13)
    closing, _ = invoice_period_close(period="11502", actor=None, at=MARCH)
    records = AuditRecord.objects.count()
    # when it is closed again
    again, closed_now = invoice_period_close(period="11502", actor=None, at=datetime(2026, 3, 5, tzinfo=BILLING_TZ))
    # then nothing changes
    assert (again.pk, closed_now, again.closed_at) == (closing.pk, False, MARCH)
    assert (BlankRun.objects.count(), EInvoiceMessage.objects.filter(kind="E0402").count()) == (2, 2)
    assert AuditRecord.objects.count() == records
    # when a range appears in the closed period behind the service's back, and the period is closed again
    InvoiceNumberRangeFactory(period="11502", prefix="AE", first_number=1, last_number=9)
    with pytest.raises(ServiceError) as caught:
        invoice_period_close(period="11502", actor=None, at=MARCH)
    # then it is refused, and the blanks reported stay as they were
    assert caught.value.code == "period_closed_with_other_blanks"
    assert runs(closing) == ["AB00000014–AB00000020", "AC00000001–AC00000005"]


@pytest.mark.django_db
def test_a_range_cannot_be_added_to_a_closed_period():
    ranges()
    invoice_period_close(period="11502", actor=None, at=MARCH)
    with pytest.raises(ValidationError) as caught:
        invoice_number_range_create(period="11502", prefix="AE", first_number=1, last_number=9, actor=None)
    assert "period" in caught.value.message_dict
    assert not InvoiceNumberRange.objects.filter(prefix="AE").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("at", "code"),
    [
        (datetime(2026, 2, 28, 23, 59, tzinfo=BILLING_TZ), "period_not_ended"),
        (MARCH, "period_has_pending"),
    ],
)
def test_a_period_is_not_closed_before_it_ends_nor_while_an_invoice_waits_for_a_number(at, code):
    # given 11502 with one range used up and one invoice left waiting for a number
    InvoiceNumberRangeFactory(period="11502", prefix="AB", first_number=1, last_number=1)
    issue(2)
    # when it is closed
    with pytest.raises(ServiceError) as caught:
        invoice_period_close(period="11502", actor=None, at=at)
    # then refused, nothing closed
    assert caught.value.code == code
    assert not PeriodClosing.objects.exists()
    assert InvoiceNumberRange.objects.get().closed_at is None


@pytest.mark.django_db
def test_the_command_closes_the_period_and_the_export_writes_its_e0402(tmp_path, capsys):
    # given 11502 with blanks
    ranges()
    issue(13)
    # when the period is closed by the command, twice, and exported
    call_command("close_einvoice_period", "--period", "11502", "--as-of", "2026-03-01T00:05")
    call_command("close_einvoice_period", "--period", "11502", "--as-of", "2026-03-02")
    call_command("export_einvoices", "--period", "11502", "--out", str(tmp_path))
    # then the command said what it did, and each 字軌's E0402 lists its blank runs
    out = capsys.readouterr().out
    assert "Period 11502 closed: 2 blank run(s), 12 number(s)." in out
    assert "Period 11502 was already closed, with the same blanks" in out
    ns = {"m": "urn:GEINV:eInvoiceMessage:E0402:4.1"}
    root = ET.parse(tmp_path / "E0402_07AB.xml").getroot()
    main = {child.tag.split("}")[1]: child.text for child in root.find("m:Main", ns)}
    assert main == {
        "HeadBan": SELLER_UBN,
        "BranchBan": SELLER_UBN,
        "InvoiceType": "07",
        "YearMonth": "11502",
        "InvoiceTrack": "AB",
    }
    items = root.findall("m:Details/m:BranchTrackBlankItem", ns)
    assert [
        (i.findtext("m:InvoiceBeginNo", namespaces=ns), i.findtext("m:InvoiceEndNo", namespaces=ns)) for i in items
    ] == [("00000014", "00000020")]
    assert (tmp_path / "E0402_07AC.xml").exists()
    assert EInvoiceMessage.objects.filter(kind="E0402", exported_at__isnull=True).count() == 0
    assert set(EInvoiceMessage.objects.filter(kind="E0402").values_list("status", flat=True)) == {"written"}


@pytest.mark.django_db
def test_the_command_refuses_a_period_that_has_not_ended():
    with pytest.raises(CommandError, match="2026-03-01"):
        call_command("close_einvoice_period", "--period", "11502", "--as-of", "2026-02-01")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_issues_racing_the_close_never_take_a_number_it_reports_blank():
    # given 11502's range of 60 numbers and 40 charges
    InvoiceNumberRangeFactory(period="11502", prefix="AB", first_number=1, last_number=60)
    account = EInvoiceProfileFactory().account
    charges = ChargeFactory.create_batch(40, account=account)
    late = datetime(2026, 2, 28, 23, 59, tzinfo=BILLING_TZ)

    # when 40 issues timed in 11502 race the period's close
    def act(i):
        if i == 40:
            try:
                return invoice_period_close(period="11502", actor=None, at=MARCH)
            except ServiceError as error:  # an invoice was left waiting: the race's other outcome
                return error.code
        return invoice_issue(charge=charges[i], at=late).number

    results = run_at_once(act, 41)
    # then no error, and the numbers issued and the blanks reported (if closed) never overlap
    assert [r for r in results if isinstance(r, Exception)] == []
    numbers = {int(r[2:]) for r in results[:40] if r}
    assert numbers == set(range(1, len(numbers) + 1))
    closing = PeriodClosing.objects.filter(period="11502").first()
    if closing is not None:
        blanks = {n for run in closing.blank_runs.all() for n in range(run.first_number, run.last_number + 1)}
        assert blanks.isdisjoint(numbers)
        assert blanks | numbers == set(range(1, 61))
    else:
        assert results[40] == "period_has_pending"
