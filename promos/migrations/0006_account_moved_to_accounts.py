import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The account model moved to accounts with its table: the foreign keys change in the state only."""


    dependencies = [
        ('accounts', '0001_move_from_billing'),
        ('promos', '0005_codebatch_name_and_progress'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='codeguess',
                    name='account',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.officialaccount', verbose_name='official account'),
                ),
                migrations.AlterField(
                    model_name='promocode',
                    name='registered_account',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='registered_codes', to='accounts.officialaccount', verbose_name='registered to'),
                ),
                migrations.AlterField(
                    model_name='redemption',
                    name='account',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='redemptions', to='accounts.officialaccount', verbose_name='official account'),
                ),
            ],
        ),
    ]
