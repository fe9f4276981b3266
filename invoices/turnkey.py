"""MIG messages through MOF's Turnkey: written into the folders Turnkey reads, and its result folders read back.

Turnkey (MOF's transfer program) picks up each message from `UpCast/<group>/<type>/SRC/` under its
EINVTurnkey folder, checks it, signs and sends it, then moves the file to `BAK/` when sent or to `ERR/` when its
own check refused it (kept under a dated sub-folder, the file name sometimes with a suffix such as
`F0401_AB00000001_1787020405256.xml`). F and G messages go in the `B2SSTORAGE` group; E messages (E0402) in
`B2PMESSAGE` (einvoice-compliance.md §1.4, and the public Turnkey set-ups it cites).

The messages are the EInvoiceMessage rows recorded with their events (invoices.uploads), each with its deadline.
Writing one for Turnkey records its file name and, on its first export, moves it pending → written; its
result moves it written → uploaded (BAK: the same "uploaded" as staff confirming it in the admin) or → rejected
(ERR). A file name is unique among messages: invoice and allowance numbers are; an E0402's 字軌 is only unique
within its period, so its file name carries the period (E0402_11504_07AB.xml).

Writing is idempotent: a message already written for Turnkey, or already uploaded, is never written again,
since the platform would get it twice; one Turnkey refused is written again only when asked (`retry_rejected`),
once it has been fixed. Reading is idempotent too: a result already recorded changes nothing, and a result file
older than the message's last writing (a refusal before a retry) is not taken for the retry's.

Not read: the platform's own answers (ProcessResult) that Turnkey downloads later. Their layout is not in the
reference notes (UNCONFIRMED), so "uploaded" here means Turnkey sent the message, not that the platform
accepted it: staff check the platform for those. The upload time recorded is when the result was read (a
renamed file keeps the time it was written), so read_turnkey_results runs often.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_record, move_status, snapshot
from invoices.mig import Export, message_name, period_messages, write_message
from invoices.mig_schema import MessageInvalid
from invoices.models import EInvoiceMessage, MessageKind, MessageStatus

GROUPS = {MessageKind.E0402: "B2PMESSAGE"}  # every other type: B2SSTORAGE
RESULT_FOLDERS = (("BAK", MessageStatus.UPLOADED), ("ERR", MessageStatus.REJECTED))
TURNKEY_SUFFIX = re.compile(r"_[0-9]{10,}$")  # the time Turnkey may add to a result file's name
MESSAGE_FIELDS = ("status", "exported_at", "file_name", "written_at", "detail", "result_at", "uploaded_at")


def source_folder(turnkey: Path, kind: str) -> Path:
    return turnkey / "UpCast" / GROUPS.get(kind, "B2SSTORAGE") / kind / "SRC"


def turnkey_file_name(message: EInvoiceMessage) -> str:
    if message.kind == MessageKind.E0402:
        return f"{message.kind}_{message.period}_{message.subject}.xml"
    return f"{message_name(message)}.xml"


def _writable(*, retry_rejected: bool) -> Q:
    """The messages that may be written for Turnkey: never written for it and not uploaded; or, when asked,
    refused by it."""
    never = Q(file_name="") & ~Q(status=MessageStatus.UPLOADED)
    return never | Q(status=MessageStatus.REJECTED) if retry_rejected else never


def turnkey_export(*, period: str, turnkey: Path, retry_rejected: bool = False, at: datetime | None = None) -> Export:
    """Write the period's messages not yet handed to Turnkey into its SRC folders, each recorded as written."""
    at = at or timezone.now()
    export = Export()
    for message in period_messages(period):
        if not EInvoiceMessage.objects.filter(_writable(retry_rejected=retry_rejected), pk=message.pk).exists():
            export.skipped.append(message_name(message))
            continue
        try:
            path = _write(message, turnkey=turnkey, retry_rejected=retry_rejected, at=at)
        except MessageInvalid as refusal:
            export.refused.append(refusal)
            continue
        if path is None:  # another run wrote it in the meantime: it is written once, by that one
            export.skipped.append(message_name(message))
        else:
            export.written.append(path)
    return export


def _write(message: EInvoiceMessage, *, turnkey: Path, retry_rejected: bool, at: datetime) -> Path | None:
    """Record the message as written for Turnkey, and write its file, in one transaction: a file that could not
    be written leaves the row as it was, and a row another run claimed first leaves no file (None)."""
    file_name = turnkey_file_name(message)
    with transaction.atomic():
        row = EInvoiceMessage.objects.select_for_update().get(pk=message.pk)
        before = snapshot(row, *MESSAGE_FIELDS)
        # Claimed by a conditional UPDATE, so two runs (even on SQLite, which locks no row) never both write it.
        claimed = EInvoiceMessage.objects.filter(_writable(retry_rejected=retry_rejected), pk=row.pk)
        if not claimed.update(file_name=file_name, written_at=at, detail="", result_at=None):
            return None
        row.file_name, row.written_at, row.detail, row.result_at = file_name, at, "", None
        if row.status != MessageStatus.WRITTEN:  # pending (its first export) or rejected (written again)
            move_status(row, MessageStatus.WRITTEN)
            row.exported_at = row.exported_at or at
            row.save(update_fields=["status", "exported_at"])
        path = write_message(message, source_folder(turnkey, message.kind) / file_name)
        audit_record(
            actor=None,
            action="einvoice_message.write",
            obj=row,
            account=_account(message),
            before=before,
            after=snapshot(row, *MESSAGE_FIELDS),
        )
    return path


def _account(message: EInvoiceMessage):
    """The account an invoice's or allowance's message is about; none for an E0402 (the seller's own numbers)."""
    return message.invoice.charge.account if message.invoice_id else None


@dataclass
class Results:
    uploaded: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)  # result files of messages this product did not write


def turnkey_results_read(*, turnkey: Path, at: datetime | None = None) -> Results:
    """Mark each message written for Turnkey uploaded (its file in BAK) or rejected (in ERR) from its folders."""
    at = at or timezone.now()
    results = Results()
    for folder, status in RESULT_FOLDERS:
        for path in sorted((turnkey / "UpCast").glob(f"*/*/{folder}/**/*.xml")):
            kind = path.relative_to(turnkey / "UpCast").parts[1]
            file_name = TURNKEY_SUFFIX.sub("", path.stem) + ".xml"
            outcome = _record(kind, file_name, status, path, turnkey=turnkey, at=at)
            if outcome is None:
                results.unknown.append(str(path.relative_to(turnkey)))
            elif outcome:
                (results.uploaded if status == MessageStatus.UPLOADED else results.rejected).append(file_name[:-4])
            else:
                results.unchanged += 1
    return results


def _record(kind: str, file_name: str, status: str, path: Path, *, turnkey: Path, at: datetime) -> bool | None:
    """Record one result file: True when the message moved, False when there was nothing to change, None when
    the product wrote no such file."""
    with transaction.atomic():
        rows = EInvoiceMessage.objects.select_for_update(of=("self",)).select_related("invoice__charge__account")
        row = rows.filter(kind=kind, file_name=file_name).first()
        if row is None:
            return None
        after_writing = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) >= row.written_at
        if row.status != MessageStatus.WRITTEN or not after_writing:
            return False
        before = snapshot(row, *MESSAGE_FIELDS)
        move_status(row, status)
        row.result_at, row.detail = at, str(path.relative_to(turnkey))[:500]
        update_fields = ["status", "result_at", "detail"]
        if status == MessageStatus.UPLOADED:
            row.uploaded_at = at
            update_fields.append("uploaded_at")
        row.save(update_fields=update_fields)
        audit_record(
            actor=None,
            action=f"einvoice_message.{status}",
            obj=row,
            account=_account(row),
            before=before,
            after=snapshot(row, *MESSAGE_FIELDS),
        )
    return True
