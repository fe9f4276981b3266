"""Writes to e-invoice profiles and number ranges (字軌). Issuing and corrections: invoices/issuing.py.

A refusal is the model's ValidationError from full_clean(): interfaces show its per-field messages.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.audit import advisory_xact_lock, audit_record, lock_account, snapshot
from accounts.models import OfficialAccount
from invoices.models import PROFILE_FIELDS, EInvoiceProfile, InvoiceNumberRange, PeriodClosing

NUMBER_RANGE_FIELDS = ("period", "prefix", "first_number", "last_number", "next_number")
# First key of pg_advisory_xact_lock(int, int): which kind of thing the second key names.
NUMBER_RANGE_LOCK_NAMESPACE = 0x4E52  # "NR"
ALLOWANCE_LOCK_NAMESPACE = 0x414C  # "AL": while numbering a period's allowances
PERIOD_CLOSE_LOCK_NAMESPACE = 0x5043  # "PC": while a period is closed, or a range added to it


def einvoice_profile_save(*, account: OfficialAccount, data: dict, actor) -> EInvoiceProfile:
    """Create or update the account's one profile; keys missing from `data` keep their stored value.

    Fields the kind does not use are cleared by the model's clean(). Saving identical data writes nothing.
    """
    unknown = set(data) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"not e-invoice profile fields: {sorted(unknown)}")
    with transaction.atomic():
        # Locking the account serialises the first creation too, when there is no profile row to lock yet.
        lock_account(account.pk)
        profile = EInvoiceProfile.objects.select_for_update().filter(account=account).first()
        before = snapshot(profile, *PROFILE_FIELDS) if profile else None
        profile = profile or EInvoiceProfile(account=account)
        for field, value in data.items():
            setattr(profile, field, value)
        profile.full_clean()
        after = snapshot(profile, *PROFILE_FIELDS)
        if after == before:
            return profile
        profile.save()
        audit_record(
            actor=actor,
            action="einvoice_profile.update" if before else "einvoice_profile.create",
            obj=profile,
            account=account,
            before=before,
            after=after,
        )
    return profile


def invoice_number_range_create(
    *, period: str, prefix: str, first_number: int, last_number: int, actor
) -> InvoiceNumberRange:
    """Register a 字軌 block; refused (ValidationError) when it overlaps one of the same period and letters."""
    number_range = InvoiceNumberRange(
        period=period, prefix=prefix, first_number=first_number, last_number=last_number, next_number=first_number
    )
    with transaction.atomic():
        advisory_xact_lock(PERIOD_CLOSE_LOCK_NAMESPACE, period)
        if PeriodClosing.objects.filter(period=period).exists():
            raise ValidationError(
                {"period": _("Period %(period)s is closed: its blank numbers were reported.") % {"period": period}},
                code="period_closed",
            )
        _lock_track(period=period, prefix=prefix)
        number_range.full_clean()
        number_range.save()
        audit_record(
            actor=actor,
            action="invoice_number_range.create",
            obj=number_range,
            after=snapshot(number_range, *NUMBER_RANGE_FIELDS),
        )
    return number_range


def _lock_track(*, period: str, prefix: str) -> None:
    """Hold, until commit, the right to add ranges to one period and 字軌, so the overlap check stays true.

    Locking the existing rows is not enough: two first ranges of a track have no row to lock. On
    PostgreSQL a transaction-scoped advisory lock on the (period, prefix) pair covers that case; SQLite
    lets one transaction write at a time and makes a second, concurrent writer fail.
    """
    advisory_xact_lock(NUMBER_RANGE_LOCK_NAMESPACE, f"{period}:{prefix}")
    list(InvoiceNumberRange.objects.select_for_update().filter(period=period, prefix=prefix).values_list("pk"))
