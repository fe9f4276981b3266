"""The printable proof (電子發票證明聯) of an invoice, for the members of its account only."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from accounts.permissions import account_membership
from invoices.barcode import code39_svg
from invoices.issuing import period_label
from invoices.models import Invoice, InvoiceStatus


@login_required
def proof(request, invoice_id: int):
    invoice = get_object_or_404(Invoice.objects.select_related("charge__account"), pk=invoice_id)
    account_membership(user=request.user, account_id=invoice.charge.account_id)  # 404 for anyone else
    barcode = code39_svg(f"{invoice.period}{invoice.number}{invoice.random_code}") if invoice.number else ""
    context = {
        "invoice": invoice,
        "account": invoice.charge.account,
        "period": period_label(invoice.period),
        "barcode": barcode,
        "is_voided": invoice.status == InvoiceStatus.VOIDED,
        "is_pending": invoice.status == InvoiceStatus.NUMBER_PENDING,
    }
    return render(request, "invoices/proof.html", context)
