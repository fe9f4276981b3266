from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_plan_codes(apps, schema_editor):
    Charge = apps.get_model("payments", "Charge")
    Plan = apps.get_model("billing", "Plan")
    Charge.objects.filter(plan__isnull=False).update(
        plan_code=Subquery(Plan.objects.filter(pk=OuterRef("plan_id")).values("code")[:1])
    )


def copy_plans_back(apps, schema_editor):
    Charge = apps.get_model("payments", "Charge")
    Plan = apps.get_model("billing", "Plan")
    Charge.objects.exclude(plan_code="").update(
        plan=Subquery(Plan.objects.filter(code=OuterRef("plan_code")).values("pk")[:1])
    )


class Migration(migrations.Migration):
    """A charge keeps the code of the plan it paid for instead of a key into billing's plans (payments sits below
    billing): the codes are copied from the plans, then the key goes."""

    dependencies = [
        ("billing", "0007_accounts_moved_out"),
        ("payments", "0006_account_moved_to_accounts"),
    ]

    operations = [
        migrations.AddField(
            model_name="charge",
            name="plan_code",
            field=models.CharField(
                blank=True,
                help_text="The code of the plan this charge pays for, as it was then.",
                max_length=10,
                verbose_name="plan",
            ),
        ),
        migrations.RunPython(copy_plan_codes, copy_plans_back),
        migrations.RemoveField(model_name="charge", name="plan"),
    ]
