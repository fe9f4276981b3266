"""MIG 4.1 (issue 15 §7): the namespaces, element order and required elements from the spec, the schema check
before writing, Turnkey's folders, and its result folders read back (idempotent) onto the one record of each
message (EInvoiceMessage), whose "uploaded" is the same whether staff confirm it or Turnkey's BAK folder says so."""

import os
import shutil
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuditRecord
from invoices.closing import invoice_period_close
from invoices.issuing import allowance_void
from invoices.mig import e0402, f0401, f0501, g0401, g0501
from invoices.mig_schema import BUNDLED, message_problems
from invoices.models import EInvoiceMessage, Invoice
from invoices.turnkey import turnkey_export, turnkey_results_read
from invoices.uploads import messages_mark_uploaded
from tests.factories import UserFactory
from tests.invoices.conftest import MAR

pytestmark = pytest.mark.django_db

SRC = Path("UpCast/B2SSTORAGE")


def tags(element: ET.Element) -> list[str]:
    return [child.tag.rsplit("}", 1)[-1] for child in element]


def in_spec_order(present: list[str], spec: list[str]) -> bool:
    """Every element is one the spec names, and they come in the spec's order."""
    return all(tag in spec for tag in present) and [spec.index(tag) for tag in present] == sorted(
        spec.index(tag) for tag in present
    )


# The element order of MIG 4.1, written from the spec notes (einvoice-compliance.md §3.1, §4.3, §5.4 and the MIG
# 4.1 field lists they cite), not read from the project's schema files.
F0401_MAIN = [
    "InvoiceNumber", "InvoiceDate", "InvoiceTime", "Seller", "Buyer", "BuyerRemark", "MainRemark",
    "CustomsClearanceMark", "Category", "RelateNumber", "InvoiceType", "GroupMark", "DonateMark", "CarrierType",
    "CarrierId1", "CarrierId2", "PrintMark", "NPOBAN", "RandomNumber", "BondedAreaConfirm", "ZeroTaxRateReason",
    "Reserved1", "Reserved2",
]  # fmt: skip
F0401_REQUIRED = [
    "InvoiceNumber",
    "InvoiceDate",
    "InvoiceTime",
    "Seller",
    "Buyer",
    "InvoiceType",
    "DonateMark",
    "PrintMark",
]
PARTY = ["Identifier", "Name", "Address", "PersonInCharge", "TelephoneNumber", "FacsimileNumber", "EmailAddress"]
F0401_ITEM = ["Description", "Quantity", "Unit", "UnitPrice", "TaxType", "Amount", "SequenceNumber", "Remark"]
F0401_AMOUNT = [
    "SalesAmount", "FreeTaxSalesAmount", "ZeroTaxSalesAmount", "TaxType", "TaxRate", "TaxAmount", "TotalAmount",
]  # fmt: skip
F0501 = [
    "CancelInvoiceNumber", "InvoiceDate", "BuyerId", "SellerId", "CancelDate", "CancelTime", "CancelReason",
    "ReturnTaxDocumentNumber", "Remark",
]  # fmt: skip
G0401_MAIN = ["AllowanceNumber", "AllowanceDate", "Seller", "Buyer", "AllowanceType"]
G0401_ITEM = [
    "OriginalInvoiceDate", "OriginalInvoiceNumber", "OriginalSequenceNumber", "OriginalDescription", "Quantity",
    "Unit", "UnitPrice", "Amount", "Tax", "AllowanceSequenceNumber", "TaxType",
]  # fmt: skip


def test_every_message_is_in_mig_4_1_namespaces_with_the_spec_order_and_required_elements(period_11504, tmp_path):
    # when the period is exported
    call_command("export_einvoices", "--period", "11504", "--out", str(tmp_path))
    # then each file declares its MIG 4.1 namespace as the default one, and its elements follow the spec
    for path in tmp_path.iterdir():
        kind = path.name[:5]
        text = path.read_text(encoding="utf-8")
        assert f'xmlns="urn:GEINV:eInvoiceMessage:{kind}:4.1"' in text
        assert "ns0:" not in text
        root = ET.parse(path).getroot()
        if kind == "F0401":
            main = root.find("{*}Main")
            assert tags(root) == ["Main", "Details", "Amount"]
            assert in_spec_order(tags(main), F0401_MAIN)
            assert set(F0401_REQUIRED) <= set(tags(main))
            assert tags(main.find("{*}Seller")) == ["Identifier", "Name", "Address"]
            assert in_spec_order(tags(main.find("{*}Buyer")), PARTY)
            for item in root.find("{*}Details"):
                assert tags(item) == ["Description", "Quantity", "UnitPrice", "TaxType", "Amount", "SequenceNumber"]
                assert in_spec_order(tags(item), F0401_ITEM)
            assert tags(root.find("{*}Amount")) == F0401_AMOUNT
        elif kind == "F0501":
            assert tags(root) == F0501[:7]
        else:
            assert tags(root) == ["Main", "Details", "Amount"]
            assert tags(root.find("{*}Main")) == G0401_MAIN
            assert tags(root.find("{*}Details/{*}ProductItem")) == [t for t in G0401_ITEM if t != "Unit"]
            assert tags(root.find("{*}Amount")) == ["TaxAmount", "TotalAmount"]


def test_the_schema_refuses_a_wrong_order_a_missing_element_and_a_bad_code(period_11504):
    # given a good F0401
    invoice = period_11504["mobile"]
    assert message_problems("F0401", f0401(invoice)) == []
    # when its item's TaxType is moved after Amount, its PrintMark left out, or its InvoiceType is not a code
    swapped, missing, bad_code = f0401(invoice), f0401(invoice), f0401(invoice)
    item = swapped.find("{*}Details/{*}ProductItem")
    tax_type = item.find("{*}TaxType")
    item.remove(tax_type)
    item.insert(5, tax_type)
    main = missing.find("{*}Main")
    main.remove(main.find("{*}PrintMark"))
    bad_code.find("{*}Main/{*}InvoiceType").text = "06"
    # then each is refused, with the element named
    for root, element in [(swapped, "Amount"), (missing, "PrintMark"), (bad_code, "InvoiceType")]:
        problems = message_problems("F0401", root)
        assert problems, element
        assert any(element in problem for problem in problems), problems


def test_the_rules_across_fields_refuse_what_the_schema_lets_through(period_11504):
    invoice = period_11504["mobile"]
    # a consumer's invoice neither printed, nor to a carrier, nor donated (MIG: one of the three)
    nothing = f0401(invoice)
    main = nothing.find("{*}Main")
    for name in ("CarrierType", "CarrierId1", "CarrierId2"):
        main.remove(main.find(f"{{*}}{name}"))
    assert message_problems("F0401", nothing) == ["a consumer's invoice is printed, goes to a carrier, or is donated"]
    # a printed consumer invoice that still names a carrier
    printed = f0401(invoice)
    printed.find("{*}Main/{*}PrintMark").text = "Y"
    assert message_problems("F0401", printed) == [
        "a printed invoice has no carrier, unless a 手機條碼 claims it with the buyer's 統一編號"
    ]
    # a B2B invoice donated
    b2b = f0401(period_11504["b2b"])
    b2b.find("{*}Main/{*}DonateMark").text = "1"
    assert "an invoice with the buyer's 統一編號 cannot be donated" in message_problems("F0401", b2b)


def test_a_long_void_reason_is_cut_to_the_twenty_characters_f0501_holds(period_11504):
    # given a void whose reason is longer than F0501's CancelReason
    donated = period_11504["donated"]
    Invoice.objects.filter(pk=donated.pk).update(void_reason="客戶來信要求取消本月的訂閱並全額退款，經主管核准")
    donated.refresh_from_db()
    # when
    root = f0501(donated)
    # then the message carries its first 20 characters and passes; the invoice keeps the whole reason
    assert root.find("{*}CancelReason").text == "客戶來信要求取消本月的訂閱並全額退款，經"
    assert message_problems("F0501", root) == []
    assert len(donated.void_reason) > 20
    assert message_problems("G0401", g0401(period_11504["allowance"])) == []


def test_a_message_its_schema_refuses_is_named_and_not_written_the_others_are(period_11504, tmp_path):
    # given an invoice whose seller name is longer than the 60 characters MIG allows
    b2b = period_11504["b2b"]
    Invoice.objects.filter(pk=b2b.pk).update(seller={**b2b.seller, "name": "長" * 61})
    # when
    with pytest.raises(CommandError, match="1 message"):
        call_command("export_einvoices", "--period", "11504", "--out", str(tmp_path))
    # then that F0401 is not written, and the rest are
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "F0401_AB00000100.xml",
        "F0401_AB00000102.xml",
        "F0501_AB00000102.xml",
        "G0401_AL11504000001.xml",
    ]


def test_the_official_xsds_are_used_when_a_folder_of_them_is_configured(period_11504, tmp_path, settings):
    # given a folder standing for MOF's XSDs, stricter than the project's: its F0401 requires a MainRemark
    official = tmp_path / "xsd"
    official.mkdir()
    for kind in ("F0401", "F0501", "G0401"):
        shutil.copy(BUNDLED / f"{kind}.xsd", official / f"{kind}.xsd")
    schema = official / "F0401.xsd"
    text = schema.read_text(encoding="utf-8")
    schema.write_text(
        text.replace('name="MainRemark" type="Text200" minOccurs="0"', 'name="MainRemark" type="Text200"')
    )
    settings.EINVOICE_MIG_XSD_DIR = str(official)
    # when / then: the F0401s are refused by it, the F0501 and G0401 pass
    assert message_problems("F0401", f0401(period_11504["mobile"]))
    assert message_problems("F0501", f0501(period_11504["donated"])) == []


# ---- Turnkey ------------------------------------------------------------------------------------------------


def written_messages() -> dict[str, str]:
    """The period's messages written for Turnkey, and their states."""
    written = EInvoiceMessage.objects.filter(period="11504").exclude(file_name="")
    return {f"{m.kind}_{m.subject}": m.status for m in written}


def test_the_turnkey_export_writes_each_message_once_into_the_folders_turnkey_reads(period_11504, tmp_path):
    # when the period is exported into Turnkey's folder, twice
    call_command("export_einvoices", "--period", "11504", "--turnkey", str(tmp_path))
    first = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*.xml")}
    again = turnkey_export(period="11504", turnkey=tmp_path)
    # then each message sits in UpCast/B2SSTORAGE/<type>/SRC, recorded as written with an audit record
    assert sorted(str(path.relative_to(tmp_path)) for path in first) == [
        str(SRC / "F0401/SRC/F0401_AB00000100.xml"),
        str(SRC / "F0401/SRC/F0401_AB00000101.xml"),
        str(SRC / "F0401/SRC/F0401_AB00000102.xml"),
        str(SRC / "F0501/SRC/F0501_AB00000102.xml"),
        str(SRC / "G0401/SRC/G0401_AL11504000001.xml"),
    ]
    assert set(written_messages().values()) == {"written"}
    assert AuditRecord.objects.filter(action="einvoice_message.write").count() == 5
    g0401_message = EInvoiceMessage.objects.get(kind="G0401")
    assert g0401_message.allowance == period_11504["allowance"]
    assert (g0401_message.file_name, g0401_message.exported_at is not None) == ("G0401_AL11504000001.xml", True)
    # (the January invoice's F0401, of 11502, was not part of it)
    assert EInvoiceMessage.objects.get(period="11502").status == "pending"
    # and the second run wrote nothing, touched no file and recorded nothing more
    assert (again.written, again.refused, len(again.skipped)) == ([], [], 5)
    assert {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*.xml")} == first
    assert AuditRecord.objects.filter(action="einvoice_message.write").count() == 5
    assert not list(tmp_path.rglob("*.part"))


def turnkey_moves(root: Path, kind: str, name: str, folder: str, *, suffix: str = "", when: float | None = None):
    """What Turnkey does with a file it took from SRC: into BAK once sent, ERR when its check refused it."""
    source = root / SRC / kind / "SRC" / f"{name}.xml"
    target = root / SRC / kind / folder / "20260302" / "14-15" / f"{name}{suffix}.xml"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, target)
    if when is not None:
        os.utime(target, (when, when))
    return target


def test_turnkey_results_mark_messages_sent_or_refused_and_reading_again_changes_nothing(period_11504, tmp_path):
    # given the period written for Turnkey, which then sent three messages, refused one and left one in SRC
    written_at = timezone.now() - timedelta(minutes=5)
    turnkey_export(period="11504", turnkey=tmp_path, at=written_at)
    turnkey_moves(tmp_path, "F0401", "F0401_AB00000100", "BAK", suffix="_1787020405256")
    turnkey_moves(tmp_path, "F0401", "F0401_AB00000101", "BAK")
    turnkey_moves(tmp_path, "G0401", "G0401_AL11504000001", "BAK")
    turnkey_moves(tmp_path, "F0501", "F0501_AB00000102", "ERR")
    stranger = tmp_path / SRC / "F0401" / "BAK" / "F0401_ZZ99999999.xml"
    stranger.write_text("<Invoice/>", encoding="utf-8")
    # when the results are read, twice
    call_command("read_turnkey_results", "--turnkey", str(tmp_path))
    again = turnkey_results_read(turnkey=tmp_path)
    # then each message has Turnkey's verdict, once, with an audit record of each change
    assert written_messages() == {
        "F0401_AB00000100": "uploaded",
        "F0401_AB00000101": "uploaded",
        "F0401_AB00000102": "written",
        "F0501_AB00000102": "rejected",
        "G0401_AL11504000001": "uploaded",
    }
    refused = EInvoiceMessage.objects.get(kind="F0501")
    assert refused.detail == str(SRC / "F0501/ERR/20260302/14-15/F0501_AB00000102.xml")
    assert refused.uploaded_at is None
    # an upload Turnkey made is the upload the deadlines read, with no staff member named
    sent = EInvoiceMessage.objects.get(kind="F0401", subject="AB00000100")
    assert (sent.uploaded_at is not None, sent.uploaded_by, sent.uploaded_at == sent.result_at) == (True, None, True)
    assert AuditRecord.objects.filter(action="einvoice_message.uploaded").count() == 3
    assert AuditRecord.objects.filter(action="einvoice_message.rejected").count() == 1
    assert (again.uploaded, again.rejected, again.unchanged) == ([], [], 4)
    assert again.unknown == [str(SRC / "F0401/BAK/F0401_ZZ99999999.xml")]


def test_a_refused_message_is_written_again_only_when_asked_and_its_old_refusal_is_not_taken_for_the_new(
    period_11504, tmp_path
):
    # given a void Turnkey refused an hour ago
    an_hour_ago = timezone.now() - timedelta(hours=1)
    turnkey_export(period="11504", turnkey=tmp_path, at=an_hour_ago)
    turnkey_moves(tmp_path, "F0501", "F0501_AB00000102", "ERR", when=time.time() - 3000)
    turnkey_results_read(turnkey=tmp_path)
    assert EInvoiceMessage.objects.get(kind="F0501").status == "rejected"
    # when the period is exported again: without --retry-rejected, then with it
    plain = turnkey_export(period="11504", turnkey=tmp_path)
    retried = turnkey_export(period="11504", turnkey=tmp_path, retry_rejected=True)
    results = turnkey_results_read(turnkey=tmp_path)
    # then only the retry wrote it, back in SRC as written, and the old ERR file does not refuse the new one
    assert plain.written == []
    assert [path.name for path in retried.written] == ["F0501_AB00000102.xml"]
    assert (tmp_path / SRC / "F0501/SRC/F0501_AB00000102.xml").exists()
    message = EInvoiceMessage.objects.get(kind="F0501")
    assert (message.status, message.detail, message.result_at) == ("written", "", None)
    assert results.rejected == []
    record = AuditRecord.objects.filter(action="einvoice_message.write", object_id=str(message.pk)).latest("pk")
    assert (record.before["status"], record.after["status"]) == ("rejected", "written")


def test_a_message_its_schema_refuses_is_not_recorded_for_turnkey_either(period_11504, tmp_path):
    b2b = period_11504["b2b"]
    Invoice.objects.filter(pk=b2b.pk).update(seller={**b2b.seller, "name": "長" * 61})
    export = turnkey_export(period="11504", turnkey=tmp_path)
    assert [refusal.name for refusal in export.refused] == ["F0401_AB00000101"]
    assert "F0401_AB00000101" not in written_messages()
    assert not (tmp_path / SRC / "F0401/SRC/F0401_AB00000101.xml").exists()
    # the message stays owed, not exported, and the others were written
    refused = EInvoiceMessage.objects.get(kind="F0401", subject="AB00000101")
    assert (refused.status, refused.exported_at, refused.file_name) == ("pending", None, "")
    assert len(written_messages()) == 4


def test_staff_confirming_and_turnkey_sending_are_the_same_uploaded(period_11504, tmp_path):
    # given the period written for Turnkey, and a staff member who confirms the void uploaded by hand
    staff = UserFactory(is_staff=True)
    turnkey_export(period="11504", turnkey=tmp_path, at=timezone.now() - timedelta(minutes=5))
    void = EInvoiceMessage.objects.get(kind="F0501")
    assert messages_mark_uploaded(message_ids=[void.pk], actor=staff) == 1
    confirmed = EInvoiceMessage.objects.get(pk=void.pk)
    # when Turnkey then moves the same message to BAK, and the results are read
    turnkey_moves(tmp_path, "F0501", "F0501_AB00000102", "BAK")
    results = turnkey_results_read(turnkey=tmp_path)
    # then it was already uploaded: nothing changes, the staff member's confirmation stands
    assert (results.uploaded, results.unchanged) == ([], 1)
    void.refresh_from_db()
    assert (void.status, void.uploaded_by, void.uploaded_at) == ("uploaded", staff, confirmed.uploaded_at)
    assert AuditRecord.objects.filter(action="einvoice_message.uploaded", object_id=str(void.pk)).count() == 1


def test_a_message_staff_confirmed_uploaded_is_never_written_for_turnkey(period_11504, tmp_path):
    # given the period exported into a plain folder, and one message confirmed uploaded (sent on the platform)
    call_command("export_einvoices", "--period", "11504", "--out", str(tmp_path / "out"))
    assert set(EInvoiceMessage.objects.filter(period="11504").values_list("status", flat=True)) == {"written"}
    void = EInvoiceMessage.objects.get(kind="F0501")
    messages_mark_uploaded(message_ids=[void.pk], actor=UserFactory(is_staff=True))
    # when the period is then written for Turnkey
    export = turnkey_export(period="11504", turnkey=tmp_path / "turnkey")
    # then the other four are written for it (exported, but never handed to Turnkey), the uploaded one is not
    assert sorted(path.name for path in export.written) == [
        "F0401_AB00000100.xml",
        "F0401_AB00000101.xml",
        "F0401_AB00000102.xml",
        "G0401_AL11504000001.xml",
    ]
    assert export.skipped == ["F0501_AB00000102"]
    void.refresh_from_db()
    assert (void.status, void.file_name) == ("uploaded", "")


def test_a_message_turnkey_refused_may_be_confirmed_by_staff_who_sent_it_another_way(period_11504, tmp_path):
    # given a void Turnkey refused
    turnkey_export(period="11504", turnkey=tmp_path, at=timezone.now() - timedelta(minutes=5))
    turnkey_moves(tmp_path, "F0501", "F0501_AB00000102", "ERR")
    turnkey_results_read(turnkey=tmp_path)
    void = EInvoiceMessage.objects.get(kind="F0501")
    assert (void.status, void.uploaded_at) == ("rejected", None)
    # when staff confirm it uploaded
    staff = UserFactory(is_staff=True)
    assert messages_mark_uploaded(message_ids=[void.pk], actor=staff) == 1
    # then it is uploaded, by them, and a retry of the export leaves it alone
    void.refresh_from_db()
    assert (void.status, void.uploaded_by) == ("uploaded", staff)
    assert turnkey_export(period="11504", turnkey=tmp_path, retry_rejected=True).written == []
    record = AuditRecord.objects.filter(action="einvoice_message.uploaded", object_id=str(void.pk)).get()
    assert (record.before["status"], record.after["status"]) == ("rejected", "uploaded")


def test_g0501_and_e0402_are_in_mig_4_1_pass_their_schemas_and_go_through_turnkey(period_11504, tmp_path):
    # given the allowance voided (G0501) and the period closed once it ended (E0402 of 字軌 AB: 103-199 blank)
    allowance_void(allowance=period_11504["allowance"], reason="折讓開錯", actor=None, at=MAR)
    closing, _closed = invoice_period_close(period="11504", actor=None, at=MAR.replace(month=5, day=1))
    allowance = period_11504["allowance"]
    allowance.refresh_from_db()
    # then both messages are in MIG 4.1's namespaces and pass their schemas
    g0501_root, e0402_root = g0501(allowance), e0402(closing, list(closing.blank_runs.all()))
    assert g0501_root.tag == "{urn:GEINV:eInvoiceMessage:G0501:4.1}CancelAllowance"
    assert e0402_root.tag == "{urn:GEINV:eInvoiceMessage:E0402:4.1}BranchTrackBlank"
    assert message_problems("G0501", g0501_root) == []
    assert message_problems("E0402", e0402_root) == []
    # and their schemas refuse what the MIG does not allow: an odd month, a run without its end
    e0402_root.find("{*}Main/{*}YearMonth").text = "11503"
    e0402_root.find("{*}Details/{*}BranchTrackBlankItem").remove(
        e0402_root.find("{*}Details/{*}BranchTrackBlankItem/{*}InvoiceEndNo")
    )
    problems = message_problems("E0402", e0402_root)
    assert any("YearMonth" in problem for problem in problems), problems
    assert any("InvoiceEndNo" in problem for problem in problems), problems
    # when the period is written for Turnkey, and Turnkey sends the E0402 and the G0501
    export = turnkey_export(period="11504", turnkey=tmp_path, at=timezone.now() - timedelta(minutes=5))
    b2p = Path("UpCast/B2PMESSAGE")
    assert (tmp_path / b2p / "E0402/SRC/E0402_11504_07AB.xml").exists()
    assert (tmp_path / SRC / "G0501/SRC/G0501_AL11504000001.xml").exists()
    assert len(export.written) == 7 and export.refused == []
    text = (tmp_path / b2p / "E0402/SRC/E0402_11504_07AB.xml").read_text(encoding="utf-8")
    assert 'xmlns="urn:GEINV:eInvoiceMessage:E0402:4.1"' in text
    target = tmp_path / b2p / "E0402/BAK/E0402_11504_07AB_1787020405256.xml"
    target.parent.mkdir(parents=True)
    shutil.move(tmp_path / b2p / "E0402/SRC/E0402_11504_07AB.xml", target)
    turnkey_moves(tmp_path, "G0501", "G0501_AL11504000001", "BAK")
    results = turnkey_results_read(turnkey=tmp_path)
    # then both are uploaded
    assert sorted(results.uploaded) == ["E0402_11504_07AB", "G0501_AL11504000001"]
    assert set(EInvoiceMessage.objects.filter(kind__in=["E0402", "G0501"]).values_list("status", flat=True)) == {
        "uploaded"
    }


def test_reading_results_needs_turnkeys_folder(tmp_path):
    with pytest.raises(CommandError, match="--turnkey"):
        call_command("read_turnkey_results", "--turnkey", str(tmp_path / "nowhere"))


def test_the_export_needs_somewhere_to_write(settings):
    settings.EINVOICE_TURNKEY_DIR = ""
    with pytest.raises(CommandError, match="--out DIR or --turnkey DIR"):
        call_command("export_einvoices", "--period", "11504")


def test_the_march_fixture_is_in_its_period():
    assert MAR.date() == datetime(2026, 3, 2).date()
