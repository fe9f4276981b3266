"""The staff admin of message usage: figures staff record where no channel reports them, the kinds LINE bills,
and the accounts' Messaging API channels (whether they are connected; never their tokens)."""

from django.contrib import admin

from accounts.admin import AuditedAdmin
from usage.models import MonthlyUsage


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
