"""Issuing e-invoices for charges (SPEC §4): numbers from the period's 字軌, snapshots, B2C/B2B, number pending."""

import re
from datetime import date, datetime

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from accounts.errors import ServiceError
from accounts.models import AuditRecord, UserPreference
from accounts.periods import BILLING_TZ
from invoices.issuing import (
    invoice_allowance,
    invoice_correct_for_refund,
    invoice_period,
    invoice_void,
    invoices_issue_pending,
    period_label,
    split_tax_inclusive,
)
from invoices.models import Invoice, InvoiceNumberRange
from invoices.services import einvoice_profile_save
from tests.concurrency import run_at_once
from tests.factories import (
    ChargeFactory,
    EInvoiceProfileFactory,
    InvoiceNumberRangeFactory,
    MembershipFactory,
    RefundFactory,
    UserFactory,
)
from tests.helpers import invoice_issue

AT = datetime(2026, 1, 5, 10, 0, tzinfo=BILLING_TZ)  # period 11502
SELLER = {"ubn": "22099131", "name": "示範數位服務股份有限公司", "address": "臺北市信義區市府路1號"}
MEDIUM_LINES = [
    {"description": "LINE官方帳號 中用量 月費 2026-01", "quantity": 1, "unit_price_twd": 800, "amount_twd": 800}
]


@pytest.fixture(autouse=True)
def seller(settings):
    settings.SELLER_UBN, settings.SELLER_NAME, settings.SELLER_ADDRESS = SELLER.values()


def range_of(first=1, last=10, prefix="AB", period="11502") -> InvoiceNumberRange:
    return InvoiceNumberRangeFactory(period=period, prefix=prefix, first_number=first, last_number=last)


def cursor(number_range) -> int:
    number_range.refresh_from_db()
    return number_range.next_number


@pytest.mark.parametrize(
    ("day", "period"),
    [
        (date(2026, 11, 21), "11512"),
        (date(2026, 1, 5), "11502"),
        (date(2026, 2, 28), "11502"),
        (date(2026, 3, 1), "11504"),
        (date(2025, 12, 31), "11412"),
    ],
)
def test_the_period_is_the_roc_year_and_the_even_month(day, period):
    assert invoice_period(day) == period


def test_period_label_and_the_tax_inclusive_split():
    assert period_label("11512") == "115年11-12月"
    assert period_label("11502") == "115年01-02月"
    assert split_tax_inclusive(5500) == (5238, 262)
    assert split_tax_inclusive(840) == (800, 40)


@pytest.mark.django_db
def test_a_b2c_invoice_takes_the_next_number_and_snapshots_the_buyer_seller_and_lines():
    # given a member-carrier profile, a succeeded NT$800 + 40 charge and a range AB00000001–10
    profile = EInvoiceProfileFactory(email="owner@example.tw")
    charge = ChargeFactory(account=profile.account)
    number_range = range_of()
    # when
    invoice = invoice_issue(charge=charge, at=AT)
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.period, invoice.number, invoice.issued_at) == ("issued", "11502", "AB00000001", AT)
    assert (invoice.sales_twd, invoice.tax_twd, invoice.total_twd) == (800, 40, 840)
    assert re.fullmatch(r"[0-9]{4}", invoice.random_code)
    assert invoice.buyer == {
        "kind": "printed",
        "identifier": "0000000000",
        "name": "王小明",
        "email": "owner@example.tw",
        "carrier_type": "",
        "carrier_number": "",
        "donation_code": "",
        "ubn": "",
        "address": "",
    }
    assert invoice.seller == SELLER
    assert invoice.lines == MEDIUM_LINES
    assert cursor(number_range) == 2
    record = AuditRecord.objects.get(action="invoice.issue")
    assert (record.object_id, record.account, record.after["number"]) == (str(invoice.pk), charge.account, "AB00000001")


@pytest.mark.django_db
def test_a_b2b_invoice_has_the_nets_sales_amount_and_its_tax_apart():
    # given a company profile and a NT$5,238 + 262 charge
    profile = EInvoiceProfileFactory(
        kind="company", name="", company_title="小店有限公司", ubn="04595252", address="臺北市中正區"
    )
    charge = ChargeFactory(account=profile.account, lines=[], fee_twd=5238, net_twd=5238, tax_twd=262, total_twd=5500)
    range_of()
    # when
    invoice = invoice_issue(charge=charge, at=AT)
    # then
    assert (invoice.sales_twd, invoice.tax_twd, invoice.total_twd) == (5238, 262, 5500)
    assert invoice.is_b2b
    assert (invoice.buyer["identifier"], invoice.buyer["name"], invoice.buyer["ubn"]) == (
        "04595252",
        "小店有限公司",
        "04595252",
    )
    assert invoice.lines == [
        {"description": "LINE官方帳號 中用量 月費 2026-01", "quantity": 1, "unit_price_twd": 5238, "amount_twd": 5238}
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "fields", "carrier"),
    [
        ("mobile", {"carrier_number": "/ABC1234"}, ("3J0002", "/ABC1234")),
        ("citizen", {"carrier_number": "AB12345678901234"}, ("CQ0001", "AB12345678901234")),
    ],
)
def test_a_carrier_is_kept_with_its_mig_type_code(kind, fields, carrier):
    profile = EInvoiceProfileFactory(kind=kind, **fields)
    range_of()
    invoice = invoice_issue(charge=ChargeFactory(account=profile.account), at=AT)
    assert (invoice.buyer["carrier_type"], invoice.buyer["carrier_number"]) == carrier


@pytest.mark.django_db
def test_the_issued_notice_goes_to_the_profiles_address_on_commit(django_capture_on_commit_callbacks):
    # given
    profile = EInvoiceProfileFactory(email="invoices@shop.tw")
    range_of()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue(charge=ChargeFactory(account=profile.account), at=AT)
    # then
    assert [message.to for message in mail.outbox] == [["invoices@shop.tw"]]
    assert mail.outbox[0].subject == "[LINE官方帳號] 電子發票開立通知 AB00000001"
    assert "隨機碼：" + invoice.random_code in mail.outbox[0].body
    assert f"/invoices/{invoice.pk}/proof/" in mail.outbox[0].body


@pytest.mark.django_db
def test_the_notice_is_in_the_admins_language(django_capture_on_commit_callbacks):
    # given the account's admin chose English
    profile = EInvoiceProfileFactory(email="owner@example.tw")
    admin = MembershipFactory(account=profile.account, user__email="owner@example.tw").user
    UserPreference.objects.create(user=admin, language="en")
    range_of()
    # when
    with translation.override("zh-hant"), django_capture_on_commit_callbacks(execute=True):
        invoice_issue(charge=ChargeFactory(account=profile.account), at=AT)
    # then
    assert mail.outbox[0].subject == "[LINE Official Account] E-invoice AB00000001 issued"
    assert "Total: NT$840" in mail.outbox[0].body


@pytest.mark.django_db
def test_a_zero_total_charge_gets_no_invoice():
    # given a charge a promo code paid entirely
    profile = EInvoiceProfileFactory()
    charge = ChargeFactory(account=profile.account, deduction_twd=800, net_twd=0, tax_twd=0, total_twd=0)
    number_range = range_of()
    # when
    result = invoice_issue(charge=charge, at=AT)
    # then
    assert result is None
    assert Invoice.objects.count() == 0
    assert cursor(number_range) == 1
    assert AuditRecord.objects.count() == 0


@pytest.mark.django_db
def test_issuing_twice_returns_the_one_invoice(django_capture_on_commit_callbacks):
    # given
    charge = ChargeFactory(account=EInvoiceProfileFactory().account)
    number_range = range_of()
    with django_capture_on_commit_callbacks(execute=True):
        first = invoice_issue(charge=charge, at=AT)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        second = invoice_issue(charge=charge, at=AT)
    # then
    assert second.pk == first.pk
    assert Invoice.objects.count() == 1
    assert cursor(number_range) == 2
    assert len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["pending", "failed"])
def test_a_charge_that_did_not_succeed_gets_no_invoice(status):
    # given
    charge = ChargeFactory(
        account=EInvoiceProfileFactory().account, pending=status == "pending", failed=status == "failed"
    )
    number_range = range_of()
    # when
    with pytest.raises(ServiceError) as caught:
        invoice_issue(charge=charge, at=AT)
    # then
    assert caught.value.code == "charge_not_succeeded"
    assert Invoice.objects.count() == 0
    assert cursor(number_range) == 1


@pytest.mark.django_db
def test_numbers_go_in_order_through_the_ranges_and_never_to_another_period():
    # given AB00000001 alone, then AC00000005–06, and a range of the next period
    ranges = [range_of(1, 1, "AB"), range_of(5, 6, "AC"), range_of(1, 100, "AA", period="11504")]
    account = EInvoiceProfileFactory().account
    # when
    invoices = [invoice_issue(charge=ChargeFactory(account=account), at=AT) for _ in range(4)]
    # then
    assert [(i.status, i.number) for i in invoices] == [
        ("issued", "AB00000001"),
        ("issued", "AC00000005"),
        ("issued", "AC00000006"),
        ("pending", None),
    ]
    assert [cursor(r) for r in ranges] == [2, 7, 1]


@pytest.mark.django_db
def test_with_no_range_left_the_invoice_waits_then_the_command_numbers_them_in_order(
    django_capture_on_commit_callbacks,
):
    # given two charges issued while the period has no range
    account = EInvoiceProfileFactory().account
    with django_capture_on_commit_callbacks(execute=True):
        waiting = [invoice_issue(charge=ChargeFactory(account=account), at=AT) for _ in range(2)]
    assert [(i.status, i.number, i.issued_at) for i in waiting] == [("pending", None, None)] * 2
    assert mail.outbox == []
    assert AuditRecord.objects.filter(action="invoice.number_pending").count() == 2
    # when staff add a range and the command runs (twice)
    range_of(1, 10, "AB")
    later = datetime(2026, 1, 6, 9, 0, tzinfo=BILLING_TZ)
    with django_capture_on_commit_callbacks(execute=True):
        numbered = invoices_issue_pending(at=later)
    again = invoices_issue_pending(at=later)
    # then
    assert (numbered, again) == (2, 0)
    assert [(i.status, i.number, i.issued_at) for i in Invoice.objects.order_by("pk")] == [
        ("issued", "AB00000001", later),
        ("issued", "AB00000002", later),
    ]
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_the_command_stops_when_the_range_runs_out_and_leaves_other_periods_alone():
    # given three waiting invoices of 11502, one of 11412, and one number left
    account = EInvoiceProfileFactory().account
    old = invoice_issue(charge=ChargeFactory(account=account), at=datetime(2025, 12, 1, tzinfo=BILLING_TZ))
    waiting = [invoice_issue(charge=ChargeFactory(account=account), at=AT) for _ in range(3)]
    range_of(1, 1, "AB")
    # when
    numbered = invoices_issue_pending(at=AT)
    # then
    assert numbered == 1
    statuses = {i.pk: (i.status, i.number) for i in Invoice.objects.all()}
    assert statuses == {
        old.pk: ("pending", None),
        waiting[0].pk: ("issued", "AB00000001"),
        waiting[1].pk: ("pending", None),
        waiting[2].pk: ("pending", None),
    }


@pytest.mark.django_db
def test_issue_pending_invoices_command_reports_what_it_did(capsys, time_machine):
    time_machine.move_to(AT)
    account = EInvoiceProfileFactory().account
    invoice_issue(charge=ChargeFactory(account=account), at=AT)
    range_of()
    call_command("issue_pending_invoices")
    assert capsys.readouterr().out == "1 invoice(s) numbered.\n"
    assert Invoice.objects.get().number == "AB00000001"


@pytest.mark.django_db
def test_changing_the_profile_never_changes_an_issued_invoice():
    # given
    profile = EInvoiceProfileFactory()
    range_of()
    invoice = invoice_issue(charge=ChargeFactory(account=profile.account), at=AT)
    buyer = dict(invoice.buyer)
    # when
    einvoice_profile_save(
        account=profile.account,
        actor=None,
        data={"kind": "company", "company_title": "新公司", "ubn": "22099131", "email": "new@x.tw", "address": "台中"},
    )
    # then
    invoice.refresh_from_db()
    assert invoice.buyer == buyer
    assert (invoice.number, invoice.sales_twd, invoice.tax_twd) == ("AB00000001", 800, 40)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_issues_get_fifty_distinct_numbers_with_no_gap():
    # given 50 succeeded charges and one range of 100 numbers
    account = EInvoiceProfileFactory().account
    charges = ChargeFactory.create_batch(50, account=account)
    number_range = range_of(1, 100)
    # when
    results = run_at_once(lambda i: invoice_issue(charge=charges[i], at=AT).number, 50)
    # then
    assert [r for r in results if not isinstance(r, str)] == []
    assert sorted(results) == [f"AB{n:08d}" for n in range(1, 51)]
    assert cursor(number_range) == 51
    assert Invoice.objects.filter(status="issued").count() == 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_spill_into_the_next_range_then_wait():
    # given 30 charges and two ranges of 10
    account = EInvoiceProfileFactory().account
    charges = ChargeFactory.create_batch(30, account=account)
    range_of(1, 10, "AB"), range_of(1, 10, "AC")
    # when
    results = run_at_once(lambda i: invoice_issue(charge=charges[i], at=AT).number, 30)
    # then
    assert [r for r in results if isinstance(r, Exception)] == []
    numbers = sorted(r for r in results if r)
    assert numbers == [f"{p}{n:08d}" for p in ("AB", "AC") for n in range(1, 11)]
    assert results.count(None) == 10


# ---- corrections: void in the period, allowance later, and what a refund does ----------------

NEXT_PERIOD = datetime(2026, 3, 2, 9, 0, tzinfo=BILLING_TZ)  # 11504


def issued(**charge) -> Invoice:
    range_of()
    return invoice_issue(charge=ChargeFactory(account=EInvoiceProfileFactory().account, **charge), at=AT)


def state(invoice) -> tuple:
    invoice.refresh_from_db()
    return invoice.status, invoice.void_reason, invoice.voided_at, invoice.allowances.count()


@pytest.mark.django_db
def test_an_invoice_is_voided_within_its_period_with_a_reason_and_an_audit_record():
    # given
    invoice = issued()
    actor = UserFactory()
    voided_at = datetime(2026, 2, 27, 18, 0, tzinfo=BILLING_TZ)
    # when
    invoice_void(invoice=invoice, reason=" 客戶取消 ", actor=actor, at=voided_at)
    # then
    assert state(invoice) == ("voided", "客戶取消", voided_at, 0)
    record = AuditRecord.objects.get(action="invoice.void")
    assert (record.actor, record.before["status"], record.after["status"]) == (actor, "issued", "voided")


PAST_FILING = datetime(2026, 3, 16, 0, 0, tzinfo=BILLING_TZ)  # 11502's return was due by 03-15


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("at", "reason", "code"),
    [(PAST_FILING, "客戶取消", "void_past_filing_deadline"), (AT, "  ", "reason_required")],
)
def test_a_void_past_the_filing_deadline_or_without_a_reason_is_refused(at, reason, code):
    # given
    invoice = issued()
    records = AuditRecord.objects.count()
    # when
    with pytest.raises(ServiceError) as caught:
        invoice_void(invoice=invoice, reason=reason, actor=None, at=at)
    # then
    assert caught.value.code == code
    assert state(invoice) == ("issued", "", None, 0)
    assert AuditRecord.objects.count() == records


@pytest.mark.django_db
def test_allowances_in_a_later_period_split_sales_and_tax_and_are_numbered():
    # given an NT$840 (800 + 40) invoice of 11502
    invoice = issued()
    # when two allowances of NT$420 in 11504
    first = invoice_allowance(invoice=invoice, amount_twd=421, reason="部分退款", actor=None, at=NEXT_PERIOD)
    second = invoice_allowance(invoice=invoice, amount_twd=419, reason="其餘退款", actor=None, at=NEXT_PERIOD)
    # then
    assert (first.number, first.period, first.sales_twd, first.tax_twd, first.total_twd) == (
        "AL11504000001",
        "11504",
        401,
        20,
        421,
    )
    assert (second.number, second.sales_twd, second.tax_twd, second.total_twd) == ("AL11504000002", 399, 20, 419)
    assert state(invoice) == ("issued", "", None, 2)
    assert AuditRecord.objects.filter(action="invoice.allowance").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, 841])
def test_an_allowance_beyond_what_is_left_is_refused(amount):
    # given
    invoice = issued()
    # when
    with pytest.raises(ServiceError) as caught:
        invoice_allowance(invoice=invoice, amount_twd=amount, reason="退款", actor=None, at=NEXT_PERIOD)
    # then
    assert caught.value.code == "allowance_amount"
    assert state(invoice) == ("issued", "", None, 0)


@pytest.mark.django_db
def test_a_full_refund_in_the_period_voids_the_invoice():
    # given
    invoice = issued()
    refund = RefundFactory(charge=invoice.charge, amount_twd=840, reason="客訴退款")
    # when
    result = invoice_correct_for_refund(refund=refund, actor=None, at=AT)
    # then
    assert result.pk == invoice.pk
    assert state(invoice) == ("voided", "客訴退款", AT, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(("amount", "at"), [(840, NEXT_PERIOD), (210, AT)])
def test_a_later_or_partial_refund_gets_an_allowance_once(amount, at):
    # given
    invoice = issued()
    refund = RefundFactory(charge=invoice.charge, amount_twd=amount)
    # when called twice
    allowance = invoice_correct_for_refund(refund=refund, actor=None, at=at)
    again = invoice_correct_for_refund(refund=refund, actor=None, at=at)
    # then
    assert again.pk == allowance.pk
    assert (allowance.refund, allowance.total_twd, allowance.sales_twd + allowance.tax_twd) == (refund, amount, amount)
    assert state(invoice) == ("issued", "", None, 1)


@pytest.mark.django_db
def test_a_refund_of_a_charge_without_an_invoice_does_nothing():
    refund = RefundFactory(charge=ChargeFactory(deduction_twd=800, net_twd=0, tax_twd=0, total_twd=0), amount_twd=1)
    assert invoice_correct_for_refund(refund=refund, actor=None) is None
    assert AuditRecord.objects.count() == 0


# ---- the admin --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_warns_of_invoices_waiting_for_a_number_and_filters_them(admin_client, settings):
    settings.LANGUAGE_CODE = "en"  # the message is read in English here; the catalogue has its zh-Hant
    # given one waiting and one issued invoice
    account = EInvoiceProfileFactory().account
    invoice_issue(charge=ChargeFactory(account=account), at=AT)
    range_of()
    invoice_issue(charge=ChargeFactory(account=account), at=AT)
    # when
    with translation.override("en"):
        page = admin_client.get(reverse("admin:invoices_invoice_changelist") + "?status__exact=pending")
    # then
    assert [str(m) for m in page.context["messages"]][0].startswith("1 invoice waits for a number")
    assert [i.status for i in page.context["cl"].result_list] == ["pending"]


@pytest.mark.django_db
def test_staff_void_an_invoice_from_the_admin(admin_client, time_machine):
    # given
    time_machine.move_to(AT)
    invoice = issued()
    url = reverse("admin:invoices_invoice_correct", args=[invoice.pk])
    # when
    page = admin_client.get(url)
    response = admin_client.post(url, {"kind": "void", "reason": "重複扣款"})
    # then
    assert page.status_code == 200
    assert response.status_code == 302
    assert state(invoice)[:2] == ("voided", "重複扣款")


@pytest.mark.django_db
def test_an_allowance_without_an_amount_is_refused_in_the_admin(admin_client):
    invoice = issued()
    url = reverse("admin:invoices_invoice_correct", args=[invoice.pk])
    response = admin_client.post(url, {"kind": "allowance", "reason": "折讓"})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"amount_twd"}
    assert state(invoice) == ("issued", "", None, 0)
