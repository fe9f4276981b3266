"""Recording a usage figure, whoever gives it (the Messaging API, a staff import): written and audited only when it
changes, so a figure given again changes nothing."""

from collections import defaultdict

from accounts.audit import audit_entry, snapshot
from accounts.bulk import update_rows
from accounts.models import AuditRecord


def figure_set(row, *, actor, action: str, **values) -> list[AuditRecord]:
    """Give `row` (a MonthlyUsage or DailyUsage, stored or new) `values` and save it; returns the audit entry for
    the caller to save with the others, or nothing when the row already held them."""
    return figures_set([(row, values)], actor=actor, action=action)


def figures_set(changes, *, actor, action: str) -> list[AuditRecord]:
    """`figure_set` for many (row, values) at once: the new rows of a model in one INSERT, the changed ones in one
    pipelined UPDATE (the sync records a batch of channels together). Each row's account must be loaded or
    cached (the audit entry names it). Returns the audit entries of the rows that changed, for the caller to save."""
    new, changed, done = defaultdict(list), defaultdict(list), []
    for row, values in changes:
        if row.pk is not None and all(getattr(row, name) == value for name, value in values.items()):
            continue
        before = snapshot(row, *values) if row.pk is not None else None
        for name, value in values.items():
            setattr(row, name, value)
        if row.pk is None:
            new[type(row)].append(row)
        else:
            changed[type(row), tuple(values)].append(row)
        done.append((row, before, tuple(values)))
    for model, rows in new.items():
        model.objects.bulk_create(rows)  # their keys come back: the audit entries need them
    for (model, names), rows in changed.items():
        stamped = [field.name for field in model._meta.concrete_fields if getattr(field, "auto_now", False)]
        update_rows(rows, [*names, *stamped])
    return [
        audit_entry(
            actor=actor, action=action, obj=row, account=row.account, before=before, after=snapshot(row, *names)
        )
        for row, before, names in done
    ]
