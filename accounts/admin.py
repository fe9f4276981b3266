"""The staff admin's shared pieces, and the admin of the audit trail and of people's preferences.

Every app's admin builds on `CheckedModelAdmin` (junk input is refused with the admin's own message),
`ServiceWrittenAdmin` (rows only services write) or `AuditedAdmin` (staff edits leave an audit record),
and shows money with `money` / `money_column`.
"""

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
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_record, snapshot, snapshot_all
from accounts.errors import ServiceError
from accounts.keys import storable_key
from accounts.models import AuditRecord, OfficialAccount, UserPreference
from accounts.periods import local_date, month_start

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
                    actor=request.user,
                    action=f"{obj._meta.model_name}.{'change' if change else 'add'}",
                    obj=obj,
                    before=before,
                    after=snapshot(obj, *fields),
                    account=audited_account(obj),
                )

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(
                actor=request.user,
                action=f"{obj._meta.model_name}.delete",
                obj=obj,
                before=snapshot_all(obj),
                account=audited_account(obj),
            )
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
                audit_record(
                    actor=request.user,
                    action=f"{obj._meta.model_name}.add",
                    obj=obj,
                    after=snapshot_all(obj),
                    account=audited_account(obj),
                )
            for obj, _changed in formset.changed_objects:
                before = next(f.audit_before for f in formset.forms if f.instance.pk == obj.pk)
                audit_record(
                    actor=request.user,
                    action=f"{obj._meta.model_name}.change",
                    obj=obj,
                    before=before,
                    after=snapshot_all(obj),
                    account=audited_account(obj),
                )
            for obj in formset.deleted_objects:
                audit_record(
                    actor=request.user,
                    action=f"{obj._meta.model_name}.delete",
                    obj=obj,
                    before=snapshot_all(obj),
                    account=audited_account(obj),
                )


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


# ---- the audit trail ------------------------------------------------------------------------


class ObjectTypeFilter(admin.SimpleListFilter):
    """The billing models by name: a fixed list, so no DISTINCT over millions of audit rows."""

    title = _("object type")
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        models = (
            m
            for name in ("accounts", "billing", "payments", "promos", "invoices", "usage")
            for m in apps.get_app_config(name).get_models()
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
    fields = (
        "created_at",
        "actor",
        "account",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before_json",
        "after_json",
    )
    readonly_fields = ("before_json", "after_json")
    before_json = json_column(AuditRecord, "before")
    after_json = json_column(AuditRecord, "after")


@admin.register(UserPreference)
class UserPreferenceAdmin(CheckedModelAdmin):
    list_display = ("user", "language")
    list_select_related = ("user",)
    list_filter = ("language",)
    search_fields = ("user__username", "user__email")
