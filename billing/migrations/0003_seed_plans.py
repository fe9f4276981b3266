"""SPEC §2's three plans, their fees from the 2023-09 price table, and the high plan's first and last tiers.

The tier boundaries between NT$0.2 and NT$0.011 are not published as text (shared/reference
domain-facts §1.2): staff fill in the middle tiers in the admin. The last tier's start here is a
placeholder to be corrected from LINE's price page.
"""

from datetime import date
from decimal import Decimal

from django.db import migrations

PLANS = [
    # code, zh-Hant, English, rank, monthly fee, free quota, extra messages allowed
    ("light", "輕用量", "Light", 1, 0, 200, False),
    ("medium", "中用量", "Medium", 2, 800, 3000, False),
    ("high", "高用量", "High", 3, 1200, 6000, True),
]
HIGH_TIERS = [(6001, Decimal("0.200")), (1000001, Decimal("0.011"))]
PRICE_TABLE_FROM = date(2023, 9, 1)


def seed_plans(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    PlanPrice = apps.get_model("billing", "PlanPrice")
    ExtraMessageTier = apps.get_model("billing", "ExtraMessageTier")
    for code, name_zh, name_en, rank, fee, quota, extra in PLANS:
        plan, _ = Plan.objects.update_or_create(
            code=code,
            defaults={
                "name_zh_hant": name_zh,
                "name_en": name_en,
                "rank": rank,
                "free_message_quota": quota,
                "extra_messages_allowed": extra,
            },
        )
        price, _ = PlanPrice.objects.get_or_create(
            plan=plan, effective_from=PRICE_TABLE_FROM, defaults={"monthly_fee_twd": fee}
        )
        if code == "high":
            for start, unit_price in HIGH_TIERS:
                ExtraMessageTier.objects.get_or_create(
                    price=price, from_message=start, defaults={"unit_price_twd": unit_price}
                )


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]
    operations = [migrations.RunPython(seed_plans, migrations.RunPython.noop)]
