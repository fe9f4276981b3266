"""Money as merchants and the tax bureau count it: whole NT$ in ints, rounded once, taxed at one rate."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings


def round_half_up_twd(amount: Decimal) -> int:
    """Whole NT$, halves away from zero (the tax bureau's 四捨五入)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def tax_rate() -> Decimal:
    """The business tax rate (營業稅, 5% by default): the BILLING_TAX_RATE setting, read only here."""
    return settings.BILLING_TAX_RATE
