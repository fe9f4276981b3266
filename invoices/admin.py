"""The staff admin for e-invoice profiles, invoice number ranges (字軌), invoices, allowances, the MIG messages
owed to the platform (due, late, confirmed uploaded) and each period's summary for the accountant (401)."""

import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
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
    report_service_error,
)
from accounts.errors import ServiceError
from accounts.periods import local_date
from invoices.closing import invoice_period_close
from invoices.deadlines import blank_report_due_on, filing_deadline, next_period_start, period_end, period_start
from invoices.issuing import allowance_void, invoice_allowance, invoice_void
from invoices.models import (
    PROFILE_FIELDS,
    Allowance,
    BlankRun,
    EInvoiceMessage,
    EInvoiceProfile,
    Invoice,
    InvoiceNumberRange,
    InvoiceStatus,
    PeriodClosing,
)
from invoices.period_report import period_report, write_csv
from invoices.services import einvoice_profile_save, invoice_number_range_create
from invoices.uploads import UploadState, messages_mark_uploaded, upload_state, upload_state_filter
from invoices.validators import validate_invoice_period


def today():
    return local_date(timezone.now())


def due_column(due_on, uploaded: bool):
    """A message's (or an invoice's next message's) deadline as the lists show it: late ones stand out."""
    if due_on is None:
        return gettext("uploaded") if uploaded else "-"
    if due_on < today():
        return format_html('<strong class="errornote">{}</strong>', gettext("late: due %(date)s") % {"date": due_on})
    return gettext("due %(date)s") % {"date": due_on}


class UploadStateFilter(admin.SimpleListFilter):
    """Messages (or, on invoices, any of an invoice's messages) by where their upload stands today."""

    title = _("upload")
    parameter_name = "upload"
    prefix = ""

    def lookups(self, request, model_admin):
        return UploadState.choices

    def queryset(self, request, queryset):
        if self.value() not in UploadState.values:
            return queryset
        return queryset.filter(upload_state_filter(self.value(), today(), self.prefix)).distinct()


class InvoiceUploadFilter(UploadStateFilter):
    prefix = "messages__"


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
    list_display = (
        "period",
        "prefix",
        "first_number",
        "last_number",
        "next_number",
        "remaining",
        "created_at",
        "closed_at",
    )
    list_filter = ("period",)
    search_fields = ("=period", "=prefix")
    readonly_fields = ("next_number", "remaining", "created_at", "closed_at")

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
    fields = ("number", "period", "sales_twd", "tax_twd", "total_twd", "reason", "refund", "created_at", "voided_at")
    readonly_fields = fields


class MessageInline(ReadOnlyInline):
    model = EInvoiceMessage
    fk_name = "invoice"
    fields = ("kind", "subject", "event_at", "due_on", "exported_at", "status", "uploaded_at", "uploaded_by", "detail")
    readonly_fields = fields


class PeriodForm(forms.Form):
    period = forms.CharField(label=_("period"), max_length=5, validators=[validate_invoice_period])


@admin.register(Invoice)
class InvoiceAdmin(ServiceWrittenAdmin):
    list_display = ("number", "status", "period", "account", "sales", "tax", "total", "issued_at", "upload")
    list_select_related = ("charge__account",)
    list_filter = ("status", "period", InvoiceUploadFilter)
    search_fields = ("=number", "=charge__idempotency_key", "charge__account__basic_id")
    date_hierarchy = "created_at"
    inlines = [AllowanceInline, MessageInline]
    change_list_template = "admin/invoices/invoice/change_list.html"
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

    def get_queryset(self, request):
        waiting = EInvoiceMessage.objects.filter(invoice=OuterRef("pk"), uploaded_at__isnull=True)
        return (
            super()
            .get_queryset(request)
            .annotate(
                next_due=Subquery(waiting.order_by("due_on").values("due_on")[:1]),
                has_messages=Exists(EInvoiceMessage.objects.filter(invoice=OuterRef("pk"))),
            )
        )

    @admin.display(description=_("upload"), ordering="next_due")
    def upload(self, invoice):
        """The earliest deadline of the invoice's messages (its issue, void, allowances) not confirmed uploaded."""
        return due_column(invoice.next_due, invoice.has_messages)

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
        view = self.admin_site.admin_view
        return [
            path("<int:invoice_id>/correct/", view(self.correct_view), name="invoices_invoice_correct"),
            path("periods/", view(self.periods_view), name="invoices_invoice_periods"),
            path("periods/<str:period>/", view(self.period_view), name="invoices_invoice_period"),
            path("periods/<str:period>/csv/", view(self.period_csv_view), name="invoices_invoice_period_csv"),
            path("periods/<str:period>/close/", view(self.period_close_view), name="invoices_invoice_period_close"),
            *super().get_urls(),
        ]

    # ---- the periods: summary for the accountant (401), CSV, closing (E0402) ----------------------

    def periods_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PeriodForm(request.GET or None)
        if form.is_valid():
            return redirect("admin:invoices_invoice_period", form.cleaned_data["period"])
        periods = (
            set(InvoiceNumberRange.objects.values_list("period", flat=True))
            | set(Invoice.objects.values_list("period", flat=True))
            | set(Allowance.objects.values_list("period", flat=True))
        )
        closed = dict(PeriodClosing.objects.values_list("period", "closed_at"))
        rows = [
            {
                "period": period,
                "start": period_start(period),
                "end": period_end(period),
                "closed_at": closed.get(period),
                "blank_due": blank_report_due_on(period),
                "filing_deadline": filing_deadline(period),
            }
            for period in sorted(periods, reverse=True)
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Periods for the accountant (401)"),
            "rows": rows,
            "form": form,
        }
        return TemplateResponse(request, "invoices/admin_periods.html", context)

    def _period(self, request, period: str) -> str:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if PeriodForm({"period": period}).is_valid():
            return period
        raise Http404

    def period_view(self, request, period: str):
        period = self._period(request, period)
        report = period_report(period=period, today=today())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Period %(period)s") % {"period": period},
            "report": report,
            "start": period_start(period),
            "end": period_end(period),
            "blank_due": blank_report_due_on(period),
            "filing_deadline": filing_deadline(period),
            "can_close": report.closing is None and today() >= next_period_start(period),
            "can_service": self.has_service_permission(request),
            "upload_states": [(label, report.upload_counts.get(state, 0)) for state, label in UploadState.choices],
        }
        return TemplateResponse(request, "invoices/admin_period.html", context)

    def period_csv_view(self, request, period: str):
        period = self._period(request, period)
        stream = io.StringIO()
        write_csv(period_report(period=period, today=today()), stream)
        # A BOM, so that Excel (which accountants open it in) reads the UTF-8 as such.
        response = HttpResponse("\ufeff" + stream.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="einvoice-period-{period}.csv"'
        return response

    def period_close_view(self, request, period: str):
        period = self._period(request, period)
        if request.method != "POST":
            return redirect("admin:invoices_invoice_period", period)
        if not self.has_service_permission(request):
            raise PermissionDenied
        try:
            closing, closed_now = invoice_period_close(period=period, actor=request.user)
        except ServiceError as error:
            self.message_user(request, error.message, level=messages.ERROR)
        else:
            count = sum(run.count for run in closing.blank_runs.all())
            text = (
                gettext("Period %(period)s closed: %(count)s blank number(s) to report (E0402).")
                if closed_now
                else gettext("Period %(period)s was already closed with these blanks (%(count)s numbers).")
            )
            self.message_user(request, text % {"period": period, "count": count}, level=messages.SUCCESS)
        return redirect("admin:invoices_invoice_period", period)

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


class AllowanceVoidForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200)


@admin.register(Allowance)
class AllowanceAdmin(ServiceWrittenAdmin):
    list_display = ("number", "period", "invoice", "sales", "tax", "total", "reason", "created_at", "voided_at")
    list_select_related = ("invoice",)
    list_filter = ("period",)
    search_fields = ("=number", "=invoice__number")
    readonly_fields = ("void_link",)
    sales = money_column(Allowance, "sales_twd")
    tax = money_column(Allowance, "tax_twd")
    total = money_column(Allowance, "total_twd")

    @admin.display(description=_("void (G0501)"))
    def void_link(self, allowance):
        if allowance.voided_at is not None:
            return "-"
        url = reverse("admin:invoices_allowance_void", args=[allowance.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Void this allowance…"))

    def get_urls(self):
        view = self.admin_site.admin_view(self.void_view)
        return [path("<int:allowance_id>/void/", view, name="invoices_allowance_void"), *super().get_urls()]

    def void_view(self, request, allowance_id: int):
        if not self.has_service_permission(request):
            raise PermissionDenied
        allowance = get_object_or_404(Allowance, pk=allowance_id)
        form = AllowanceVoidForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                allowance_void(allowance=allowance, reason=form.cleaned_data["reason"], actor=request.user)
            except ServiceError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, gettext("The allowance was voided."), level=messages.SUCCESS)
                return redirect("admin:invoices_allowance_change", allowance.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "allowance": allowance,
            "form": form,
            "title": gettext("Void allowance %(allowance)s") % {"allowance": allowance},
        }
        return TemplateResponse(request, "invoices/admin_allowance_void.html", context)


@admin.register(EInvoiceMessage)
class EInvoiceMessageAdmin(ServiceWrittenAdmin):
    """Each MIG message owed: its deadline, its export, where Turnkey's result left it (read_turnkey_results), and
    its upload, confirmed here by staff or read from Turnkey's folders: the same "uploaded" either way."""

    list_display = ("kind", "subject", "period", "event_at", "due", "exported_at", "status", "uploaded_at", "state")
    list_filter = (UploadStateFilter, "status", "kind", "period")
    search_fields = ("=subject", "=period", "=file_name")
    actions = ["confirm_uploaded"]

    @admin.display(description=_("upload due"), ordering="due_on")
    def due(self, message):
        return due_column(None if message.uploaded_at else message.due_on, True)

    @admin.display(description=_("upload"))
    def state(self, message):
        return UploadState(upload_state(message, today())).label

    @admin.action(description=_("Confirm uploaded (the platform accepted them)"), permissions=["service"])
    def confirm_uploaded(self, request, queryset):
        try:
            confirmed = messages_mark_uploaded(
                message_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
            )
        except ServiceError as error:
            report_service_error(self, request, error)
            return
        text = ngettext(
            "%(count)d message confirmed uploaded.", "%(count)d messages confirmed uploaded.", confirmed
        ) % {"count": confirmed}
        self.message_user(request, text, level=messages.SUCCESS)


class BlankRunInline(ReadOnlyInline):
    model = BlankRun
    fields = ("invoice_type", "prefix", "first_number", "last_number", "number_range")
    readonly_fields = fields


@admin.register(PeriodClosing)
class PeriodClosingAdmin(ServiceWrittenAdmin):
    list_display = ("period", "closed_at", "closed_by", "summary")
    list_select_related = ("closed_by",)
    search_fields = ("=period",)
    inlines = [BlankRunInline]

    @admin.display(description=_("summary (401)"))
    def summary(self, closing):
        url = reverse("admin:invoices_invoice_period", args=[closing.period])
        return format_html('<a href="{}">{}</a>', url, gettext("Period summary"))
