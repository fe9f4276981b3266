from django.db import migrations

# The kinds LINE's delivery statistics (GET /v2/bot/insight/message/delivery) count, and whether LINE bills them
# (SPEC §7). Step messages are billed too, but that API does not count them apart, so they have no kind here.
KINDS = [
    ("broadcast", "群發訊息", "Broadcast", True),
    ("targeting", "分眾訊息", "Targeted message", True),
    ("apiBroadcast", "API 群發訊息", "API broadcast", True),
    ("apiPush", "API 推播訊息（Push）", "API push", True),
    ("apiMulticast", "API 多人訊息（Multicast）", "API multicast", True),
    ("apiNarrowcast", "API 分眾訊息（Narrowcast）", "API narrowcast", True),
    ("apiReply", "API 回覆訊息（Reply）", "API reply", False),
    ("autoResponse", "自動回應訊息", "Auto-response", False),
    ("welcomeResponse", "加入好友的歡迎訊息", "Greeting message", False),
    ("chat", "一對一聊天", "1:1 chat", False),
]


def seed(apps, schema_editor):
    MessageKind = apps.get_model("usage", "MessageKind")
    for code, name_zh_hant, name_en, billed in KINDS:
        MessageKind.objects.get_or_create(
            code=code, defaults={"name_zh_hant": name_zh_hant, "name_en": name_en, "billed": billed}
        )


class Migration(migrations.Migration):
    dependencies = [("usage", "0003_message_kinds_daily_usage_channels")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
