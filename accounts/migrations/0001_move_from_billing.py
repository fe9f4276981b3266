import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The models move from billing with their tables (db_table keeps billing_*): the state changes, no data moves."""


    dependencies = [
        ('billing', '0006_user_preference'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='OfficialAccount',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, verbose_name='name')),
                        ('basic_id', models.CharField(help_text='For example @123abcde', max_length=21, unique=True, validators=[django.core.validators.RegexValidator('\\A@[0-9a-z][0-9a-z._-]{2,19}\\Z', 'A basic ID starts with @ followed by 3 to 20 lower-case letters, digits, dots, dashes or underscores.')], verbose_name='basic ID')),
                        ('region', models.CharField(choices=[('TW', 'Taiwan'), ('JP', 'Japan'), ('TH', 'Thailand')], default='TW', max_length=2, verbose_name='region')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                    ],
                    options={
                        'verbose_name': 'official account',
                        'verbose_name_plural': 'official accounts',
                        'db_table': 'billing_officialaccount',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='UserPreference',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('language', models.CharField(choices=[('zh-hant', 'Traditional Chinese'), ('en', 'English')], default='zh-hant', max_length=10, verbose_name='language')),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='preference', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'user preference',
                        'verbose_name_plural': 'user preferences',
                        'db_table': 'billing_userpreference',
                    },
                ),
                migrations.CreateModel(
                    name='Membership',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('role', models.CharField(choices=[('admin', 'Admin'), ('operator', 'Operator')], default='operator', max_length=10, verbose_name='role')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='accounts.officialaccount', verbose_name='official account')),
                    ],
                    options={
                        'verbose_name': 'membership',
                        'verbose_name_plural': 'memberships',
                        'db_table': 'billing_membership',
                        'constraints': [models.UniqueConstraint(fields=('user', 'account'), name='membership_unique_user_account')],
                    },
                ),
                migrations.CreateModel(
                    name='AuditRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('object_type', models.CharField(max_length=50, verbose_name='object type')),
                        ('object_id', models.CharField(max_length=40, verbose_name='object ID')),
                        ('object_repr', models.CharField(max_length=200, verbose_name='object')),
                        ('action', models.CharField(max_length=50, verbose_name='action')),
                        ('before', models.JSONField(blank=True, null=True, verbose_name='before')),
                        ('after', models.JSONField(blank=True, null=True, verbose_name='after')),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False, verbose_name='at')),
                        ('actor', models.ForeignKey(blank=True, help_text='Empty when a scheduled command acted.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='actor')),
                        ('account', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_records', to='accounts.officialaccount', verbose_name='official account')),
                    ],
                    options={
                        'verbose_name': 'audit record',
                        'verbose_name_plural': 'audit records',
                        'db_table': 'billing_auditrecord',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['object_type', 'object_id'], name='audit_object_idx')],
                    },
                ),
            ],
        ),
    ]
