"""Refunds are recorded pending before the gateway is asked, each with its own key (issue 10).

Refunds recorded before this migration were made by the gateway first: they become `succeeded`, with a
key made from their id. The key becomes unique in the next migration, once every row has one.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def keys_for_existing_refunds(apps, schema_editor):
    Refund = apps.get_model("payments", "Refund")
    for refund in Refund.objects.filter(idempotency_key=""):
        refund.idempotency_key = f"refund:before-keys:{refund.pk}"
        refund.settled_at = refund.created_at
        refund.save(update_fields=["idempotency_key", "settled_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0003_sandboxcharge"),
    ]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="status",
            field=models.CharField(
                choices=[("pending", "Pending"), ("succeeded", "Refunded"), ("failed", "Refused by the gateway")],
                default="succeeded",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.AlterField(
            model_name="refund",
            name="status",
            field=models.CharField(
                choices=[("pending", "Pending"), ("succeeded", "Refunded"), ("failed", "Refused by the gateway")],
                default="pending",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="idempotency_key",
            field=models.CharField(default="", max_length=100, verbose_name="idempotency key"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="refund",
            name="failure_reason",
            field=models.CharField(blank=True, max_length=255, verbose_name="failure reason"),
        ),
        migrations.AddField(
            model_name="refund",
            name="settled_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="settled at"),
        ),
        migrations.RunPython(keys_for_existing_refunds, migrations.RunPython.noop),
        migrations.CreateModel(
            name="SandboxRefund",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("refund_key", models.CharField(max_length=100, unique=True)),
                ("amount", models.PositiveIntegerField()),
                ("reference", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "charge",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="refunds", to="payments.sandboxcharge"
                    ),
                ),
            ],
            options={"verbose_name": "sandbox refund", "verbose_name_plural": "sandbox refunds"},
        ),
    ]
