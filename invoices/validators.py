"""Taiwan e-invoice identifiers (SPEC §4; rules and sources in shared/reference/domain-facts.md §4)."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

UBN_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)
MOBILE_BARCODE_RE = re.compile(r"^/[0-9A-Z.+\-]{7}$")
CITIZEN_CERTIFICATE_RE = re.compile(r"^[A-Z]{2}[0-9]{14}$")
DONATION_CODE_RE = re.compile(r"^[0-9]{3,7}$")


def ubn_is_valid(ubn: str) -> bool:
    """統一編號 checksum with the MOF rule in force since 2023-04-01: divisible by 5, not 10.

    Each digit times its weight; the digits of each product are added (28 → 10, kept as 10).
    When the 7th digit is 7 its product is 28 → 10 → either 1 or 0, so a sum one short also passes.
    python-stdnum ≤ 2.2 still divides by 10 and rejects numbers issued after the change.
    """
    if not re.fullmatch(r"[0-9]{8}", ubn or ""):
        return False
    total = sum(product // 10 + product % 10 for product in (int(d) * w for d, w in zip(ubn, UBN_WEIGHTS, strict=True)))
    return total % 5 == 0 or (ubn[6] == "7" and (total + 1) % 5 == 0)


def validate_ubn(value: str) -> None:
    if not re.fullmatch(r"[0-9]{8}", value or ""):
        raise ValidationError(_("A 統一編號 is exactly 8 digits."), code="ubn_format")
    if not ubn_is_valid(value):
        raise ValidationError(_("This 統一編號 fails the check-digit test; please check it."), code="ubn_checksum")


def validate_mobile_barcode(value: str) -> None:
    if not MOBILE_BARCODE_RE.fullmatch(value or ""):
        raise ValidationError(
            _("A mobile barcode is / followed by 7 characters: digits, capital letters, . + or -."),
            code="mobile_barcode",
        )


def validate_citizen_certificate(value: str) -> None:
    if not CITIZEN_CERTIFICATE_RE.fullmatch(value or ""):
        raise ValidationError(
            _("A citizen digital certificate number is 2 capital letters followed by 14 digits."),
            code="citizen_certificate",
        )


def validate_donation_code(value: str) -> None:
    if not DONATION_CODE_RE.fullmatch(value or ""):
        raise ValidationError(_("A donation code (愛心碼) is 3 to 7 digits."), code="donation_code")


def validate_invoice_period(value: str) -> None:
    """A two-month period as ROC year + even month: 11502 is January–February 2026."""
    if not re.fullmatch(r"[0-9]{5}", value or "") or int(value[3:]) not in (2, 4, 6, 8, 10, 12):
        raise ValidationError(
            _("A period is the ROC year and an even month, e.g. 11502 for January–February 2026."),
            code="invoice_period",
        )
