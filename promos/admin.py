"""The staff admin for campaigns, their codes and redemptions. Codes change only through promos.services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import AuditedAdmin, ServiceWrittenAdmin, money_column, report_service_error
from accounts.errors import ServiceError
from accounts.models import Region
from payments.models import MethodKind
from promos.codes import looks_like_code, normalise_code
from promos.models import Campaign, ChargeKind, CodeBatch, CodeGuess, CodeStatus, PromoCode, Redemption
from promos.services import (
    promo_codes_export_record,
    promo_codes_generate,
    promo_codes_void,
    promo_codes_write_csv,
)

MAX_CODES_PER_REQUEST = 1_000_000
EXPORT_CHUNK = 10_000


# ---- CSV export and code search, shared by the admins below ---------------------------------


class _Rows:
    """A write-only stream that keeps what csv.writer writes, one row per write."""

    def __init__(self):
        self.rows = []

    def write(self, text):
        self.rows.append(text)


def _csv_chunks(codes):
    """The service's CSV, EXPORT_CHUNK codes at a time, so a million codes never sit in memory at once."""
    last_pk, first = 0, True
    while True:
        rest = codes.filter(pk__gt=last_pk).order_by("pk")
        boundary = list(rest.values_list("pk", flat=True)[EXPORT_CHUNK - 1 : EXPORT_CHUNK])
        upto = boundary[0] if boundary else None
        chunk = rest.filter(pk__lte=upto) if upto is not None else rest
        out = _Rows()
        promo_codes_write_csv(codes=chunk, stream=out)
        yield from out.rows[0 if first else 1 :]  # the header row once, at the top
        if upto is None:
            return
        last_pk, first = upto, False


def codes_csv_response(request, codes, *, sources, scope: str, name: str) -> StreamingHttpResponse:
    """The codes as a CSV download; the export is recorded against `sources` (campaigns or batches) first."""
    promo_codes_export_record(sources=sources, actor=request.user, scope=scope)
    response = StreamingHttpResponse(_csv_chunks(codes), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="promo-codes-{name}-{stamp}.csv"'
    return response


def search_with_code(modeladmin, request, queryset, search_term, code_lookup: str):
    """The default search, plus the code exactly as stored, however it was typed (dashes, spaces, case).

    A term shaped like a code can match nothing else (basic IDs start with @), so it is looked up
    on the unique index alone: an OR with the other fields would scan a million codes.
    """
    normalised = normalise_code(search_term)
    if looks_like_code(normalised):
        return queryset.filter(**{code_lookup: normalised}), False
    results, may_have_duplicates = admin.ModelAdmin.get_search_results(modeladmin, request, queryset, search_term)
    if normalised:
        results |= queryset.filter(**{code_lookup: normalised})
    return results, may_have_duplicates


# ---- campaigns ------------------------------------------------------------------------------


def _choices_field(field_name: str, choices):
    return forms.MultipleChoiceField(
        label=capfirst(Campaign._meta.get_field(field_name).verbose_name),
        choices=choices,
        widget=forms.CheckboxSelectMultiple,
    )


class CampaignForm(forms.ModelForm):
    regions = _choices_field("regions", Region.choices)
    payment_method_kinds = _choices_field("payment_method_kinds", MethodKind.choices)
    charge_kinds = _choices_field("charge_kinds", ChargeKind.choices)

    class Meta:
        model = Campaign
        fields = (
            "name",
            "face_value_twd",
            "valid_from",
            "valid_until",
            "regions",
            "payment_method_kinds",
            "charge_kinds",
        )

    def clean(self):
        cleaned = super().clean()
        valid_from, valid_until = cleaned.get("valid_from"), cleaned.get("valid_until")
        if valid_from and valid_until and valid_until <= valid_from:
            self.add_error("valid_until", _("The validity window must end after it starts."))
        return cleaned


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(
        label=_("number of codes"),
        min_value=1,
        max_value=MAX_CODES_PER_REQUEST,
        help_text=_(
            "Codes are made while this page waits, so keep to a few thousand here. For tens of thousands "
            "and more, run the management command generate_promo_codes instead."
        ),
        error_messages={
            "min_value": _("Enter a number of codes from 1 to 1,000,000."),
            "max_value": _("Enter a number of codes from 1 to 1,000,000."),
        },
    )


@admin.register(Campaign)
class CampaignAdmin(AuditedAdmin):
    form = CampaignForm
    list_display = ("name", "face_value", "valid_from", "valid_until", "created_at")
    search_fields = ("name",)
    date_hierarchy = "valid_from"
    actions = ["generate_codes", "export_codes"]
    face_value = money_column(Campaign, "face_value_twd")

    def get_readonly_fields(self, request, obj=None):
        """The face value is money: fixed once the campaign exists, as its codes are already out."""
        return ("face_value", "code_counts", "created_at") if obj else ()

    def get_fields(self, request, obj=None):
        fields = list(self.form._meta.fields)
        if obj:
            fields[fields.index("face_value_twd")] = "face_value"
            fields += ["code_counts", "created_at"]
        return fields

    @admin.display(description=_("codes"))
    def code_counts(self, campaign):
        counts = dict(campaign.codes.values_list("status").annotate(n=Count("pk")).order_by())
        return ", ".join(f"{label}: {counts.get(value, 0):,}" for value, label in CodeStatus.choices)

    def has_generate_permission(self, request):
        return request.user.has_perm("promos.add_promocode")

    @admin.action(description=_("Generate codes"), permissions=["generate"])
    def generate_codes(self, request, queryset):
        if len(queryset) != 1:
            self.message_user(request, gettext("Select exactly one campaign to generate codes for."), messages.ERROR)
            return None
        campaign = queryset[0]
        form = GenerateCodesForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._generate_codes_page(request, campaign, form)
        try:
            batch = promo_codes_generate(campaign=campaign, count=form.cleaned_data["count"], actor=request.user)
        except ServiceError as error:
            report_service_error(self, request, error, subject=campaign)
            return None
        text = ngettext(
            "%(count)s code generated for %(campaign)s.", "%(count)s codes generated for %(campaign)s.", batch.requested
        )
        self.message_user(request, text % {"count": f"{batch.requested:,}", "campaign": campaign}, messages.SUCCESS)
        return None

    def _generate_codes_page(self, request, campaign, form):
        context = {
            **self.admin_site.each_context(request),
            "title": _("Generate codes"),
            "opts": self.opts,
            "campaign": campaign,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/promos/campaign/generate_codes.html", context)

    @admin.action(description=_("Export codes as CSV"), permissions=["view"])
    def export_codes(self, request, queryset):
        codes = PromoCode.objects.filter(campaign__in=queryset)
        return codes_csv_response(request, codes, sources=queryset, scope="campaign", name="campaigns")


@admin.register(CodeBatch)
class CodeBatchAdmin(ServiceWrittenAdmin):
    list_display = ("id", "campaign", "requested", "actor", "created_at")
    list_select_related = ("campaign", "actor")
    list_filter = ("campaign",)
    date_hierarchy = "created_at"
    actions = ["export_codes"]

    @admin.action(description=_("Export codes as CSV"), permissions=["view"])
    def export_codes(self, request, queryset):
        codes = PromoCode.objects.filter(batch__in=queryset)
        return codes_csv_response(request, codes, sources=queryset, scope="batch", name="batches")


# ---- codes ----------------------------------------------------------------------------------


@admin.register(PromoCode)
class PromoCodeAdmin(ServiceWrittenAdmin):
    list_display = ("display_code", "campaign", "status", "registered_account", "registered_at")
    list_select_related = ("campaign", "registered_account")
    # Only low-cardinality filters: a filter on accounts or batches would list them all on every page.
    list_filter = ("status", "campaign")
    search_fields = ("=registered_account__basic_id",)
    search_help_text = _(
        "A code, typed in any case, with or without dashes; or the basic ID of the account it is registered to."
    )
    show_full_result_count = False
    fields = ("display_code", "campaign", "batch", "status", "registered_account", "registered_at", "redemption")
    readonly_fields = ("display_code", "redemption")
    actions = ["void_codes", "export_codes"]

    @admin.display(description=_("code"), ordering="code")
    def display_code(self, code):
        return code.display_code

    @admin.display(description=_("redemption"))
    def redemption(self, code):
        return getattr(code, "redemption", None)

    def get_search_results(self, request, queryset, search_term):
        return search_with_code(self, request, queryset, search_term, "code")

    @admin.action(description=_("Void selected codes"), permissions=["service"])
    def void_codes(self, request, queryset):
        selected = queryset.count()
        voided = promo_codes_void(codes=queryset, actor=request.user, reason="admin")
        text = ngettext("%(voided)s of %(selected)s code voided.", "%(voided)s of %(selected)s codes voided.", selected)
        self.message_user(request, text % {"voided": f"{voided:,}", "selected": f"{selected:,}"}, messages.SUCCESS)
        if voided < selected:
            self.message_user(
                request, gettext("Codes already redeemed or void were left as they were."), messages.WARNING
            )

    @admin.action(description=_("Export selected codes as CSV"), permissions=["view"])
    def export_codes(self, request, queryset):
        campaigns = Campaign.objects.filter(pk__in=queryset.values("campaign_id"))
        scope = f"{queryset.count()} selected codes"
        return codes_csv_response(request, queryset, sources=campaigns, scope=scope, name="selected")


@admin.register(Redemption)
class RedemptionAdmin(ServiceWrittenAdmin):
    list_display = ("redeemed_at", "code_display", "campaign", "account", "charge_number", "applied", "forfeited")
    list_select_related = ("code__campaign", "account")
    list_filter = ("code__campaign",)
    search_fields = ("=account__basic_id", "=charge__idempotency_key")
    date_hierarchy = "redeemed_at"
    show_full_result_count = False
    fields = ("code", "account", "charge", "applied", "forfeited", "redeemed_at")
    readonly_fields = ("applied", "forfeited")
    applied = money_column(Redemption, "applied_twd")
    forfeited = money_column(Redemption, "forfeited_twd")

    @admin.display(description=_("promo code"), ordering="code__code")
    def code_display(self, redemption):
        return redemption.code.display_code

    @admin.display(description=_("campaign"), ordering="code__campaign__name")
    def campaign(self, redemption):
        return redemption.code.campaign

    @admin.display(description=_("charge"), ordering="charge_id")
    def charge_number(self, redemption):
        return f"#{redemption.charge_id}"

    def get_search_results(self, request, queryset, search_term):
        return search_with_code(self, request, queryset, search_term, "code__code")


@admin.register(CodeGuess)
class CodeGuessAdmin(ServiceWrittenAdmin):
    """Wrong codes typed, per account and client: what the rate limit counts."""

    list_display = ("created_at", "account", "client")
    list_select_related = ("account",)
    search_fields = ("account__basic_id", "client")
    date_hierarchy = "created_at"
