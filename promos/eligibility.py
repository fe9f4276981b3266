"""Whether a promo code may reduce a charge: the one home of the rule (SPEC §3), as pure functions.

Checkout and the renewal ask `code_refusal`, registration for a renewal `registration_refusal`, holding and
redeeming `state_refusal`, and the expiry of codes `window_closed`; callers turn rows into the plain data below
(see promos.selectors).
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


# The charges a code registered for a renewal may reduce (promos.models.ChargeKind).
RENEWAL_CHARGE_KINDS = frozenset({"renewal_medium", "renewal_high"})


def window_closed(campaign, at: datetime) -> bool:
    """Whether the campaign's validity window is over at `at` (it is inclusive: a code works up to its last
    second). `campaign`: a Campaign or CodeTerms. A registered code whose window has closed is expired."""
    return at > campaign.valid_until


def state_refusal(
    *, status: str, registered_account_id: int | None, account_id: int, held_for_this_charge: bool = False
) -> CodeRefusal | None:
    """Why a code in this state cannot be used by the account; None when it can. A code held for a payment
    in progress is in use, unless `held_for_this_charge` (the payment it is held for is the one settling)."""
    if status == "void":
        return CodeRefusal.VOID
    if status == "expired":
        return CodeRefusal.EXPIRED
    if status == "redeemed":
        return CodeRefusal.REDEEMED
    if status == "held" and not held_for_this_charge:
        return CodeRefusal.IN_USE
    if status == "registered" and registered_account_id != account_id:
        return CodeRefusal.REGISTERED_ELSEWHERE
    return None


def code_refusal(*, code: CodeTerms | None, buyer: Buyer, at: datetime, charge_kind: str | None) -> CodeRefusal | None:
    """Why `code` cannot reduce a charge of `charge_kind` for `buyer` at `at`; None when it can.

    The window is inclusive at both ends. `charge_kind=None` skips the charge check (used when a
    code is registered for a renewal whose kind is not known yet).
    """
    if code is None:
        return CodeRefusal.UNKNOWN
    refusal = state_refusal(
        status=code.status, registered_account_id=code.registered_account_id, account_id=buyer.account_id
    )
    if refusal is not None:
        return refusal
    if at < code.valid_from:
        return CodeRefusal.NOT_YET_VALID
    if window_closed(code, at):
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


def registration_refusal(
    *, code: CodeTerms | None, buyer: Buyer, at: datetime, renewal_at: datetime
) -> CodeRefusal | None:
    """Why `code` cannot be registered at `at` for the buyer's renewal at `renewal_at` (情境四); None when it can.

    It must be one the renewal could use (`code_refusal` at `renewal_at`, whatever the renewal's plan), not
    registered already, and for renewals. One still valid at `at` but over by `renewal_at` is
    ENDS_BEFORE_RENEWAL rather than EXPIRED, so the admin learns it is the renewal's date that rules it out.
    """
    refusal = code_refusal(code=code, buyer=buyer, at=renewal_at, charge_kind=None)
    if refusal is None and code.status == "registered":
        refusal = CodeRefusal.REGISTERED_ELSEWHERE
    if refusal is None and not RENEWAL_CHARGE_KINDS & code.charge_kinds:
        refusal = CodeRefusal.WRONG_CHARGE
    if refusal == CodeRefusal.EXPIRED and code.status != "expired" and not window_closed(code, at):
        refusal = CodeRefusal.ENDS_BEFORE_RENEWAL
    return refusal
