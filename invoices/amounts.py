"""The amounts an invoice shows and sends: a B2C invoice's lines carry tax, a B2B invoice's do not.

SPEC §4 and shared/reference/einvoice-compliance.md §3: a consumer invoice is issued at the tax-inclusive
price (營業稅法 §32: "買受人為非營業人者，應與銷售額合計開立"), so its lines add up to its total and its F0401
carries the total as the sales amount with tax 0. A company's invoice states sales and tax apart, its lines
adding up to the sales amount. The invoice keeps the untaxed lines and the sales/tax split it was issued with
(for the books, the QR code's 銷售額 and the 401's B2C back-out); the tax-inclusive lines are worked out from
them here, the same way every time, so the proof, the QR codes and the F0401 agree.
"""

from fractions import Fraction


def apportion_twd(weights: list[int], total_twd: int) -> list[int]:
    """`total_twd` shared out in proportion to `weights` (their sum must be above 0), in whole NT$ that add up
    to `total_twd` exactly.

    Largest remainder: each share is first rounded down; the NT$1s left over (fewer than there are weights) go
    one each to the shares whose dropped fractions were largest, the earlier line first on a tie. So no share
    is NT$1 or more from its exact value, and a share that comes out whole is never touched (an NT$800 fee on
    an NT$840 invoice stays 840). A negative weight (a code's deduction) gets a negative share.
    """
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("weights must add up to more than 0")
    exact = [Fraction(weight * total_twd, weight_sum) for weight in weights]
    shares = [share.numerator // share.denominator for share in exact]
    left_over = total_twd - sum(shares)
    by_fraction = sorted(range(len(weights)), key=lambda index: (-(exact[index] - shares[index]), index))
    for index in by_fraction[:left_over]:
        shares[index] += 1
    return shares


def tax_inclusive_lines(lines: list[dict], total_twd: int) -> list[dict]:
    """The invoice's untaxed lines restated with the tax in them, adding up to `total_twd`.

    Every item is one unit (invoices.issuing.lines_snapshot), so its unit price is its amount. Lines that do not
    add up to more than 0 (none should) are shown as one line of the total under the first line's description.
    """
    weights = [int(line["amount_twd"]) for line in lines]
    if not lines or sum(weights) <= 0:
        description = lines[0]["description"] if lines else ""
        return [{"description": description, "quantity": 1, "unit_price_twd": total_twd, "amount_twd": total_twd}]
    return [
        {**line, "quantity": 1, "unit_price_twd": amount_twd, "amount_twd": amount_twd}
        for line, amount_twd in zip(lines, apportion_twd(weights, total_twd), strict=True)
    ]


def invoice_lines(invoice) -> list[dict]:
    """The lines as the invoice states them: tax-inclusive for a consumer (adding up to the total), untaxed for
    a company (adding up to the sales amount, the tax on its own line)."""
    if invoice.is_b2b:
        return [{"quantity": 1, "unit_price_twd": line["amount_twd"], **line} for line in invoice.lines]
    return tax_inclusive_lines(invoice.lines, invoice.total_twd)
