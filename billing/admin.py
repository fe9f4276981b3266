"""The staff admin for accounts, plans and prices, subscriptions, usage and the audit trail.

Also the small pieces the other apps' admins share: `money`, `money_column`, `json_column`,
`ServiceWrittenAdmin` and `ReadOnlyInline`.
"""

import importlib
import json
import math

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from billing.audit import audit_record, snapshot, snapshot_all
from billing.errors import ServiceError
from billing.keys import storable_key
from billing.models import (
    AuditRecord,
    Checkout,
    ExtraMessageTier,
    Membership,
    MonthlyUsage,
    OfficialAccount,
    Plan,
    PlanChange,
    PlanCode,
    PlanPrice,
    Renewal,
    RenewalRun,
    RenewalStatus,
    Subscription,
    UserPreference,
)
from billing.periods import local_date, month_start
from billing.renewals import Totals, renewal_retry
from billing.selectors import plan_fee_twd
from billing.services import (
    account_create,
    plan_price_check_future,
    plan_price_save,
    plan_price_withdraw,
    subscription_cancel_downgrade,
)

# ---- shared by the admins of every app ------------------------------------------------------


def money(amount_twd: int | None) -> str:
    """Whole NT$ as staff read them: NT$1,200 (and -NT$400 for a deduction line)."""
    if amount_twd is None:
        return "-"
    sign = "-" if amount_twd < 0 else ""
    return f"{sign}NT${abs(amount_twd):,}"


def money_column(model, field_name: str):
    """A changelist column or read-only field showing `field_name` as money, labelled as the model does."""

    @admin.display(description=model._meta.get_field(field_name).verbose_name, ordering=field_name)
    def column(modeladmin, obj):
        return money(getattr(obj, field_name))

    return column


def json_column(model, field_name: str):
    """A read-only field showing a JSON snapshot indented, non-ASCII (Chinese names) kept as written."""

    @admin.display(description=model._meta.get_field(field_name).verbose_name)
    def column(modeladmin, obj):
        value = getattr(obj, field_name)
        return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True))

    return column


def charge_number_column():
    """A column showing the row's charge as #id, for the rows that point to one."""

    @admin.display(description=_("charge"), ordering="charge_id")
    def column(modeladmin, obj):
        return f"#{obj.charge_id}" if obj.charge_id else None

    return column


def subscription_account_column():
    """A column showing the official account of the row's subscription (select it with the rows)."""

    @admin.display(description=_("official account"), ordering="subscription__account__name")
    def column(modeladmin, obj):
        return obj.subscription.account

    return column


def report_service_error(modeladmin, request, error: ServiceError, subject=None) -> None:
    text = f"{subject}: {error.message}" if subject is not None else str(error.message)
    modeladmin.message_user(request, text, level=messages.ERROR)


def become(obj, saved) -> None:
    """Make the admin's unsaved `obj` the row a service saved, for the inlines, log entry and redirect after it."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding, obj._state.db = False, saved._state.db


def current_month_start():
    return month_start(local_date(timezone.now()))


class CheckedAutocompleteMixin:
    """Admin's autocomplete widget looks up the value posted with the form it renders again: a junk account
    ("abc", 1.5, 2**70) raised there, a 500, after the form itself had refused it. Junk is simply not shown."""

    def optgroups(self, name, value, attr=None):
        target = self.field.remote_field.model._meta.get_field(self.field.remote_field.field_name)
        return super().optgroups(name, [v for v in value if storable_key(target, v)], attr)


class CheckedAutocompleteSelect(CheckedAutocompleteMixin, AutocompleteSelect):
    pass


class CheckedAutocompleteSelectMultiple(CheckedAutocompleteMixin, AutocompleteSelectMultiple):
    pass


def storable_json(value) -> bool:
    """Whether PostgreSQL's jsonb can hold `value`: no NaN or infinity (json.loads reads 1e309 as one), no NUL."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, dict):
        return all(storable_json(key) and storable_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(storable_json(item) for item in value)
    return True


class StorableJSONField(forms.JSONField):
    """A JSON form field that refuses, as invalid JSON, what the database would refuse with a 500."""

    def to_python(self, value):
        converted = super().to_python(value)
        if not self.disabled and not storable_json(converted):
            raise ValidationError(self.error_messages["invalid"], code="invalid", params={"value": value})
        return converted


class CheckedInputMixin:
    """Junk from a crafted request is refused the admin's own way, never a 500 (every admin here has this):

    - an action's selection (`_selected_action`) that is no row's key gets Django's "Items must be selected"
      message, and the action does not run;
    - an autocomplete field re-rendered with a junk value shows it empty (the form reports the error);
    - a JSON field refuses NaN, infinity and \\u0000, which PostgreSQL's jsonb cannot hold.
    """

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs.setdefault("form_class", StorableJSONField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def response_action(self, request, queryset):
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(storable_key(self.opts.pk, value) for value in selected):
            # Django's own text, so its own translation; nothing was changed.
            msg = gettext("Items must be selected in order to perform actions on them. No items have been changed.")
            self.message_user(request, msg, messages.WARNING)
            return None
        return super().response_action(request, queryset)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class CheckedModelAdmin(CheckedInputMixin, admin.ModelAdmin):
    """The base of every admin in this project (see CheckedInputMixin)."""


def check_registered_admins(site) -> None:
    """Register the admins already on `site` that lack CheckedInputMixin (Django's users and groups, allauth's
    e-mail addresses and social accounts) again with it in front, so their actions refuse junk as ours do."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, CheckedInputMixin):
            continue
        site.unregister(model)
        site.register(model, type(f"Checked{type(model_admin).__name__}", (CheckedInputMixin, type(model_admin)), {}))


class ServiceWrittenAdmin(CheckedModelAdmin):
    """Rows only services write: staff may look at them, never add, change or delete them by hand.

    Actions that call a service are allowed with `permissions=["service"]`: they need the
    model's change permission, while the change form itself stays read-only.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_service_permission(self, request):
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")


class AuditedAdmin(CheckedModelAdmin):
    """Plain staff edits of billing data (a region, a quota, a campaign, usage, members) leave an audit record too."""

    def save_model(self, request, obj, form, change):
        fields = [name for name in form.changed_data if name in {f.name for f in obj._meta.concrete_fields}]
        before = snapshot(type(obj).objects.get(pk=obj.pk), *fields) if change else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if fields or not change:
                audit_record(
                    actor=request.user, action=f"{obj._meta.model_name}.{'change' if change else 'add'}", obj=obj,
                    before=before, after=snapshot(obj, *fields), account=audited_account(obj),
                )  # fmt: skip

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(actor=request.user, action=f"{obj._meta.model_name}.delete", obj=obj,
                         before=snapshot_all(obj), account=audited_account(obj))  # fmt: skip
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def save_formset(self, request, form, formset, change):
        with transaction.atomic():
            for inline_form in formset.forms:
                if inline_form.has_changed() and inline_form.instance.pk:
                    before = snapshot_all(type(inline_form.instance).objects.get(pk=inline_form.instance.pk))
                    inline_form.audit_before = before
            super().save_formset(request, form, formset, change)
            for obj in formset.new_objects:
                audit_record(actor=request.user, action=f"{obj._meta.model_name}.add", obj=obj,
                             after=snapshot_all(obj), account=audited_account(obj))  # fmt: skip
            for obj, _changed in formset.changed_objects:
                before = next(f.audit_before for f in formset.forms if f.instance.pk == obj.pk)
                audit_record(actor=request.user, action=f"{obj._meta.model_name}.change", obj=obj, before=before,
                             after=snapshot_all(obj), account=audited_account(obj))  # fmt: skip
            for obj in formset.deleted_objects:
                audit_record(actor=request.user, action=f"{obj._meta.model_name}.delete", obj=obj,
                             before=snapshot_all(obj), account=audited_account(obj))  # fmt: skip


def audited_account(obj):
    if isinstance(obj, OfficialAccount):
        return obj
    return getattr(obj, "account", None)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    list_display = ("code", "name_zh_hant", "name_en", "rank", "free_message_quota", "extra_messages_allowed",
                    "current_fee", "next_price")  # fmt: skip
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
    actions = ["cancel_downgrade"]

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


# ---- usage ----------------------------------------------------------------------------------


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(AuditedAdmin):
    """Staff record usage here where no channel token reports it (SPEC §7)."""

    list_display = ("account", "month", "billed_messages", "updated_at")
    list_select_related = ("account",)
    search_fields = ("account__basic_id", "account__name")
    date_hierarchy = "month"
    autocomplete_fields = ("account",)

    def get_readonly_fields(self, request, obj=None):
        return ("account", "month", "updated_at") if obj else ("updated_at",)


# ---- the audit trail ------------------------------------------------------------------------


class ObjectTypeFilter(admin.SimpleListFilter):
    """The billing models by name: a fixed list, so no DISTINCT over millions of audit rows."""

    title = _("object type")
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        models = (
            m for name in ("billing", "payments", "promos", "invoices") for m in apps.get_app_config(name).get_models()
        )
        return [(m._meta.label_lower, m._meta.verbose_name) for m in models]

    def queryset(self, request, queryset):
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditRecord)
class AuditRecordAdmin(ServiceWrittenAdmin):
    list_display = ("created_at", "action", "object_repr", "object_type", "object_id", "account", "actor")
    list_select_related = ("account", "actor")
    list_filter = (ObjectTypeFilter,)
    search_fields = ("=object_id", "action", "account__basic_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ("created_at", "actor", "account", "action", "object_type", "object_id", "object_repr",
              "before_json", "after_json")  # fmt: skip
    readonly_fields = ("before_json", "after_json")
    before_json = json_column(AuditRecord, "before")
    after_json = json_column(AuditRecord, "after")


@admin.register(Checkout)
class CheckoutAdmin(ServiceWrittenAdmin):
    list_display = ("token_start", "account", "user", "target_plan", "channel", "status", "attempt", "charge_number",
                    "created_at")  # fmt: skip
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
    list_display = ("subscription_account", "period_start", "plan", "status", "attempts", "next_retry_on",
                    "last_error", "charge_number", "updated_at")  # fmt: skip
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


@admin.register(UserPreference)
class UserPreferenceAdmin(CheckedModelAdmin):
    list_display = ("user", "language")
    list_select_related = ("user",)
    list_filter = ("language",)
    search_fields = ("user__username", "user__email")


# The apps before this one in INSTALLED_APPS (auth) have registered their admins; allauth's and django-axes' come
# after, so they are imported here to be registered now. Then every admin not built on CheckedModelAdmin gets its
# checks.
importlib.import_module("allauth.account.admin")
importlib.import_module("allauth.socialaccount.admin")
importlib.import_module("axes.admin")
check_registered_admins(admin.site)
