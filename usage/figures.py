"""Recording a usage figure, whoever gives it (the Messaging API, a staff import): written and audited only when it
changes, so a figure given again changes nothing."""

from accounts.audit import audit_entry, snapshot
from accounts.models import AuditRecord


def figure_set(row, *, actor, action: str, **values) -> list[AuditRecord]:
    """Give `row` (a MonthlyUsage or DailyUsage, stored or new) `values` and save it; returns the audit entry for
    the caller to save with the others, or nothing when the row already held them."""
    if row.pk is not None and all(getattr(row, name) == value for name, value in values.items()):
        return []
    before = snapshot(row, *values) if row.pk is not None else None
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    after = snapshot(row, *values)
    return [audit_entry(actor=actor, action=action, obj=row, account=row.account, before=before, after=after)]
