"""The staff admin of message usage: figures staff record where no channel reports them, the kinds LINE bills,
and the accounts' Messaging API channels (whether they are connected; never their tokens)."""

from django.contrib import admin

from accounts.admin import AuditedAdmin, ServiceWrittenAdmin
from usage.models import DailyUsage, MessageKind, MessagingChannel, MonthlyUsage


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(AuditedAdmin):
    """Staff record usage here where no channel token reports it (SPEC §7)."""

    list_display = ("account", "month", "billed_messages", "source", "final", "updated_at")
    list_select_related = ("account",)
    list_filter = ("source", "final")
    search_fields = ("account__basic_id", "account__name")
    date_hierarchy = "month"
    autocomplete_fields = ("account",)

    def get_readonly_fields(self, request, obj=None):
        return ("account", "month", "updated_at") if obj else ("updated_at",)


@admin.register(DailyUsage)
class DailyUsageAdmin(AuditedAdmin):
    list_display = ("account", "day", "kind", "count", "source", "final", "updated_at")
    list_select_related = ("account", "kind")
    list_filter = ("kind__billed", "kind", "source", "final")
    search_fields = ("account__basic_id", "account__name")
    date_hierarchy = "day"
    autocomplete_fields = ("account",)

    def get_readonly_fields(self, request, obj=None):
        return ("account", "day", "kind", "updated_at") if obj else ("updated_at",)


@admin.register(MessageKind)
class MessageKindAdmin(AuditedAdmin):
    """Which kinds LINE bills is data (SPEC §7): staff correct it here. A kind's code is LINE's and stays."""

    list_display = ("code", "name_zh_hant", "name_en", "billed")
    list_filter = ("billed",)
    search_fields = ("code", "name_zh_hant", "name_en")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False  # recorded usage refers to its kind


@admin.register(MessagingChannel)
class MessagingChannelAdmin(ServiceWrittenAdmin):
    """Whether each account's channel is connected and how reading it went; admins connect it on their page."""

    list_display = ("account", "status", "bot_basic_id", "connected_at", "last_synced_at", "last_error")
    list_select_related = ("account",)
    list_filter = ("status",)
    search_fields = ("account__basic_id", "account__name", "bot_basic_id")
    # never the token, not even encrypted
    fields = ("account", "status", "bot_basic_id", "bot_name", "connected_at", "last_synced_at", "last_error")
