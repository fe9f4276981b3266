"""An account's 電子發票資訊 page, and the printable proof (電子發票證明聯) of an invoice, for its members only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.http import next_url, page, report, url
from accounts.models import Role
from accounts.permissions import account_member_required, account_membership
from invoices.barcode import code39_svg
from invoices.forms import EInvoiceProfileForm
from invoices.issuing import period_label
from invoices.models import Invoice, InvoiceStatus, ProfileKind
from invoices.services import einvoice_profile_save

# A first visit starts on the first kind, so the page shows that kind's fields, not all seven (the script shows
# another kind's when one is picked; without the script every field shows and the server still checks them).
FIRST_KIND = ProfileKind.choices[0][0]


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


@account_member_required
def einvoice(request, account):
    profile = getattr(account, "einvoice_profile", None)
    back = next_url(request, "")
    if request.method == "POST":
        if request.membership.role != Role.ADMIN:
            return HttpResponse(status=403)
        form = EInvoiceProfileForm(request.POST, instance=profile)
        if form.is_valid():
            try:
                einvoice_profile_save(account=account, data=form.cleaned_data, actor=request.user)
                messages.success(request, _("Your e-invoice information was saved."))
                return redirect(back or url(request, "einvoice", account.pk))
            except ServiceError as error:
                report(request, error)
    else:
        form = EInvoiceProfileForm(instance=profile, initial=None if profile else {"kind": FIRST_KIND})
    return page(request, account, "invoices/einvoice.html", form=form, profile=profile, next=back)
