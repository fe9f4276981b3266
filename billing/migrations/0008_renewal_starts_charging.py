from django.db import migrations, models


class Migration(migrations.Migration):
    """A renewal starts charging: the field's default, so no caller names a status when it records one.
    Django applies such a default in Python, not in the column, so only the state changes (SQLite would
    otherwise copy the whole table to alter nothing)."""

    dependencies = [
        ('billing', '0007_accounts_moved_out'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='renewal',
                    name='status',
                    field=models.CharField(choices=[('charging', 'Charging'), ('renewed', 'Renewed'), ('failed', 'Failed, to be retried'), ('downgraded', 'Downgraded after the last retry')], default='charging', max_length=10, verbose_name='status'),
                ),
            ],
        ),
    ]
