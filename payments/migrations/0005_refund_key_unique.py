from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0004_refund_pending"),
    ]

    operations = [
        migrations.AlterField(
            model_name="refund",
            name="idempotency_key",
            field=models.CharField(max_length=100, unique=True, verbose_name="idempotency key"),
        ),
    ]
