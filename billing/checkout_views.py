"""Checkout pages (情境一 to 情境三): each step checks its precondition or sends the admin to the first unmet one."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.errors import ServiceError
from accounts.http import client_address, report, url
from accounts.models import Role
from accounts.permissions import account_admin_required, account_membership
from billing.checkout import (
    EINVOICE,
    NOT_READ,
    PAYMENT_METHOD,
    PROCESSING,
    RECEIPT,
    QuoteChanged,
    checkout_purchase,
    checkout_quote,
    checkout_remove_code,
    checkout_set_code,
    checkout_start,
    checkout_step,
)
from billing.models import Checkout, Plan
from billing.selectors import prefetch_terms
from invoices.models import CHOOSE_ANOTHER_CARRIER
from invoices.selectors import has_einvoice_profile
from payments.gateways import GatewayError
from payments.selectors import main_payment_method
from promos.selectors import buyer_with


@require_POST
@account_admin_required
def upgrade_start(request, account, code):
    """升級: start (or resume) the checkout for this plan."""
    plan = get_object_or_404(Plan, code=code)
    channel = "webstore" if request.resolver_match.namespace == "webstore" else "desktop"
    try:
        checkout = checkout_start(account=account, plan=plan, user=request.user, channel=channel)
    except ServiceError as error:
        report(request, error)
        return redirect(url(request, "plans", account.pk))
    return redirect(url(request, "checkout", checkout.token))


def login_first(view):
    """Someone logged out (an admin following a checkout link) logs in first and comes back: to the page
    itself, or, after a form's post, to the summary."""

    @wraps(view)
    def wrapped(request, token):
        if not request.user.is_authenticated:
            back = request.get_full_path() if request.method == "GET" else url(request, "checkout", token)
            return redirect_to_login(back)
        return view(request, token)

    return wrapped


def admins_checkout(request, token) -> Checkout:
    """The checkout, for an admin of its account only: anyone else gets a 404, an operator a 403."""
    if not request.user.is_authenticated:
        raise Http404
    # The account's subscription (its plan) and e-invoice profile come along: the summary shows the one and
    # checkout_step asks for the other.
    checkout = (
        Checkout.objects.select_related(
            "account__subscription__plan", "account__einvoice_profile", "target_plan", "charge"
        )
        .filter(token=token)
        .first()
    )
    if checkout is None:
        raise Http404
    membership = account_membership(user=request.user, account_id=checkout.account_id, admin=True)
    request.membership = membership
    return checkout


def step_redirect(request, checkout, step):
    here = url(request, "checkout", checkout.token)
    account_id = checkout.account_id
    if step == EINVOICE:
        if has_einvoice_profile(checkout.account):  # registered, but its member carrier is no longer offered
            messages.warning(request, CHOOSE_ANOTHER_CARRIER)
        else:
            messages.info(request, _("You need to register your e-invoice information first."))
        return redirect(f"{url(request, 'einvoice', account_id)}?{urlencode({'next': here})}")
    if step == PAYMENT_METHOD:
        messages.info(request, _("Add a payment method to continue."))
        return redirect(f"{url(request, 'payment_method_add', account_id)}?{urlencode({'next': here})}")
    return redirect(url(request, "checkout_receipt", checkout.token))


@login_first
def checkout(request, token):
    """The summary: current plan → new plan, the charge, the code's deduction and what is forfeited, the total."""
    checkout = admins_checkout(request, token)
    try:
        return _checkout_page(request, checkout)
    except ServiceError as error:  # the plan changed since (another upgrade): this checkout is stale
        report(request, error)
        return redirect(url(request, "plans", checkout.account_id))


def _checkout_page(request, checkout):
    method = main_payment_method(checkout.account)  # read once: the step's precondition, shown, the quote's buyer
    step = checkout_step(checkout, method=method)
    if step == RECEIPT and request.htmx:  # the "being processed" page's poll: load the receipt as a page
        return HttpResponseClientRedirect(url(request, "checkout_receipt", checkout.token))
    if step in (EINVOICE, PAYMENT_METHOD, RECEIPT):
        return step_redirect(request, checkout, step)
    return render_summary(request, checkout, step=step, method=method)


def render_summary(request, checkout, *, quote=None, status=200, step=None, method=NOT_READ):
    if method is NOT_READ:
        method = main_payment_method(checkout.account)
    if quote is None:
        # The account's subscription and both plans came with the checkout (admins_checkout): only the two plans'
        # prices and tiers are read, not every plan's.
        subscription = checkout.account.subscription
        current, target = subscription.plan, checkout.target_plan
        prefetch_terms([current, target])
        quote = checkout_quote(
            checkout,
            buyer=buyer_with(checkout.account, method),
            subscription=subscription,
            plans={current.pk: current, target.pk: target},
        )
    context = {
        "checkout": checkout,
        "account": checkout.account,
        "quote": quote,
        "processing": (step or checkout_step(checkout, method=method)) == PROCESSING,
        "payment_method": method,
        "current_plan": checkout.account.subscription.plan,
        "is_admin": request.membership.role == Role.ADMIN,
    }
    return render(request, "billing/checkout_summary.html", context, status=status)


@require_POST
@login_first
def checkout_code(request, token):
    """登錄: enter the code and see the deduction at once; or remove it."""
    checkout = admins_checkout(request, token)
    if request.POST.get("remove"):
        checkout_remove_code(checkout=checkout)
        return redirect(url(request, "checkout", token))
    try:
        quote = checkout_set_code(checkout=checkout, text=request.POST.get("code", ""), client=client_address(request))
    except ServiceError as error:
        report(request, error)
        return render_summary(request, checkout, status=422)
    messages.success(
        request, _("The code was applied: NT$%(deduction)s off.") % {"deduction": f"{quote.deduction_twd:,}"}
    )
    return redirect(url(request, "checkout", token))


@require_POST
@login_first
def checkout_purchase_view(request, token):
    """購買: the terms must be accepted; the total the admin saw must still be the total."""
    checkout = admins_checkout(request, token)
    if not request.POST.get("accept_terms"):
        messages.error(request, _("Tick the box to agree to the terms before you purchase."))
        return render_summary(request, checkout, status=422)
    try:
        expected = int(request.POST.get("expected_total_twd", ""))
    except ValueError:
        messages.error(request, _("The summary was out of date. Check it and purchase again."))
        return redirect(url(request, "checkout", token))
    try:
        checkout = checkout_purchase(checkout=checkout, expected_total_twd=expected, actor=request.user)
    except QuoteChanged as error:
        report(request, error)
        return render_summary(request, checkout, quote=error.quote, status=409)
    except (ServiceError, GatewayError) as error:
        report(request, error)
        return redirect(url(request, "checkout", token))
    if checkout_step(checkout) == RECEIPT:
        return redirect(url(request, "checkout_receipt", token))
    if checkout.last_error:
        messages.error(request, checkout.last_error)
    return redirect(url(request, "checkout", token))


@login_first
def checkout_receipt(request, token):
    checkout = admins_checkout(request, token)
    if checkout_step(checkout) != RECEIPT:
        return redirect(url(request, "checkout", token))
    charge = checkout.charge
    return render(
        request,
        "billing/receipt.html",
        {
            "checkout": checkout,
            "account": checkout.account,
            "charge": charge,
            "redemption": getattr(charge, "redemption", None),
        },
    )
