"""The staff admin for payment methods, charges and refunds: all written by services, so read-only here."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyInline, ServiceWrittenAdmin, json_column, money, money_column
from payments.models import Charge, LinePayRegistration, PaymentMethod, Refund


def masked_token(token: str) -> str:
    """Enough of a gateway token to tell two apart, never enough to use one."""
    return "••••" + token[-4:] if len(token) > 8 else "••••"


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ServiceWrittenAdmin):
    list_display = ("__str__", "account", "kind", "gateway", "status", "is_main", "expiry", "created_at")
    list_select_related = ("account",)
    list_filter = ("kind", "gateway", "status", "is_main")
    search_fields = ("account__basic_id", "account__name", "=last_four")
    # `gateway_token` is deliberately absent: a usable token never reaches a page.
    fields = (
        "account",
        "kind",
        "gateway",
        "masked_gateway_token",
        "brand",
        "last_four",
        "expiry_month",
        "expiry_year",
        "masked_card",
        "status",
        "is_main",
        "created_at",
    )
    readonly_fields = ("masked_gateway_token",)

    @admin.display(description=_("gateway token"))
    def masked_gateway_token(self, method):
        return masked_token(method.gateway_token)

    @admin.display(description=_("expiry"))
    def expiry(self, method):
        if method.expiry_month is None or method.expiry_year is None:
            return None
        return f"{method.expiry_month:02d}/{method.expiry_year}"


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("amount", "status", "reason", "gateway_reference", "failure_reason", "actor", "created_at")
    readonly_fields = fields
    amount = money_column(Refund, "amount_twd")


class ChargeAdmin(ServiceWrittenAdmin):
    """Registered by billing's admin, which adds the refund action (a refund also corrects the invoice)."""

    list_display = (
        "id",
        "account",
        "purpose",
        "plan_code",
        "period_start",
        "fee",
        "deduction",
        "total",
        "status",
        "gateway",
        "created_at",
    )
    list_select_related = ("account",)
    list_filter = ("status", "purpose", "plan_code", "gateway")
    search_fields = ("=idempotency_key", "=gateway_reference", "account__basic_id", "account__name")
    date_hierarchy = "created_at"
    inlines = [RefundInline]

    fieldsets = (
        (
            None,
            {
                "fields": (
                    "account",
                    "purpose",
                    "plan_code",
                    "period_start",
                    "payment_method",
                    "status",
                    "failure_reason",
                )
            },
        ),
        (
            _("Amounts"),
            {
                "fields": (
                    "fee",
                    "deduction",
                    "forfeited",
                    "extra_messages",
                    "net",
                    "tax",
                    "total",
                    "refunded",
                    "amount_lines",
                )
            },
        ),
        (_("Gateway"), {"fields": ("gateway", "gateway_reference", "idempotency_key", "created_at", "settled_at")}),
    )
    readonly_fields = (
        "fee",
        "deduction",
        "forfeited",
        "extra_messages",
        "net",
        "tax",
        "total",
        "refunded",
        "amount_lines",
    )
    fee = money_column(Charge, "fee_twd")
    deduction = money_column(Charge, "deduction_twd")
    forfeited = money_column(Charge, "forfeited_twd")
    extra_messages = money_column(Charge, "extra_messages_twd")
    net = money_column(Charge, "net_twd")
    tax = money_column(Charge, "tax_twd")
    total = money_column(Charge, "total_twd")
    amount_lines = json_column(Charge, "lines")

    @admin.display(description=_("refunded"))
    def refunded(self, charge):
        return money(charge.refunded_twd)


@admin.register(Refund)
class RefundAdmin(ServiceWrittenAdmin):
    list_display = ("created_at", "charge_number", "account", "amount", "status", "reason", "actor")
    list_select_related = ("charge__account", "actor")
    list_filter = ("status",)
    search_fields = ("=charge__idempotency_key", "=idempotency_key", "=gateway_reference", "charge__account__basic_id")
    date_hierarchy = "created_at"
    fields = (
        "charge",
        "amount",
        "status",
        "reason",
        "idempotency_key",
        "gateway_reference",
        "failure_reason",
        "actor",
        "created_at",
        "settled_at",
    )
    readonly_fields = ("amount",)
    amount = money_column(Refund, "amount_twd")

    @admin.display(description=_("charge"), ordering="charge_id")
    def charge_number(self, refund):
        return f"#{refund.charge_id}"

    @admin.display(description=_("official account"), ordering="charge__account__name")
    def account(self, refund):
        return refund.charge.account


@admin.register(LinePayRegistration)
class LinePayRegistrationAdmin(ServiceWrittenAdmin):
    list_display = ("order_id", "account", "transaction_id", "status", "method_number", "actor", "created_at")
    list_select_related = ("account", "actor")

    @admin.display(description=_("method"))
    def method_number(self, registration):
        return f"#{registration.payment_method_id}" if registration.payment_method_id else None

    list_filter = ("status",)
    search_fields = ("order_id", "transaction_id", "account__basic_id")
