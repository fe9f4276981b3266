from django.db import migrations


class Migration(migrations.Migration):
    """MonthlyUsage now belongs to usage (usage 0001): removed from billing's state only; the table stays."""

    dependencies = [
        ('billing', '0008_renewal_starts_charging'),
        ('usage', '0001_move_from_billing'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='MonthlyUsage',
                ),
            ],
        ),
    ]
