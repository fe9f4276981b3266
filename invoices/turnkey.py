"""MIG messages through MOF's Turnkey: written into the folders Turnkey reads, and its result folders read back.

Turnkey (MOF's transfer program) picks up each message from `UpCast/<group>/<type>/SRC/` under its
EINVTurnkey folder, checks it, signs and sends it, then moves the file to `BAK/` when sent or to `ERR/` when its
own check refused it (kept under a dated sub-folder, the file name sometimes with a suffix such as
`F0401_AB00000001_1787020405256.xml`). F and G messages go in the `B2SSTORAGE` group; E messages (E0402) in
`B2PMESSAGE` (einvoice-compliance.md §1.4, and the public Turnkey set-ups it cites).

Writing is idempotent: a message already written (or sent) is never written again, since the platform would get
it twice; one Turnkey refused is written again only when asked (`retry_rejected`), once it has been fixed.
Reading is idempotent too: a result already recorded changes nothing, and a result file older than the
message's last writing (a refusal before a retry) is not taken for the retry's.

Not read: the platform's own answers (ProcessResult) that Turnkey downloads later. Their layout is not in the
reference notes (UNCONFIRMED), so "uploaded" here means Turnkey sent the message, not that the platform
accepted it: staff check the platform for those.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record, move_status, snapshot
from invoices.mig import Export, Message, period_messages, write_message
from invoices.mig_schema import MessageInvalid
from invoices.models import MigMessage, MigMessageStatus

GROUPS = {"E0402": "B2PMESSAGE"}  # every other type: B2SSTORAGE
RESULT_FOLDERS = (("BAK", MigMessageStatus.UPLOADED), ("ERR", MigMessageStatus.REJECTED))
RESULT_FILE = re.compile(r"(?P<kind>[A-Z][0-9]{4})_(?P<number>[A-Z0-9]+?)(?:_[0-9]+)?\.xml")
MESSAGE_FIELDS = ("kind", "number", "status", "file_name", "detail", "written_at", "result_at")


def source_folder(turnkey: Path, kind: str) -> Path:
    return turnkey / "UpCast" / GROUPS.get(kind, "B2SSTORAGE") / kind / "SRC"


def turnkey_export(*, period: str, turnkey: Path, retry_rejected: bool = False, at: datetime | None = None) -> Export:
    """Write the period's messages not yet handed to Turnkey into its SRC folders, each recorded as written."""
    at = at or timezone.now()
    export = Export()
    messages = period_messages(period)
    rows = MigMessage.objects.filter(number__in={message.number for message in messages})
    known = {(row.kind, row.number): row for row in rows}
    for message in messages:
        row = known.get((message.kind, message.number))
        if row is not None and not (retry_rejected and row.status == MigMessageStatus.REJECTED):
            export.skipped.append(message.name)
            continue
        try:
            export.written.append(_write(message, row, turnkey=turnkey, at=at))
        except MessageInvalid as refusal:
            export.refused.append(refusal)
        except IntegrityError:  # another export recorded it in the meantime: it is written once, by that one
            export.skipped.append(message.name)
    return export


def _write(message: Message, row: MigMessage | None, *, turnkey: Path, at: datetime) -> Path:
    """Record the message as written, and write its file, in one transaction: a file that could not be written
    leaves no row, and a row that could not be saved (written meanwhile by another run) leaves no file."""
    file_name = f"{message.name}.xml"
    with transaction.atomic():
        if row is None:
            before = None
            row = MigMessage(
                kind=message.kind,
                number=message.number,
                invoice=message.invoice,
                allowance=message.allowance,
                file_name=file_name,
                written_at=at,
            )
            row.save(force_insert=True)
        else:
            row = MigMessage.objects.select_for_update().get(pk=row.pk)
            before = snapshot(row, *MESSAGE_FIELDS)
            move_status(row, MigMessageStatus.WRITTEN)
            row.written_at, row.result_at, row.detail = at, None, ""
            row.save(update_fields=["status", "written_at", "result_at", "detail"])
        path = write_message(message, source_folder(turnkey, message.kind) / file_name)
        audit_record(
            actor=None,
            action="mig_message.write",
            obj=row,
            account=message.invoice.charge.account,
            before=before,
            after=snapshot(row, *MESSAGE_FIELDS),
        )
    return path


@dataclass
class Results:
    uploaded: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)  # result files of messages this product did not write


def turnkey_results_read(*, turnkey: Path, at: datetime | None = None) -> Results:
    """Mark each written message sent (its file in BAK) or refused (in ERR) from Turnkey's folders."""
    at = at or timezone.now()
    results = Results()
    for folder, status in RESULT_FOLDERS:
        for path in sorted((turnkey / "UpCast").glob(f"*/*/{folder}/**/*.xml")):
            match = RESULT_FILE.fullmatch(path.name)
            if match is None or match["kind"] != path.relative_to(turnkey).parts[2]:
                results.unknown.append(str(path.relative_to(turnkey)))
                continue
            outcome = _record(match["kind"], match["number"], status, path, turnkey=turnkey, at=at)
            if outcome is None:
                results.unknown.append(str(path.relative_to(turnkey)))
            elif outcome:
                (results.uploaded if status == MigMessageStatus.UPLOADED else results.rejected).append(
                    f"{match['kind']}_{match['number']}"
                )
            else:
                results.unchanged += 1
    return results


def _record(kind: str, number: str, status: str, path: Path, *, turnkey: Path, at: datetime) -> bool | None:
    """Record one result file: True when the message moved, False when there was nothing to change, None when
    the product has no such message."""
    with transaction.atomic():
        row = MigMessage.objects.select_for_update().select_related("invoice__charge__account")
        row = row.filter(kind=kind, number=number).first()
        if row is None:
            return None
        after_writing = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) >= row.written_at
        if row.status != MigMessageStatus.WRITTEN or not after_writing:
            return False
        before = snapshot(row, *MESSAGE_FIELDS)
        move_status(row, status)
        row.result_at, row.detail = at, str(path.relative_to(turnkey))[:500]
        row.save(update_fields=["status", "result_at", "detail"])
        audit_record(
            actor=None,
            action=f"mig_message.{status}",
            obj=row,
            account=row.invoice.charge.account,
            before=before,
            after=snapshot(row, *MESSAGE_FIELDS),
        )
    return True
