import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The account model moved to accounts with its table: the foreign keys change in the state only."""


    dependencies = [
        ('accounts', '0001_move_from_billing'),
        ('payments', '0005_refund_key_unique'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='charge',
                    name='account',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='charges', to='accounts.officialaccount', verbose_name='official account'),
                ),
                migrations.AlterField(
                    model_name='linepayregistration',
                    name='account',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='linepay_registrations', to='accounts.officialaccount', verbose_name='official account'),
                ),
                migrations.AlterField(
                    model_name='paymentmethod',
                    name='account',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='payment_methods', to='accounts.officialaccount', verbose_name='official account'),
                ),
            ],
        ),
    ]
