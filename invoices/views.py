"""An account's 電子發票資訊 page, and the printable proof (電子發票證明聯) of an invoice, for its members only."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.http import next_url, page, report, url
from accounts.models import Role
from accounts.permissions import account_member_required, account_membership
from invoices.amounts import invoice_lines
from invoices.barcode import code39_svg
from invoices.forms import EInvoiceProfileForm
from invoices.issuing import period_label
from invoices.models import CHOOSE_ANOTHER_CARRIER, Allowance, Invoice, InvoiceStatus, first_kind
from invoices.qr import invoice_qr_pair
from invoices.services import einvoice_profile_save

logger = logging.getLogger(__name__)


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
        "lines": invoice_lines(invoice),
        "is_voided": invoice.status == InvoiceStatus.VOIDED,
        "is_pending": invoice.status == InvoiceStatus.NUMBER_PENDING,
        # The QR pair belongs on an issued B2C invoice's proof only (a B2B proof prints its lines and tax).
        "shows_qr": invoice.status == InvoiceStatus.ISSUED and not invoice.is_b2b,
    }
    if context["shows_qr"]:
        context["qr"], context["qr_missing"] = _qr_pair(invoice)
    return render(request, "invoices/proof.html", context)


@login_required
def allowance_proof(request, allowance_id: int):
    """折讓證明單: what an allowance gave back of which invoice, for the buyer's books."""
    allowance = get_object_or_404(Allowance.objects.select_related("invoice__charge__account"), pk=allowance_id)
    account_membership(user=request.user, account_id=allowance.invoice.charge.account_id)  # 404 for anyone else
    return render(
        request,
        "invoices/allowance_proof.html",
        {"allowance": allowance, "invoice": allowance.invoice, "account": allowance.invoice.charge.account},
    )


def _qr_pair(invoice):
    """(the invoice's QR codes, None), or (None, why the page says they are not available): no 種子密碼 is
    configured, or the invoice's own fields cannot make a valid code (logged for staff). Never a wrong code."""
    try:
        pair = invoice_qr_pair(invoice)
    except ValueError as error:
        logger.error("The QR codes of invoice %s cannot be made: %s", invoice.pk, error)
        return None, _("The QR codes of this invoice cannot be shown at the moment.")
    if pair is None:
        return None, _("The QR codes of this invoice are not available: the seller's QR code seed is not configured.")
    return pair, ""


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
        # A first visit starts on the first kind offered, so the page shows that kind's fields, not all of them
        # (the script shows another kind's when one is picked; without it every field shows and the server still
        # checks them).
        form = EInvoiceProfileForm(instance=profile, initial=None if profile else {"kind": first_kind()})
    return page(
        request,
        account,
        "invoices/einvoice.html",
        form=form,
        profile=profile,
        next=back,
        choose_another_carrier=CHOOSE_ANOTHER_CARRIER,
    )
