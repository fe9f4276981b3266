"""A database at the old floor plan's head (before the accounts app) migrates to the new one with its rows."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

OLD_HEAD = [
    ("accounts", None),
    ("usage", None),
    ("billing", "0006_user_preference"),
    ("payments", "0005_refund_key_unique"),
    ("promos", "0005_codebatch_name_and_progress"),
    ("invoices", "0002_invoice_void_allowance"),
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def latest():
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] in {app for app, _ in OLD_HEAD}]


def test_the_old_head_migrates_to_the_new_one_with_its_rows():
    # given a database at the old head, with an account, its member, a charge for a plan and an audit record
    old = migrate(OLD_HEAD)
    user = old.get_model("auth", "User").objects.create(username="ming")
    account = old.get_model("billing", "OfficialAccount").objects.create(name="小明咖啡", basic_id="@ming-cafe")
    old.get_model("billing", "Membership").objects.create(user=user, account=account, role="admin")
    medium = old.get_model("billing", "Plan").objects.get(code="medium")
    charge = old.get_model("payments", "Charge").objects.create(
        account=account,
        purpose="upgrade",
        plan=medium,
        period_start="2026-11-01",
        fee_twd=800,
        net_twd=800,
        tax_twd=40,
        total_twd=840,
        idempotency_key="checkout:old:1",
        status="succeeded",
    )
    old.get_model("billing", "AuditRecord").objects.create(
        account=account,
        object_type="accounts.officialaccount",
        object_id=str(account.pk),
        object_repr="小明咖啡",
        action="account.create",
    )
    content_types = old.get_model("contenttypes", "ContentType").objects
    content_types.get_or_create(app_label="billing", model="officialaccount")
    # when
    new = migrate(latest())
    # then the same rows, read through the models' new homes
    moved = new.get_model("accounts", "OfficialAccount").objects.get(pk=account.pk)
    assert (moved.name, moved.basic_id) == ("小明咖啡", "@ming-cafe")
    assert new.get_model("accounts", "Membership").objects.get(account=moved).role == "admin"
    assert new.get_model("payments", "Charge").objects.get(pk=charge.pk).plan_code == "medium"
    record = new.get_model("accounts", "AuditRecord").objects.get(account=moved)
    assert record.object_type == "accounts.officialaccount"
    labels = set(
        new.get_model("contenttypes", "ContentType")
        .objects.filter(model="officialaccount")
        .values_list("app_label", flat=True)
    )
    assert labels == {"accounts"}


def test_the_new_head_migrates_back_to_the_old_one_with_its_rows():
    # given an account with a charge at the new head
    new = migrate(latest())
    account = new.get_model("accounts", "OfficialAccount").objects.create(name="阿美小舖", basic_id="@amei-shop")
    charge = new.get_model("payments", "Charge").objects.create(
        account=account,
        purpose="upgrade",
        plan_code="high",
        period_start="2026-11-01",
        fee_twd=1200,
        net_twd=1200,
        tax_twd=60,
        total_twd=1260,
        idempotency_key="checkout:new:1",
        status="succeeded",
    )
    # when
    old = migrate(OLD_HEAD)
    # then
    assert old.get_model("billing", "OfficialAccount").objects.get(pk=account.pk).basic_id == "@amei-shop"
    assert old.get_model("payments", "Charge").objects.get(pk=charge.pk).plan.code == "high"
    migrate(latest())
