"""The staff admin for e-invoice profiles, invoice number ranges (字軌) and invoices."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from billing.admin import AuditedAdmin, ServiceWrittenAdmin, become, json_column, money_column
from invoices.models import PROFILE_FIELDS, EInvoiceProfile, Invoice, InvoiceNumberRange
from invoices.services import einvoice_profile_save, invoice_number_range_create


@admin.register(EInvoiceProfile)
class EInvoiceProfileAdmin(admin.ModelAdmin):
    list_display = ("account", "kind", "holder", "email", "ubn", "updated_at")
    list_select_related = ("account",)
    list_filter = ("kind",)
    search_fields = ("account__basic_id", "account__name", "name", "company_title", "=ubn", "email")
    autocomplete_fields = ("account",)

    def get_readonly_fields(self, request, obj=None):
        return ("account", "updated_at") if obj else ("updated_at",)

    @admin.display(description=_("name or company title"))
    def holder(self, profile):
        return profile.company_title or profile.name or None

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in PROFILE_FIELDS if name in form.cleaned_data}
        become(obj, einvoice_profile_save(account=obj.account, data=data, actor=request.user))


@admin.register(InvoiceNumberRange)
class InvoiceNumberRangeAdmin(AuditedAdmin):
    list_display = ("period", "prefix", "first_number", "last_number", "next_number", "remaining", "created_at")
    list_filter = ("period",)
    search_fields = ("=period", "=prefix")
    readonly_fields = ("next_number", "remaining", "created_at")

    @admin.display(description=_("numbers left"))
    def remaining(self, number_range):
        return f"{number_range.remaining:,}"

    def save_model(self, request, obj, form, change):
        number_range = invoice_number_range_create(
            period=obj.period, prefix=obj.prefix, first_number=obj.first_number, last_number=obj.last_number,
            actor=request.user,
        )  # fmt: skip
        become(obj, number_range)

    def has_change_permission(self, request, obj=None):
        """A registered range is read-only: numbers may already have been issued from it."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        """Only a range no number was issued from may be withdrawn."""
        if obj is not None and obj.next_number != obj.first_number:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Invoice)
class InvoiceAdmin(ServiceWrittenAdmin):
    list_display = ("number", "status", "period", "account", "sales", "tax", "total", "issued_at")
    list_select_related = ("charge__account",)
    list_filter = ("status", "period")
    search_fields = ("=number", "=charge__idempotency_key", "charge__account__basic_id")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("charge", "status", "period", "number", "random_code", "issued_at", "created_at")}),
        (_("Amounts"), {"fields": ("sales", "tax", "total", "invoice_lines")}),
        (_("Parties"), {"fields": ("buyer_json", "seller_json")}),
    )
    readonly_fields = ("sales", "tax", "total", "invoice_lines", "buyer_json", "seller_json")
    sales = money_column(Invoice, "sales_twd")
    tax = money_column(Invoice, "tax_twd")
    total = money_column(Invoice, "total_twd")
    invoice_lines = json_column(Invoice, "lines")
    buyer_json = json_column(Invoice, "buyer")
    seller_json = json_column(Invoice, "seller")

    @admin.display(description=_("official account"), ordering="charge__account__name")
    def account(self, invoice):
        return invoice.charge.account
