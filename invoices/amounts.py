"""The amounts an invoice shows and sends: a B2C invoice's lines carry tax, a B2B invoice's do not.

SPEC §4 and shared/reference/einvoice-compliance.md §3: a consumer invoice is issued at the tax-inclusive
price (營業稅法 §32: "買受人為非營業人者，應與銷售額合計開立"), so its lines add up to its total and its F0401
carries the total as the sales amount with tax 0. A company's invoice states sales and tax apart, its lines
adding up to the sales amount. The invoice keeps the untaxed lines and the sales/tax split it was issued with
(for the books, the QR code's 銷售額 and the 401's B2C back-out); the tax-inclusive lines are worked out from
them here, the same way every time, so the proof, the QR codes and the F0401 agree.
"""

from fractions import Fraction

from accounts.money import tax_rate


def apportion_twd(exact_shares: list[Fraction], total_twd: int) -> list[int]:
    """Whole NT$ for `exact_shares` that add up to `total_twd` exactly (largest remainder).

    Each share is first rounded down; the NT$1s then missing go one each to the shares whose dropped fractions
    were largest, the earlier line first on a tie. A share that is whole already is kept as it is, and none
    ends up NT$1 or more from its exact value. A ValueError when the shares are too far from the total for
    that (more than NT$1 a share).
    """
    shares = [share.numerator // share.denominator for share in exact_shares]
    missing = total_twd - sum(shares)
    if not 0 <= missing <= len(shares):
        raise ValueError(f"shares adding up to {float(sum(exact_shares))} cannot make NT${total_twd}")
    by_fraction = sorted(range(len(shares)), key=lambda index: (shares[index] - exact_shares[index], index))
    for index in by_fraction[:missing]:
        shares[index] += 1
    return shares


def tax_inclusive_lines(lines: list[dict], total_twd: int) -> list[dict]:
    """The invoice's untaxed lines restated with the tax in them, adding up to `total_twd`.

    Each line is first its own tax-inclusive price, its amount × (1 + the tax rate), exactly; the tax was rounded
    once, on the whole invoice (less than NT$0.50 away), and largest remainder turns those prices into whole NT$
    that add up to the total: an NT$800 fee is NT$840, a NT$800 code's deduction −NT$840, NT$123 of extra
    messages NT$129 (129.15) on an invoice of NT$123 + 6. Should the lines not add up to the amount the tax was
    worked out on (the rate changed since), the total is shared out in proportion to the lines instead. Lines
    adding up to nothing (none should) become one line of the total under the first line's description.

    Every item is one unit (invoices.issuing.lines_snapshot), so a line's unit price is its amount.
    """
    amounts = [int(line["amount_twd"]) for line in lines]
    try:
        shares = apportion_twd([amount * (1 + Fraction(tax_rate())) for amount in amounts], total_twd)
    except ValueError:
        if sum(amounts) <= 0:
            description = lines[0]["description"] if lines else ""
            return [{"description": description, "quantity": 1, "unit_price_twd": total_twd, "amount_twd": total_twd}]
        shares = apportion_twd([Fraction(amount * total_twd, sum(amounts)) for amount in amounts], total_twd)
    return [
        {**line, "quantity": 1, "unit_price_twd": amount_twd, "amount_twd": amount_twd}
        for line, amount_twd in zip(lines, shares, strict=True)
    ]


def invoice_lines(invoice) -> list[dict]:
    """The lines as the invoice states them: tax-inclusive for a consumer (adding up to the total), untaxed for
    a company (adding up to the sales amount, the tax on its own line)."""
    if invoice.is_b2b:
        return [{"quantity": 1, "unit_price_twd": line["amount_twd"], **line} for line in invoice.lines]
    return tax_inclusive_lines(invoice.lines, invoice.total_twd)
