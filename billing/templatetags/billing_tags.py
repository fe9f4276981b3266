from django import template

register = template.Library()


@register.filter
def twd(amount) -> str:
    """Whole NT$ as merchants read them: NT$1,200, and -NT$800 for a deduction."""
    if amount in (None, ""):
        return "—"
    amount = int(amount)
    return f"-NT${-amount:,}" if amount < 0 else f"NT${amount:,}"
