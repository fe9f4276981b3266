import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The account model moved to accounts with its table: the foreign keys change in the state only."""


    dependencies = [
        ('accounts', '0001_move_from_billing'),
        ('invoices', '0002_invoice_void_allowance'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='einvoiceprofile',
                    name='account',
                    field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='einvoice_profile', to='accounts.officialaccount', verbose_name='official account'),
                ),
            ],
        ),
    ]
