import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The four models now belong to accounts (accounts 0001): removed from billing's state only; the tables stay."""


    dependencies = [
        ('invoices', '0003_account_moved_to_accounts'),
        ('promos', '0006_account_moved_to_accounts'),
        ('payments', '0006_account_moved_to_accounts'),
        ('accounts', '0001_move_from_billing'),
        ('billing', '0006_user_preference'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='membership',
                    name='account',
                ),
                migrations.RemoveField(
                    model_name='membership',
                    name='user',
                ),
                migrations.AlterField(
                    model_name='subscription',
                    name='account',
                    field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='subscription', to='accounts.officialaccount', verbose_name='official account'),
                ),
                migrations.AlterField(
                    model_name='checkout',
                    name='account',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='checkouts', to='accounts.officialaccount', verbose_name='official account'),
                ),
                migrations.AlterField(
                    model_name='monthlyusage',
                    name='account',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='usage', to='accounts.officialaccount', verbose_name='official account'),
                ),
                migrations.RemoveField(
                    model_name='userpreference',
                    name='user',
                ),
                migrations.DeleteModel(
                    name='AuditRecord',
                ),
                migrations.DeleteModel(
                    name='Membership',
                ),
                migrations.DeleteModel(
                    name='OfficialAccount',
                ),
                migrations.DeleteModel(
                    name='UserPreference',
                ),
            ],
        ),
    ]
