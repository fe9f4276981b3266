"""invoices 0006 gives the e-invoice messages recorded before it the state their times say."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("invoices", "0005_period_close_deadlines_messages")]
AFTER = [("invoices", "0006_carriers_turnkey")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_messages_recorded_before_get_the_state_of_their_times():
    # given three messages at 0005: owed, exported, and exported then confirmed uploaded
    old = migrate(BEFORE)
    messages = old.get_model("invoices", "EInvoiceMessage").objects
    at = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    common = {"kind": "E0402", "period": "11412", "event_at": at, "due_on": date(2026, 1, 10)}
    owed = messages.create(subject="07AA", **common)
    exported = messages.create(subject="07AB", exported_at=at, **common)
    uploaded = messages.create(subject="07AC", exported_at=at, uploaded_at=at, **common)
    # when the database goes to 0006
    new = migrate(AFTER)
    # then each has the state its times say (and the constraints that tie them hold)
    states = dict(new.get_model("invoices", "EInvoiceMessage").objects.values_list("pk", "status"))
    assert states == {owed.pk: "pending", exported.pk: "written", uploaded.pk: "uploaded"}
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
