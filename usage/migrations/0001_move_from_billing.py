import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """MonthlyUsage moves from billing with its table (db_table keeps billing_monthlyusage): only the state changes."""

    initial = True

    dependencies = [
        ('accounts', '0002_labels_follow_the_move'),
        ('billing', '0008_renewal_starts_charging'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='MonthlyUsage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('month', models.DateField(help_text='The first day of the month.', verbose_name='month')),
                        ('billed_messages', models.PositiveIntegerField(default=0, verbose_name='billed messages')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='usage', to='accounts.officialaccount', verbose_name='official account')),
                    ],
                    options={
                        'verbose_name': 'monthly usage',
                        'verbose_name_plural': 'monthly usage',
                        'db_table': 'billing_monthlyusage',
                        'ordering': ['-month'],
                        'constraints': [models.UniqueConstraint(fields=('account', 'month'), name='usage_unique_account_month')],
                    },
                ),
            ],
        ),
    ]
