"""Money as merchants and the tax bureau count it: whole NT$ in ints, rounded once."""

from decimal import ROUND_HALF_UP, Decimal


def round_half_up_twd(amount: Decimal) -> int:
    """Whole NT$, halves away from zero (the tax bureau's 四捨五入)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
