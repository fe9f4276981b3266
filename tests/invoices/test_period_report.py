"""The period for the accountant (einvoice-compliance §6): the register, B2B and B2C totals with the B2C tax
backed out once, voids, allowances, blanks and uploads, in the admin, as CSV and from the command."""

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.periods import BILLING_TZ
from invoices.issuing import invoice_allowance, invoice_void
from invoices.models import EInvoiceMessage, Invoice, PeriodClosing
from invoices.period_report import b2c_tax_backed_out
from tests.factories import ChargeFactory, EInvoiceProfileFactory, InvoiceNumberRangeFactory
from tests.helpers import invoice_issue

JAN = datetime(2026, 1, 5, 10, 0, tzinfo=BILLING_TZ)
COMPANY = {"kind": "company", "company_title": "好公司", "ubn": "22099131", "address": "台北"}


@pytest.fixture(autouse=True)
def seller(settings):
    settings.SELLER_UBN, settings.SELLER_NAME, settings.SELLER_ADDRESS = "22099131", "示範數位服務股份有限公司", "臺北"


def test_the_b2c_tax_is_backed_out_of_the_total_once():
    # 5,500 / 1.05 × 0.05 = 261.9 → 262; three B2C invoices of NT$105 each carry tax 5 each (15), the
    # period's 315 backs out once to 15 as well, while 3 × NT$21 (tax 1 each, 3) backs out to 63/21 = 3.
    assert b2c_tax_backed_out(5500) == (5238, 262)
    assert b2c_tax_backed_out(0) == (0, 0)
    assert b2c_tax_backed_out(10) == (10, 0)  # 0.476 rounds down
    assert b2c_tax_backed_out(11) == (10, 1)  # 0.524 rounds up
    assert b2c_tax_backed_out(2100, Decimal("0.05")) == (2000, 100)


@pytest.fixture
def demo_period(db):
    """Like the demo data: B2C and B2B invoices of 11502, one voided, one with an allowance, a range half used."""
    InvoiceNumberRangeFactory(period="11502", prefix="DM", first_number=1, last_number=20)
    b2c_account = EInvoiceProfileFactory().account
    b2b_account = EInvoiceProfileFactory(**COMPANY).account
    b2c = [
        invoice_issue(
            charge=ChargeFactory(account=b2c_account, fee_twd=net, net_twd=net, tax_twd=tax, total_twd=net + tax),
            at=JAN,
        )
        for net, tax in ((800, 40), (1200, 60), (19, 1), (19, 1))
    ]
    b2b = [
        invoice_issue(
            charge=ChargeFactory(account=b2b_account, fee_twd=net, net_twd=net, tax_twd=tax, total_twd=net + tax),
            at=JAN,
        )
        for net, tax in ((4800, 240), (800, 40))
    ]
    invoice_void(invoice=b2c[1], reason="客戶取消", actor=None, at=JAN)
    allowance = invoice_allowance(invoice=b2b[0], amount_twd=525, reason="部分退款", actor=None, at=JAN)
    return {"b2c": b2c, "b2b": b2b, "voided": b2c[1], "allowance": allowance}


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_the_period_csv_totals_equal_the_invoices_minus_voids(admin_client, demo_period, time_machine):
    time_machine.move_to(datetime(2026, 1, 6, 9, 0, tzinfo=BILLING_TZ))
    # when the accountant downloads the CSV from the admin
    response = admin_client.get(reverse("admin:invoices_invoice_period_csv", args=["11502"]))
    # then it is a CSV attachment
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="einvoice-period-11502.csv"' in response["Content-Disposition"]
    rows = rows_of(response.content.decode("utf-8"))
    register = [row for row in rows if row["section"] == "invoice"]
    totals = {row["number"]: row for row in rows if row["section"] == "total"}
    # and the register holds every numbered invoice of the period, with its status and upload
    invoices = Invoice.objects.filter(period="11502", number__isnull=False)
    assert [row["number"] for row in register] == sorted(invoices.values_list("number", flat=True))
    assert {row["number"]: row["status"] for row in register}[demo_period["voided"].number] == "Voided"
    assert all(row["upload"].startswith("F0401 Due") for row in register if row["status"] == "Issued")
    # and its totals are the sum of the period's invoices minus the voided one
    live = invoices.exclude(status="voided")
    expected = sum(live.values_list("total_twd", flat=True))
    assert expected == 840 + 20 + 20 + 5040 + 840
    everything = totals["all invoices, voids left out"]
    assert int(everything["total (NT$)"]) == expected
    b2b = totals["B2B invoices"]
    assert (int(b2b["count"]), int(b2b["sales amount (NT$)"]), int(b2b["tax (NT$)"])) == (2, 5600, 280)
    # and the B2C tax is backed out of the period's B2C total once: 880 / 1.05 × 0.05 = 41.9 → 42
    # (the invoices' own taxes add up to 40 + 1 + 1 = 42 here too; rounding per invoice may differ in general)
    b2c = totals["B2C invoices (401: tax backed out of the period total once)"]
    assert (int(b2c["count"]), int(b2c["total (NT$)"])) == (3, 880)
    assert (int(b2c["sales amount (NT$)"]), int(b2c["tax (NT$)"])) == (838, 42)
    voided = totals["voided invoices (not counted)"]
    assert (int(voided["count"]), int(voided["total (NT$)"])) == (1, 1260)
    # and the allowance and the 14 numbers left of the range are listed
    allowance = [row for row in rows if row["section"] == "allowance"]
    assert [(r["number"], r["original invoice"], r["total (NT$)"]) for r in allowance] == [
        (demo_period["allowance"].number, demo_period["b2b"][0].number, "525")
    ]
    assert int(totals["B2B allowances"]["total (NT$)"]) == 525
    blanks = [row for row in rows if row["section"] == "blank"]
    assert [(r["number"], r["count"]) for r in blanks] == [("DM00000007–DM00000020", "14")]
    assert blanks[0]["status"] == "not reported: the period is not closed"


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_the_summary_page_shows_the_periods_figures_and_closes_it(admin_client, demo_period, time_machine):
    # given March: 11502 has ended
    time_machine.move_to(datetime(2026, 3, 2, 9, 0, tzinfo=BILLING_TZ))
    url = reverse("admin:invoices_invoice_period", args=["11502"])
    # when staff open the list of periods, then the period's summary
    periods = admin_client.get(reverse("admin:invoices_invoice_periods"))
    page = admin_client.get(url)
    # then both open, with the figures
    assert periods.status_code == 200
    assert url in periods.content.decode()
    assert page.status_code == 200
    report = page.context["report"]
    assert (report.total_twd, report.b2c_401_tax_twd, report.voided.count, report.blank_count) == (6760, 42, 1, 14)
    html = page.content.decode()
    assert 'data-testid="period-total">6760<' in html
    assert "DM00000007–DM00000020 (14)" in html
    # the uploads are late by now (B2C due 01-07, B2B 01-12), and the page says so
    assert report.upload_counts == {"late": 8}
    # when staff close the period from the page
    response = admin_client.post(reverse("admin:invoices_invoice_period_close", args=["11502"]), follow=True)
    # then it is closed, its blanks reported
    assert response.status_code == 200
    assert PeriodClosing.objects.filter(period="11502").exists()
    assert "Period 11502 closed: 14 blank number(s) to report (E0402)." in response.content.decode()
    assert EInvoiceMessage.objects.filter(kind="E0402", subject="07DM").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_closing_too_early_from_the_admin_says_why(admin_client, demo_period, time_machine):
    time_machine.move_to(datetime(2026, 2, 10, 9, 0, tzinfo=BILLING_TZ))
    response = admin_client.post(reverse("admin:invoices_invoice_period_close", args=["11502"]), follow=True)
    assert response.status_code == 200
    assert "Period 11502 can be closed from 2026-03-01, once it has ended." in response.content.decode()
    assert not PeriodClosing.objects.exists()


@pytest.mark.django_db
def test_a_malformed_period_is_a_404_in_the_admin(admin_client):
    for bad in ("11503", "abc", "1150200"):
        assert admin_client.get(reverse("admin:invoices_invoice_period", args=[bad])).status_code == 404


@pytest.mark.django_db
def test_the_command_writes_the_csv_in_the_sites_language(demo_period, tmp_path, capsys):
    output = tmp_path / "11502.csv"
    call_command("export_einvoice_period", "--period", "11502", "--output", str(output))
    rows = rows_of(output.read_text(encoding="utf-8"))
    assert "6 invoice(s), 1 allowance(s), 1 blank run(s); NT$6,760 after voids." in capsys.readouterr().out
    assert len(rows) == 6 + 1 + 1 + 7
    assert list(rows[0])[0] == "區段"


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_the_invoice_list_shows_what_is_due_and_what_is_late(admin_client, demo_period, time_machine):
    # given 01-08: the B2C invoices (due 01-07) are late, the B2B ones (due 01-12) due
    time_machine.move_to(datetime(2026, 1, 8, 9, 0, tzinfo=BILLING_TZ))
    url = reverse("admin:invoices_invoice_changelist")
    # when staff filter the invoices by upload
    late = admin_client.get(url, {"upload": "late"}).context["cl"].result_list
    due = admin_client.get(url, {"upload": "due"}).context["cl"].result_list
    page = admin_client.get(url).content.decode()
    # then the B2C ones are late and the B2B ones due (their allowance too)
    assert {invoice.number for invoice in late} == {i.number for i in demo_period["b2c"]}
    assert {invoice.number for invoice in due} == {i.number for i in demo_period["b2b"]}
    assert "late: due 2026-01-07" in page
    assert "due 2026-01-12" in page


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_staff_confirm_uploads_and_void_an_allowance_in_the_admin(admin_client, demo_period, tmp_path, time_machine):
    time_machine.move_to(datetime(2026, 1, 6, 9, 0, tzinfo=BILLING_TZ))
    # given the period exported
    call_command("export_einvoices", "--period", "11502", "--out", str(tmp_path))
    messages = EInvoiceMessage.objects.filter(kind="F0401")
    # when staff confirm the F0401s uploaded
    response = admin_client.post(
        reverse("admin:invoices_einvoicemessage_changelist"),
        {"action": "confirm_uploaded", "_selected_action": list(messages.values_list("pk", flat=True))},
        follow=True,
    )
    # then they are
    assert "6 messages confirmed uploaded." in response.content.decode()
    assert not messages.filter(uploaded_at__isnull=True).exists()
    # when staff void the B2B invoice while its allowance lives: the reason is shown
    invoice = demo_period["b2b"][0]
    refused = admin_client.post(
        reverse("admin:invoices_invoice_correct", args=[invoice.pk]), {"kind": "void", "reason": "取消"}
    )
    assert "void them first" in refused.content.decode()
    # when they void the allowance first, then the invoice
    allowance = demo_period["allowance"]
    voided = admin_client.post(reverse("admin:invoices_allowance_void", args=[allowance.pk]), {"reason": "誤開"})
    assert voided.status_code == 302
    admin_client.post(reverse("admin:invoices_invoice_correct", args=[invoice.pk]), {"kind": "void", "reason": "取消"})
    # then both are void, and the G0501 and F0501 are owed
    invoice.refresh_from_db()
    assert invoice.status == "voided"
    assert set(EInvoiceMessage.objects.filter(uploaded_at__isnull=True).values_list("kind", flat=True)) == {
        "G0401",
        "G0501",
        "F0501",
    }
