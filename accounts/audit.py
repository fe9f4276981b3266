"""The audit trail: every service that changes money or billing state calls `audit_record`."""

import zlib
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, models

from accounts.bulk import insert_rows
from accounts.errors import InvalidTransition
from accounts.models import AuditRecord, OfficialAccount


def snapshot(obj: models.Model, *fields: str) -> dict:
    """A JSON-safe picture of some fields of a row (foreign keys by id)."""
    picture = {}
    for name in fields:
        field = obj._meta.get_field(name)
        value = getattr(obj, field.attname)
        if isinstance(value, (date, datetime, Decimal)):
            value = str(value)
        picture[name] = value
    return picture


def snapshot_all(obj: models.Model) -> dict:
    return snapshot(obj, *(field.name for field in obj._meta.concrete_fields))


def audit_record(*, actor, action: str, obj: models.Model, before=None, after=None, account=None) -> AuditRecord:
    record = audit_entry(actor=actor, action=action, obj=obj, before=before, after=after, account=account)
    record.save(force_insert=True)
    return record


def audit_records_save(records: list[AuditRecord]) -> None:
    """Save many records made by `audit_entry` at once."""
    insert_rows(records)


def audit_entry(*, actor, action: str, obj: models.Model, before=None, after=None, account=None) -> AuditRecord:
    """An unsaved audit record, for services that write many at once (`audit_records_save`)."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditRecord(
        actor=actor,
        account=account,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        before=before,
        after=after,
    )


# ---- status changes ------------------------------------------------------------------------------
#
# Every model with a `status` has a TRANSITIONS table on the model: each state → the states it may move to.
# A row starts in its field's default and changes state only through `move_status` (one row, in memory)
# or `move_statuses` (a queryset, in one UPDATE); tests/test_transitions.py fails on any other assignment.


def ensure_transition(obj: models.Model, new_status: str) -> None:
    """Refuse a status change the model's TRANSITIONS table does not allow."""
    if new_status not in type(obj).TRANSITIONS.get(obj.status, ()):
        raise _refusal(f"{obj._meta.label}#{obj.pk}", obj.status, new_status)


def move_status(obj: models.Model, new_status: str) -> None:
    """Change a row's status in memory, if its model's table allows the move (else InvalidTransition).

    The caller has locked the row and saves it with the rest of the change (`save(update_fields=...)`,
    `update_rows`, or `bulk_create` for a row not yet inserted), next to its audit record."""
    ensure_transition(obj, new_status)
    obj.status = new_status


def move_statuses(rows: models.QuerySet, *, from_statuses, to_status: str, **changes) -> int:
    """Move the rows of `rows` that are in one of `from_statuses` to `to_status` in one UPDATE, setting
    `changes` too; returns how many moved. Each from → to is checked against the model's table first, so
    a move it does not allow writes nothing; the rows are filtered on `from_statuses`, so none moves
    from a state that was not checked."""
    from_statuses = list(from_statuses)
    if not from_statuses:
        raise InvalidTransition(f"{rows.model._meta.label}: no state to move from", code="invalid_transition")
    for status in from_statuses:
        if to_status not in rows.model.TRANSITIONS.get(status, ()):
            raise _refusal(rows.model._meta.label, status, to_status)
    return rows.filter(status__in=from_statuses).update(status=to_status, **changes)


def _refusal(label: str, status: str, new_status: str) -> InvalidTransition:
    return InvalidTransition(f"{label}: {status} → {new_status} is not allowed", code="invalid_transition")


# ---- the lock order ------------------------------------------------------------------------------
#
# Every transaction that changes an account's money or billing state takes its locks in this order:
#
#   1. the official account (`lock_account`; several accounts: `lock_accounts`, in key order);
#   2. that account's rows: its subscription, checkout or renewal, payment methods, e-invoice profile;
#   3. charges and refunds, in key order;
#   4. promo codes, in key order;
#   5. invoices and invoice number ranges.
#
# The account lock comes first and serialises everything of one account, so two transactions of the
# same account never wait for each other in a circle; rows shared between accounts (codes, number
# ranges) are taken after it, in key order. The lock is FOR NO KEY UPDATE: a row that merely refers to
# the account (a charge, an audit record) takes FOR KEY SHARE on it, which that lock does not block.
# Checkout, renewal, retry, refund and recovery all start with `lock_account(s)`.


def advisory_xact_lock(namespace: int, name: str) -> None:
    """On PostgreSQL, hold until commit the lock on `name` of its kind (`namespace`, the first key of
    pg_advisory_xact_lock(int, int)), even when no row exists to lock. Elsewhere a no-op: SQLite lets one
    transaction write at a time."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(name.encode()) - 2**31  # into int4's signed range
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, key])


def lock_account(account_id: int) -> None:
    """Take the account's lock, the first in the lock order above (call inside a transaction)."""
    lock_accounts([account_id])


def lock_accounts(account_ids) -> list[int]:
    """Lock these accounts in key order (the first step of the lock order). Returns the ids locked.

    `account_ids` may be a queryset of ids: it is then a subquery of the one locking statement."""
    if not isinstance(account_ids, models.QuerySet):
        account_ids = list(account_ids)
    rows = OfficialAccount.objects.select_for_update(no_key=True).filter(pk__in=account_ids).order_by("pk")
    return list(rows.values_list("pk", flat=True))
