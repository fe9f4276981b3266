from django.db import migrations

MOVED = ("monthlyusage",)


def relabel(apps, schema_editor, old, new):
    """The moved model's content type (and with it the staff's permissions and admin log entries) and the audit
    trail's object types follow the model from `old` to `new`. A fresh database has neither yet."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    AuditRecord = apps.get_model("accounts", "AuditRecord")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)
        AuditRecord.objects.filter(object_type=f"{old}.{model}").update(object_type=f"{new}.{model}")


def forwards(apps, schema_editor):
    relabel(apps, schema_editor, "billing", "usage")


def backwards(apps, schema_editor):
    relabel(apps, schema_editor, "usage", "billing")


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0001_move_from_billing"),
        ("accounts", "0002_labels_follow_the_move"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
