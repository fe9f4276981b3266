"""Monthly usage moved from billing to usage with its table: a database with rows, permissions and audit records
of `billing.monthlyusage` keeps them, named `usage.monthlyusage`, and staff bookmarks lead to the new admin."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_THE_MOVE = [
    ("billing", "0008_renewal_starts_charging"),
    ("usage", None),
    ("contenttypes", "0002_remove_content_type_name"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def heads():
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] in {"billing", "usage"}]


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_keeps_its_usage_rows_labels_and_audit_trail():
    # given usage recorded by staff while it was billing's, with its audit record and content type
    old = migrate(BEFORE_THE_MOVE)
    account = old.get_model("accounts", "OfficialAccount").objects.create(name="小明咖啡", basic_id="@ming-cafe")
    row = old.get_model("billing", "MonthlyUsage").objects.create(
        account=account, month="2026-10-01", billed_messages=7200
    )
    old.get_model("accounts", "AuditRecord").objects.create(
        account=account,
        object_type="billing.monthlyusage",
        object_id=str(row.pk),
        object_repr="@ming-cafe 2026-10: 7,200",
        action="monthlyusage.add",
    )
    content_types = old.get_model("contenttypes", "ContentType").objects
    content_types.filter(app_label="usage", model="monthlyusage").delete()
    content_type, _ = content_types.get_or_create(app_label="billing", model="monthlyusage")
    # when
    new = migrate(heads())
    # then the same row, read through usage, a staff figure not yet final; its labels follow it
    moved = new.get_model("usage", "MonthlyUsage").objects.get(pk=row.pk)
    assert (moved.billed_messages, str(moved.month), moved.source, moved.final) == (7200, "2026-10-01", "staff", False)
    record = new.get_model("accounts", "AuditRecord").objects.get(account_id=account.pk)
    assert record.object_type == "usage.monthlyusage"
    relabelled = new.get_model("contenttypes", "ContentType").objects.get(pk=content_type.pk)
    assert (relabelled.app_label, relabelled.model) == ("usage", "monthlyusage")
    # and back: the row is billing's again
    old = migrate(BEFORE_THE_MOVE)
    assert old.get_model("billing", "MonthlyUsage").objects.get(pk=row.pk).billed_messages == 7200
    assert old.get_model("accounts", "AuditRecord").objects.get(account_id=account.pk).object_type == (
        "billing.monthlyusage"
    )
    migrate(heads())


@pytest.mark.django_db
def test_an_old_admin_address_of_monthly_usage_leads_to_its_new_one(admin_client):
    response = admin_client.get("/admin/billing/monthlyusage/3/change/?_changelist_filters=q%3Dming")
    assert (response.status_code, response["Location"]) == (
        301,
        "/admin/usage/monthlyusage/3/change/?_changelist_filters=q%3Dming",
    )
