"""Whether a promo code may reduce a charge: the one home of the rule (SPEC §3), as a pure function.

Checkout, registration for a renewal and the renewal itself all ask `code_refusal`; callers turn rows
into the plain data below (see promos.selectors).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class CodeTerms:
    code: str
    status: str
    registered_account_id: int | None
    face_value_twd: int
    valid_from: datetime
    valid_until: datetime
    regions: frozenset[str]
    payment_method_kinds: frozenset[str]
    charge_kinds: frozenset[str]


@dataclass(frozen=True)
class Buyer:
    """What pricing needs to know of the paying account."""

    account_id: int
    region: str
    main_payment_method_kind: str | None


class CodeRefusal(models.TextChoices):
    """Why a code does not apply, in words an admin can act on."""

    UNKNOWN = "unknown", _("There is no such code. Check the code and try again.")
    VOID = "void", _("This code has been voided and can no longer be used.")
    REDEEMED = "redeemed", _("This code has already been used.")
    IN_USE = "in_use", _("This code is being used by a payment in progress. Try again in a few minutes.")
    REGISTERED_ELSEWHERE = "registered_elsewhere", _("This code is registered to another official account.")
    NOT_YET_VALID = "not_yet_valid", _("This code's validity period has not started yet.")
    EXPIRED = "expired", _("This code's validity period has ended.")
    # Registration only: still valid today, but over before the renewal it would be registered for.
    ENDS_BEFORE_RENEWAL = (
        "ends_before_renewal",
        _("This code's validity period ends before the next renewal, so it cannot be registered for the renewal."),
    )
    WRONG_REGION = "wrong_region", _("This code cannot be used by official accounts in your region.")
    NO_PAYMENT_METHOD = "no_payment_method", _("Set a main payment method before you use a code.")
    WRONG_PAYMENT_METHOD = "wrong_payment_method", _("This code cannot be used with your main payment method.")
    WRONG_CHARGE = "wrong_charge", _("This code cannot be used for this purchase.")
    NOTHING_TO_DEDUCT = "nothing_to_deduct", _("The Light plan has no monthly fee, so the code is not used.")


def code_refusal(*, code: CodeTerms | None, buyer: Buyer, at: datetime, charge_kind: str | None) -> CodeRefusal | None:
    """Why `code` cannot reduce a charge of `charge_kind` for `buyer` at `at`; None when it can.

    The window is inclusive at both ends. `charge_kind=None` skips the charge check (used when a
    code is registered for a renewal whose kind is not known yet).
    """
    if code is None:
        return CodeRefusal.UNKNOWN
    if code.status == "void":
        return CodeRefusal.VOID
    if code.status == "expired":
        return CodeRefusal.EXPIRED
    if code.status == "redeemed":
        return CodeRefusal.REDEEMED
    if code.status == "held":
        return CodeRefusal.IN_USE
    if code.status == "registered" and code.registered_account_id != buyer.account_id:
        return CodeRefusal.REGISTERED_ELSEWHERE
    if at < code.valid_from:
        return CodeRefusal.NOT_YET_VALID
    if at > code.valid_until:
        return CodeRefusal.EXPIRED
    if buyer.region not in code.regions:
        return CodeRefusal.WRONG_REGION
    if buyer.main_payment_method_kind is None:
        return CodeRefusal.NO_PAYMENT_METHOD
    if buyer.main_payment_method_kind not in code.payment_method_kinds:
        return CodeRefusal.WRONG_PAYMENT_METHOD
    if charge_kind is not None and charge_kind not in code.charge_kinds:
        return CodeRefusal.WRONG_CHARGE
    return None
