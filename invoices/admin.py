"""The staff admin for e-invoice profiles, invoice number ranges (字軌) and invoices."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import (
    AuditedAdmin,
    CheckedModelAdmin,
    ReadOnlyInline,
    ServiceWrittenAdmin,
    become,
    json_column,
    money_column,
)
from accounts.errors import ServiceError
from invoices.issuing import invoice_allowance, invoice_void
from invoices.models import (
    PROFILE_FIELDS,
    Allowance,
    EInvoiceProfile,
    Invoice,
    InvoiceNumberRange,
    InvoiceStatus,
    MigMessage,
)
from invoices.services import einvoice_profile_save, invoice_number_range_create


@admin.register(EInvoiceProfile)
class EInvoiceProfileAdmin(CheckedModelAdmin):
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
        remaining = number_range.remaining
        return None if remaining is None else f"{remaining:,}"

    def save_model(self, request, obj, form, change):
        number_range = invoice_number_range_create(
            period=obj.period,
            prefix=obj.prefix,
            first_number=obj.first_number,
            last_number=obj.last_number,
            actor=request.user,
        )
        become(obj, number_range)

    def has_change_permission(self, request, obj=None):
        """A registered range is read-only: numbers may already have been issued from it."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        """Only a range no number was issued from may be withdrawn."""
        if obj is not None and obj.next_number != obj.first_number:
            return False
        return super().has_delete_permission(request, obj)


class CorrectionForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("correction"),
        choices=[("void", _("Void (作廢): same period, whole invoice")), ("allowance", _("Allowance (折讓)"))],
    )
    amount_twd = forms.IntegerField(label=_("allowance amount incl. tax (NT$)"), min_value=1, required=False)
    reason = forms.CharField(label=_("reason"), max_length=200)

    def clean(self):
        data = super().clean()
        if data.get("kind") == "allowance" and not data.get("amount_twd"):
            self.add_error("amount_twd", _("Enter the allowance amount."))
        return data


class AllowanceInline(ReadOnlyInline):
    model = Allowance
    fields = ("number", "period", "sales_twd", "tax_twd", "total_twd", "reason", "refund", "created_at")
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ServiceWrittenAdmin):
    list_display = ("number", "status", "period", "account", "sales", "tax", "total", "issued_at")
    list_select_related = ("charge__account",)
    list_filter = ("status", "period")
    search_fields = ("=number", "=charge__idempotency_key", "charge__account__basic_id")
    date_hierarchy = "created_at"
    inlines = [AllowanceInline]
    fieldsets = (
        (None, {"fields": ("charge", "status", "period", "number", "random_code", "issued_at", "created_at")}),
        (_("Amounts"), {"fields": ("sales", "tax", "total", "invoice_lines")}),
        (_("Parties"), {"fields": ("buyer_json", "seller_json")}),
        (_("Corrections"), {"fields": ("void_reason", "voided_at", "corrections")}),
    )
    readonly_fields = ("sales", "tax", "total", "invoice_lines", "buyer_json", "seller_json", "corrections")
    sales = money_column(Invoice, "sales_twd")
    tax = money_column(Invoice, "tax_twd")
    total = money_column(Invoice, "total_twd")
    invoice_lines = json_column(Invoice, "lines")
    buyer_json = json_column(Invoice, "buyer")
    seller_json = json_column(Invoice, "seller")

    @admin.display(description=_("official account"), ordering="charge__account__name")
    def account(self, invoice):
        return invoice.charge.account

    @admin.display(description=_("void or allowance"))
    def corrections(self, invoice):
        if invoice.status == InvoiceStatus.VOIDED:
            return "-"
        url = reverse("admin:invoices_invoice_correct", args=[invoice.pk])
        proof = reverse("invoices:proof", args=[invoice.pk])
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            url,
            gettext("Void or allowance…"),
            proof,
            gettext("Proof page"),
        )

    def changelist_view(self, request, extra_context=None):
        pending = Invoice.objects.filter(status=InvoiceStatus.NUMBER_PENDING).count()
        if pending:
            text = ngettext(
                "%(count)d invoice waits for a number: add a number range for the period, then run"
                " `manage.py issue_pending_invoices`.",
                "%(count)d invoices wait for a number: add a number range for the period, then run"
                " `manage.py issue_pending_invoices`.",
                pending,
            ) % {"count": pending}
            link = reverse("admin:invoices_invoice_changelist") + f"?status__exact={InvoiceStatus.NUMBER_PENDING}"
            self.message_user(
                request, format_html('{} <a href="{}">{}</a>', text, link, gettext("Show them")), level=messages.WARNING
            )
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view(self.correct_view)
        return [path("<int:invoice_id>/correct/", view, name="invoices_invoice_correct"), *super().get_urls()]

    def correct_view(self, request, invoice_id: int):
        if not self.has_service_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        form = CorrectionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["kind"] == "void":
                    invoice_void(invoice=invoice, reason=data["reason"], actor=request.user)
                else:
                    invoice_allowance(
                        invoice=invoice, amount_twd=data["amount_twd"], reason=data["reason"], actor=request.user
                    )
            except ServiceError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, gettext("The correction was recorded."), level=messages.SUCCESS)
                return redirect("admin:invoices_invoice_change", invoice.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "invoice": invoice,
            "form": form,
            "title": gettext("Correct invoice %(invoice)s") % {"invoice": invoice},
        }
        return TemplateResponse(request, "invoices/admin_correct.html", context)


@admin.register(Allowance)
class AllowanceAdmin(ServiceWrittenAdmin):
    list_display = ("number", "period", "invoice", "sales", "tax", "total", "reason", "created_at")
    list_select_related = ("invoice",)
    list_filter = ("period",)
    search_fields = ("=number", "=invoice__number")
    sales = money_column(Allowance, "sales_twd")
    tax = money_column(Allowance, "tax_twd")
    total = money_column(Allowance, "total_twd")


@admin.register(MigMessage)
class MigMessageAdmin(ServiceWrittenAdmin):
    """The messages written for Turnkey and what its folders said of them (export_einvoices, read_turnkey_results)."""

    list_display = ("kind", "number", "status", "written_at", "result_at", "detail")
    list_filter = ("status", "kind")
    search_fields = ("=number",)
    date_hierarchy = "written_at"
