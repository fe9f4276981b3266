"""The staff admin for official accounts, plans and prices, subscriptions, checkouts and renewals."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import (
    AuditedAdmin,
    CheckedModelAdmin,
    ReadOnlyInline,
    ServiceWrittenAdmin,
    become,
    charge_number_column,
    current_month_start,
    json_column,
    money,
    money_column,
    report_service_error,
    subscription_account_column,
)
from accounts.errors import ServiceError
from accounts.models import Membership, OfficialAccount
from billing.extra_messages import BillTotals, extra_message_bills_due, extra_messages_bill
from billing.forms import ExtraMessageCapForm
from billing.models import (
    BillingReminder,
    Checkout,
    ExtraMessagesBill,
    ExtraMessageTier,
    Plan,
    PlanChange,
    PlanCode,
    PlanPrice,
    Renewal,
    RenewalRun,
    RenewalStatus,
    Subscription,
    UsageNotice,
)
from billing.refunds import charge_refund_through_gateway
from billing.renewals import Totals, renewal_retry
from billing.selectors import plan_fee_twd
from billing.services import (
    account_create,
    plan_price_check_future,
    plan_price_save,
    plan_price_withdraw,
    subscription_cancel_downgrade,
    subscription_set_extra_message_cap,
)
from payments import admin as payments_admin
from payments.models import Charge

# ---- official accounts ----------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role")
    raw_id_fields = ("user",)


class AccountAddForm(forms.ModelForm):
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.all(),
        label=_("plan"),
        help_text=_("The plan the account starts on this month."),
    )

    class Meta:
        model = OfficialAccount
        fields = ("name", "basic_id", "region")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].initial = Plan.objects.filter(code=PlanCode.LIGHT).first()


@admin.register(OfficialAccount)
class OfficialAccountAdmin(AuditedAdmin):
    list_display = ("name", "basic_id", "region", "plan", "status", "created_at")
    list_select_related = ("subscription__plan",)
    list_filter = ("region", "subscription__plan", "subscription__status")
    search_fields = ("basic_id", "name")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at",)
    inlines = [MembershipInline]

    @admin.display(description=_("plan"), ordering="subscription__plan__rank")
    def plan(self, account):
        subscription = getattr(account, "subscription", None)
        return subscription.plan if subscription else None

    @admin.display(description=_("status"), ordering="subscription__status")
    def status(self, account):
        subscription = getattr(account, "subscription", None)
        return subscription.get_status_display() if subscription else None

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AccountAddForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        """A new account gets its subscription, first plan change and audit record from the service."""
        if change:
            return super().save_model(request, obj, form, change)
        account = account_create(
            name=obj.name, basic_id=obj.basic_id, region=obj.region, plan=form.cleaned_data["plan"], actor=request.user
        )
        become(obj, account)  # the membership inlines are saved against `obj` next


# ---- plans and prices -----------------------------------------------------------------------


class PlanPriceForm(forms.ModelForm):
    """A new monthly fee, from the first day of a month after the current one (SPEC §2)."""

    class Meta:
        model = PlanPrice
        fields = ("plan", "effective_from", "monthly_fee_twd")

    def clean_effective_from(self):
        day = self.cleaned_data["effective_from"]
        try:
            plan_price_check_future(day)
        except ServiceError as error:
            raise ValidationError(error.message, code=error.code) from None
        return day


class PlanPriceHistoryInline(ReadOnlyInline):
    model = PlanPrice
    fields = ("effective_from", "fee", "created_at")
    readonly_fields = fields
    fee = money_column(PlanPrice, "monthly_fee_twd")
    show_change_link = False


class PlanPriceAddInline(admin.TabularInline):
    """Only new rows: a price already given is history, and its period may have been billed."""

    model = PlanPrice
    form = PlanPriceForm
    fields = ("effective_from", "monthly_fee_twd")
    extra = 0
    can_delete = False
    verbose_name = _("new price")
    verbose_name_plural = _("new prices")

    def get_queryset(self, request):
        return super().get_queryset(request).none()


class ExtraMessageTierInline(admin.TabularInline):
    """A price's tiers; editable only while the price has not started (then the price is history)."""

    model = ExtraMessageTier
    fields = ("from_message", "unit_price_twd")
    extra = 0

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.effective_from > current_month_start()

    has_add_permission = has_delete_permission = has_change_permission


@admin.register(Plan)
class PlanAdmin(AuditedAdmin):
    list_display = (
        "code",
        "name_zh_hant",
        "name_en",
        "rank",
        "free_message_quota",
        "extra_messages_allowed",
        "current_fee",
        "next_price",
    )
    readonly_fields = ("code", "rank")
    inlines = [PlanPriceHistoryInline, PlanPriceAddInline]

    def get_queryset(self, request):
        prices = Prefetch("prices", queryset=PlanPrice.objects.order_by("-effective_from"))
        return super().get_queryset(request).prefetch_related(prices)

    def save_formset(self, request, form, formset, change):
        if formset.model is not PlanPrice:
            return super().save_formset(request, form, formset, change)
        for price in formset.save(commit=False):
            plan_price_save(price=price, tiers=None, actor=request.user)

    # Plans are the three of SPEC §2, referenced by every subscription and charge.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("monthly fee this month"))
    def current_fee(self, plan):
        try:
            return money(plan_fee_twd(plan, current_month_start()))
        except LookupError:
            return None

    @admin.display(description=_("next price"))
    def next_price(self, plan):
        upcoming = [price for price in plan.prices.all() if price.effective_from > current_month_start()]
        if not upcoming:
            return None
        price = min(upcoming, key=lambda p: p.effective_from)
        return gettext("%(fee)s from %(month)s") % {"fee": money(price.monthly_fee_twd), "month": price.effective_from}


@admin.register(PlanPrice)
class PlanPriceAdmin(CheckedModelAdmin):
    """A price is a fee with its tiers from a month on. Prices in force are history; future ones may change."""

    form = PlanPriceForm
    list_display = ("plan", "effective_from", "fee", "created_at")
    list_select_related = ("plan",)
    list_filter = ("plan",)
    inlines = [ExtraMessageTierInline]
    fee = money_column(PlanPrice, "monthly_fee_twd")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.effective_from <= current_month_start():
            return False
        return super().has_change_permission(request, obj)

    has_delete_permission = has_change_permission

    def save_model(self, request, obj, form, change):
        """Saved with its tiers in save_related, by one service call."""

    def save_related(self, request, form, formsets, change):
        tiers = [
            (row["from_message"], row["unit_price_twd"])
            for formset in formsets
            for row in formset.cleaned_data
            if row and not row.get("DELETE")
        ]
        plan_price_save(price=form.instance, tiers=tiers or None, actor=request.user)

    def construct_change_message(self, request, form, formsets, add=False):
        # The tiers were saved by the service, not by the formsets; the audit record holds them.
        return super().construct_change_message(request, form, None, add)

    def delete_model(self, request, obj):
        plan_price_withdraw(price=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for price in queryset:
            plan_price_withdraw(price=price, actor=request.user)


# ---- subscriptions and their history --------------------------------------------------------


@admin.register(Subscription)
class SubscriptionAdmin(ServiceWrittenAdmin):
    list_display = ("account", "plan", "period_start", "scheduled_plan", "status", "extra_message_cap", "updated_at")
    list_select_related = ("account", "plan", "scheduled_plan")
    list_filter = ("status", "plan", "scheduled_plan")
    search_fields = ("account__basic_id", "account__name")
    actions = ["cancel_downgrade", "set_extra_message_cap"]

    @admin.action(description=_("Set the extra-message cap…"), permissions=["service"])
    def set_extra_message_cap(self, request, queryset):
        """An intermediate form (the cap; empty for none), then the same service as the plans page."""
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one subscription."), level=messages.ERROR)
            return None
        subscription = queryset.select_related("account", "plan").get()
        form = ExtraMessageCapForm(request.POST if "apply" in request.POST else None, required=False)
        if form.is_valid():
            cap = form.cleaned_data["extra_message_cap"]
            try:
                subscription_set_extra_message_cap(subscription=subscription, cap=cap, actor=request.user)
            except ServiceError as error:
                report_service_error(self, request, error, subject=subscription.account.basic_id)
                return None
            if cap is None:
                text = gettext("%(account)s: no extra-message cap.") % {"account": subscription.account.basic_id}
            else:
                text = gettext("%(account)s: extra messages stop at %(cap)s a month.") % {
                    "account": subscription.account.basic_id,
                    "cap": f"{cap:,}",
                }
            self.message_user(request, text, level=messages.SUCCESS)
            return None
        if not form.is_bound:
            form = ExtraMessageCapForm(initial={"extra_message_cap": subscription.extra_message_cap}, required=False)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "subscription": subscription,
            "title": _("Extra-message cap"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/billing/subscription/extra_message_cap.html", context)

    @admin.action(description=_("Cancel scheduled downgrade"), permissions=["service"])
    def cancel_downgrade(self, request, queryset):
        cancelled = 0
        for subscription in queryset.select_related("account"):
            try:
                subscription_cancel_downgrade(subscription=subscription, actor=request.user)
            except ServiceError as error:
                report_service_error(self, request, error, subject=subscription.account.basic_id)
            else:
                cancelled += 1
        if cancelled:
            text = ngettext(
                "%(count)d scheduled downgrade cancelled.", "%(count)d scheduled downgrades cancelled.", cancelled
            )
            self.message_user(request, text % {"count": cancelled}, level=messages.SUCCESS)


@admin.register(PlanChange)
class PlanChangeAdmin(ServiceWrittenAdmin):
    list_display = ("created_at", "account", "kind", "from_plan", "to_plan", "effective_on", "charge_number", "actor")
    list_select_related = ("subscription__account", "from_plan", "to_plan", "actor")
    list_filter = ("kind", "to_plan")
    search_fields = ("subscription__account__basic_id", "subscription__account__name")
    date_hierarchy = "created_at"

    account = subscription_account_column()
    charge_number = charge_number_column()


@admin.register(Checkout)
class CheckoutAdmin(ServiceWrittenAdmin):
    list_display = (
        "token_start",
        "account",
        "user",
        "target_plan",
        "channel",
        "status",
        "attempt",
        "charge_number",
        "created_at",
    )
    list_select_related = ("account", "user", "target_plan")
    list_filter = ("status", "channel", "target_plan")
    search_fields = ("account__basic_id", "account__name", "token")
    date_hierarchy = "created_at"

    @admin.display(description=_("token"))
    def token_start(self, checkout):
        return f"{checkout.token[:8]}…"

    charge_number = charge_number_column()


@admin.register(RenewalRun)
class RenewalRunAdmin(ServiceWrittenAdmin):
    list_display = ("started_at", "command", "as_of", "status", "renewed", "charged", "failed", "host", "pid")
    list_filter = ("command", "status")
    date_hierarchy = "started_at"
    readonly_fields = ("totals_json",)
    totals_json = json_column(RenewalRun, "totals")

    @admin.display(description=_("renewed"))
    def renewed(self, run):
        return run.totals.get("renewed")

    @admin.display(description=_("charged"))
    def charged(self, run):
        return money(run.totals.get("charged_twd"))

    @admin.display(description=_("failed"))
    def failed(self, run):
        return run.totals.get("failed")


@admin.register(Renewal)
class RenewalAdmin(ServiceWrittenAdmin):
    list_display = (
        "subscription_account",
        "period_start",
        "plan",
        "status",
        "attempts",
        "next_retry_on",
        "last_error",
        "charge_number",
        "updated_at",
    )
    list_select_related = ("subscription__account", "plan")
    list_filter = ("status", "period_start", "plan")
    search_fields = ("subscription__account__basic_id", "subscription__account__name")
    actions = ["retry_now"]

    subscription_account = subscription_account_column()
    charge_number = charge_number_column()

    @admin.action(description=_("Retry the charge now"), permissions=["service"])
    def retry_now(self, request, queryset):
        totals = Totals()
        for renewal in queryset.filter(status=RenewalStatus.FAILED):
            renewal_retry(renewal_id=renewal.pk, as_of=timezone.now(), totals=totals, on_its_day=False)
        self.message_user(
            request,
            gettext("Retried: %(renewed)s renewed, %(failed)s failed again, %(pending)s waiting for the gateway.")
            % {"renewed": totals.renewed, "failed": totals.failed, "pending": totals.pending},
            level=messages.WARNING if totals.failed else messages.SUCCESS,
        )


# ---- charges: payments' admin, with the refund billing orchestrates --------------------------------------------


class RefundForm(forms.Form):
    amount_twd = forms.IntegerField(
        label=_("amount (NT$)"), min_value=1, required=False, help_text=_("Empty: everything not yet refunded.")
    )
    reason = forms.CharField(label=_("reason"), max_length=255)


@admin.register(Charge)
class ChargeAdmin(payments_admin.ChargeAdmin):
    actions = ["refund"]

    @admin.action(description=_("Refund through the gateway…"), permissions=["service"])
    def refund(self, request, queryset):
        """An intermediate form (amount, reason), then billing.refunds for the one selected charge."""
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one charge to refund."), level=messages.ERROR)
            return None
        charge = queryset.get()
        form = RefundForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                data = form.cleaned_data
                refund = charge_refund_through_gateway(
                    charge=charge, amount_twd=data["amount_twd"], reason=data["reason"], actor=request.user
                )
            except ServiceError as error:
                self.message_user(request, error.message, level=messages.ERROR)
                return None
            self.message_user(request, _("Refunded NT$%(amount)s.") % {"amount": f"{refund.amount_twd:,}"})
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "charge": charge,
            "title": _("Refund"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/payments/charge/refund.html", context)


@admin.register(UsageNotice)
class UsageNoticeAdmin(ServiceWrittenAdmin):
    list_display = ("sent_at", "account", "month", "threshold", "billed_messages")
    list_select_related = ("account",)
    list_filter = ("threshold", "month")
    search_fields = ("account__basic_id", "account__name")
    date_hierarchy = "sent_at"


@admin.register(ExtraMessagesBill)
class ExtraMessagesBillAdmin(ServiceWrittenAdmin):
    list_display = (
        "account",
        "month",
        "plan",
        "status",
        "billed_messages",
        "cap",
        "extra_messages",
        "amount_twd",
        "renewal",
        "charge_number",
        "attempts",
        "last_error",
        "updated_at",
    )
    list_select_related = ("account", "plan", "renewal__subscription__account")
    list_filter = ("status", "month", "plan")
    search_fields = ("account__basic_id", "account__name")
    actions = ["bill_now"]

    charge_number = charge_number_column()

    @admin.action(description=_("Bill the extra messages now (final figures only)"), permissions=["service"])
    def bill_now(self, request, queryset):
        totals = BillTotals()
        for bill in extra_message_bills_due(staff=True).filter(pk__in=queryset.values("pk")):
            extra_messages_bill(bill_id=bill.pk, as_of=timezone.now(), totals=totals, staff=True)
        self.message_user(
            request,
            gettext(
                "Extra messages: %(billed)s billed, %(nothing)s with nothing to bill, %(failed)s failed, "
                "%(pending)s waiting for the gateway; the rest have no final figure yet."
            )
            % {"billed": totals.billed, "nothing": totals.nothing, "failed": totals.failed, "pending": totals.pending},
            level=messages.WARNING if totals.failed else messages.SUCCESS,
        )


@admin.register(BillingReminder)
class BillingReminderAdmin(ServiceWrittenAdmin):
    list_display = ("sent_at", "account", "kind", "renewal_on", "subject")
    list_select_related = ("account",)
    list_filter = ("kind", "renewal_on")
    search_fields = ("account__basic_id", "account__name")
    date_hierarchy = "sent_at"
