"""An official account's billing pages (設定 > 帳務專區): interfaces only, each calling one service.

Members see every page; only admins see and may post the forms that spend money or change billing
data (an operator's post is a 403). Another account's pages are a 404.
"""

import io
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.errors import ServiceError
from accounts.http import go, moment_or_none, next_url, opener_policy, page, report, url
from accounts.line_login import line_login_configured
from accounts.money import tax_rate
from accounts.periods import local_date, month_start
from accounts.permissions import account_admin_required, account_member_required
from billing.forms import ExtraMessageCapForm
from billing.models import Plan, Subscription, SubscriptionStatus
from billing.pricing import plan_move
from billing.renewals import failed_renewal_of, next_charge, renewal_pay_now
from billing.selectors import accounts_of_user, billed_messages, plan_terms, plans_with_terms
from billing.services import (
    payment_method_remove,
    subscription_cancel_downgrade,
    subscription_schedule_downgrade,
    subscription_set_extra_message_cap,
)
from invoices.selectors import cardholder_of, has_einvoice_profile
from payments.gateways import GatewayError, gateway
from payments.models import Charge, LinePayRegistration, LinePayRegistrationStatus, MethodStatus, PaymentMethod
from payments.selectors import main_payment_method
from payments.services import (
    card_add as card_add_service,
)
from payments.services import (
    linepay_registration_cancel,
    linepay_registration_confirm,
    linepay_registration_start,
    payment_method_make_main,
)

# ---- helpers shared by the account views ----------------------------------------------------


# ---- the paid-plan terms (付費方案條款) -----------------------------------------------------------


def terms(request):
    """A plain summary of the paid-plan terms, opened from the checkout's terms box (in a new tab, so the summary
    stays as it was). Open to anyone: an admin may read it before logging in. The fees, the tax rate and the retry
    days are the ones in force, from the same data and settings the charges use."""
    month = month_start(local_date(timezone.now()))
    return render(
        request,
        "billing/terms.html",
        {
            "plan_rows": [(plan, plan_terms(plan, month)) for plan in plans_with_terms()],
            "tax_percent": format(tax_rate() * 100, "f").rstrip("0").rstrip("."),
            "retry_days": settings.BILLING_RETRY_DAYS,
            "prorated": settings.BILLING_PRORATE_FREE_TO_PAID,
        },
    )


# ---- choosing an account --------------------------------------------------------------------


@login_required
def account_list(request):
    return render(request, "billing/account_list.html", {"memberships": accounts_of_user(request.user)})


@account_member_required
def account_home(request, account):
    return go(request, "plans", account.pk)


# ---- 推廣方案: plans ---------------------------------------------------------------------------


@account_member_required
def plans(request, account):
    subscription = Subscription.objects.select_related("plan", "scheduled_plan").get(account=account)
    month = subscription.period_start
    plans = plans_with_terms()
    rows = [(plan, plan_terms(plan, month), plan_move(subscription.plan, plan)) for plan in plans]
    if subscription.status == SubscriptionStatus.PAST_DUE:
        upcoming, failed = None, failed_renewal_of(account.pk)
        used = billed_messages(account, failed.period_start if failed else month)  # the month being served
    else:  # the next renewal reads this month's figure already
        upcoming, failed = next_charge(subscription, plans={plan.pk: plan for plan in plans}), None
        used = upcoming.billed_messages
    return page(
        request,
        account,
        "billing/plans.html",
        subscription=subscription,
        plan_rows=rows,
        used_messages=used,
        needs_einvoice=not has_einvoice_profile(account),
        next_charge=upcoming,
        failed_renewal=failed,
        webstore_url=request.build_absolute_uri(reverse("webstore:plans", args=[account.pk])),
    )


def webstore_entry(request, account) -> str:
    """Where the desktop page's QR code leads a phone: the account's webstore plans, through 以LINE登入 where LINE
    Login is configured (the seed's steps 1-2: scan, log in with LINE), else straight there (/login/ follows)."""
    webstore = reverse("webstore:plans", args=[account.pk])
    if line_login_configured():
        return request.build_absolute_uri(f"{reverse('line_login')}?{urlencode({'next': webstore})}")
    return request.build_absolute_uri(webstore)


@account_member_required
def webstore_qr(request, account):
    """The QR code on the desktop page that opens the webstore for the same account on a phone.

    A standalone SVG document (an <img>'s source) needs the SVG namespace on its root, or browsers draw nothing:
    segno's svg_inline() leaves it out (it is meant for inside HTML), its SVG writer keeps it. The light modules
    are painted white so the code scans on any background."""
    svg = io.BytesIO()
    segno.make(webstore_entry(request, account), error="m").save(svg, kind="svg", scale=4, light="#fff", xmldecl=False)
    return HttpResponse(svg.getvalue(), content_type="image/svg+xml")


@require_POST
@account_admin_required
def downgrade(request, account, code):
    plan = get_object_or_404(Plan, code=code)
    try:
        subscription_schedule_downgrade(subscription=account.subscription, plan=plan, actor=request.user)
        messages.success(
            request, _("The downgrade to %(plan)s takes effect on the 1st of next month.") % {"plan": plan.display_name}
        )
    except ServiceError as error:
        report(request, error)
    return go(request, "plans", account.pk)


@require_POST
@account_admin_required
def pay_now(request, account):
    """立即付款: pay the failed renewal now with the main method as it is now."""
    try:
        totals = renewal_pay_now(account=account, actor=request.user, as_of=timezone.now())
    except ServiceError as error:
        report(request, error)
        return go(request, "plans", account.pk)
    if totals.renewed:
        messages.success(request, _("Paid. The account is up to date again."))
    elif totals.failed:
        reason = totals.failures[-1]["reason"]
        messages.error(
            request,
            _("The payment failed again (%(reason)s). Change the main payment method, then pay again.")
            % {"reason": reason},
        )
    elif totals.pending:
        messages.warning(request, _("The gateway has not confirmed the payment yet. This page will say when it has."))
    else:
        messages.info(request, _("This payment is already being made."))
    return go(request, "plans", account.pk)


@require_POST
@account_admin_required
def downgrade_cancel(request, account):
    try:
        subscription_cancel_downgrade(subscription=account.subscription, actor=request.user)
        messages.success(request, _("The scheduled downgrade was cancelled."))
    except ServiceError as error:
        report(request, error)
    return go(request, "plans", account.pk)


@require_POST
@account_admin_required
def extra_message_cap(request, account):
    """Set the High plan's extra-message cap (加購訊息上限), or clear it with the form's `clear` button."""
    form = ExtraMessageCapForm(request.POST)
    clear = "clear" in request.POST
    if not clear and not form.is_valid():
        for error in form.errors.get("extra_message_cap", []):
            messages.error(request, error)
        return go(request, "plans", account.pk)
    cap = None if clear else form.cleaned_data["extra_message_cap"]
    try:
        subscription_set_extra_message_cap(subscription=account.subscription, cap=cap, actor=request.user)
    except ServiceError as error:
        report(request, error)
    else:
        if cap is None:
            messages.success(request, _("The extra-message cap was cleared: extra messages are sent without a limit."))
        else:
            messages.success(
                request,
                _("Extra messages now stop at %(cap)s a month.") % {"cap": intcomma(cap)},
            )
    return go(request, "plans", account.pk)


# ---- 付款方式: payment methods ------------------------------------------------------------------


@account_member_required
def payment_methods(request, account):
    methods = PaymentMethod.objects.filter(account=account).exclude(status=MethodStatus.REVOKED)
    return page(request, account, "billing/payment_methods.html", methods=methods)


@opener_policy("same-origin-allow-popups")
@account_admin_required
def payment_method_add(request, account):
    """Choose a card or LINE Pay (新增付款方式). E-invoice information comes first (SPEC §4)."""
    back = next_url(request, url(request, "payment_methods", account.pk))
    if not has_einvoice_profile(account):
        messages.info(request, _("Register your e-invoice information before adding a payment method."))
        add_again = f"{url(request, 'payment_method_add', account.pk)}?{urlencode({'next': back})}"
        return redirect(f"{url(request, 'einvoice', account.pk)}?{urlencode({'next': add_again})}")
    return page(request, account, "billing/payment_method_add.html", next=back, opened_at=timezone.now().isoformat())


@account_admin_required
def card_add(request, account):
    """Our card form holds only the token the gateway's hosted fields hand it; never a card number."""
    back = next_url(request, url(request, "payment_methods", account.pk))
    if not has_einvoice_profile(account):
        return go(request, "payment_method_add", account.pk)  # which asks for the e-invoice information first
    if request.method == "POST":
        token = request.POST.get("card_token", "")
        if not token:
            messages.error(request, _("Enter the card in the card form first."))
        else:
            try:
                method = card_add_service(
                    account=account, one_time_token=token, actor=request.user, cardholder=cardholder_of(account)
                )
                messages.success(request, _("Added %(method)s.") % {"method": method.label})
                return redirect(back)
            except (ServiceError, GatewayError) as error:
                report(request, error)
    return page(request, account, "billing/card_add.html", next=back, **card_fields(gateway()))


def card_fields(card_gateway) -> dict:
    """The gateway's hosted card fields: the sandbox's own page in an iframe, or TapPay's SDK in a partial."""
    template = getattr(card_gateway, "card_fields_template", "")
    if template:
        return {
            "card_fields_template": template,
            "tappay_app_id": settings.TAPPAY_APP_ID,
            "tappay_app_key": settings.TAPPAY_APP_KEY,
            "tappay_server_type": "sandbox" if settings.TAPPAY_SANDBOX else "production",
        }
    return {"card_fields_url": reverse(card_gateway.card_fields_url_name)}


@require_POST
@opener_policy("unsafe-none")
@account_admin_required
def linepay_start(request, account):
    """Ask LINE Pay for the approval page; the desktop opens it in a pop-up, the webstore goes there."""
    back = next_url(request, url(request, "payment_methods", account.pk))
    if not has_einvoice_profile(account):
        return go(request, "payment_method_add", account.pk)  # which asks for the e-invoice information first

    def absolute(name):
        return lambda order_id: request.build_absolute_uri(url(request, name, account.pk, order_id))

    try:
        _registration, payment_url = linepay_registration_start(
            account=account,
            actor=request.user,
            confirm_url=absolute("linepay_confirm"),
            cancel_url=absolute("linepay_cancel"),
            return_to=back,
        )
    except (ServiceError, GatewayError) as error:
        report(request, error)
        return redirect(back)
    return redirect(payment_url)


@account_admin_required
def linepay_status(request, account):
    """Polled by the desktop page while the pop-up is open: has the latest approval come back?"""
    since = moment_or_none(request.GET.get("since", "")) or timezone.now()
    registration = LinePayRegistration.objects.filter(
        account=account, actor=request.user, created_at__gte=since
    ).first()
    done = registration is not None and registration.status != LinePayRegistrationStatus.PENDING
    if done and request.htmx:
        response = HttpResponse()
        response["HX-Redirect"] = registration.return_to or url(request, "payment_methods", account.pk)
        return response
    return page(request, account, "billing/_linepay_waiting.html", registration=registration)


def _registration(account, order_id) -> LinePayRegistration:
    registration = LinePayRegistration.objects.filter(account=account, order_id=order_id).first()
    if registration is None:
        raise Http404
    return registration


@opener_policy("unsafe-none")
@account_admin_required
def linepay_confirm(request, account, order_id):
    """LINE Pay sends the admin back here with transactionId and orderId (v3 confirmUrl)."""
    registration = _registration(account, order_id)
    if request.GET.get("orderId") != order_id:
        raise Http404
    try:
        method = linepay_registration_confirm(
            registration=registration, transaction_id=request.GET.get("transactionId", ""), actor=request.user
        )
        if method.is_main:
            messages.success(request, _("LINE Pay is now your main payment method."))
        else:
            messages.success(request, _("Added %(method)s.") % {"method": method.label})
    except (ServiceError, GatewayError) as error:
        report(request, error)
    return _back_from_linepay(request, account, registration)


@opener_policy("unsafe-none")
@account_admin_required
def linepay_cancel(request, account, order_id):
    registration = _registration(account, order_id)
    linepay_registration_cancel(registration=registration)
    messages.warning(request, _("LINE Pay was not added: the approval was cancelled or timed out."))
    registration.return_to = url(request, "payment_methods", account.pk)
    return _back_from_linepay(request, account, registration)


def _back_from_linepay(request, account, registration):
    if request.resolver_match.namespace == "webstore":
        return redirect(registration.return_to or url(request, "payment_methods", account.pk))
    # Desktop: this is the pop-up. It tells its opener, which moves on, and closes itself.
    return page(request, account, "billing/linepay_popup_done.html", registration=registration)


@require_POST
@account_admin_required
def method_make_main(request, account, method_id):
    method = get_object_or_404(PaymentMethod, pk=method_id, account=account)
    try:
        payment_method_make_main(method=method, actor=request.user)
        messages.success(request, _("%(method)s is now the main payment method.") % {"method": method.label})
    except ServiceError as error:
        report(request, error)
    return go(request, "payment_methods", account.pk)


@require_POST
@account_admin_required
def method_remove(request, account, method_id):
    method = get_object_or_404(PaymentMethod, pk=method_id, account=account)
    try:
        payment_method_remove(method=method, actor=request.user)
        messages.success(request, _("Removed %(method)s.") % {"method": method.label})
    except ServiceError as error:
        report(request, error)
    return go(request, "payment_methods", account.pk)


# ---- 電子發票資訊: e-invoice information --------------------------------------------------------


# ---- 付款紀錄: payment records -------------------------------------------------------------------


@account_member_required
def payment_records(request, account):
    charges = list(
        Charge.objects.filter(account=account)
        .select_related("payment_method", "redemption__code", "invoice")
        .prefetch_related("invoice__allowances")
        .order_by("-created_at")
    )
    plans = {plan.code: plan for plan in Plan.objects.all()}
    for charge in charges:
        charge.plan = plans.get(charge.plan_code)
    return page(
        request, account, "billing/payment_records.html", charges=charges, main_method=main_payment_method(account)
    )
