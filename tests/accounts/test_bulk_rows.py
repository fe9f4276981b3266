"""create_rows and update_rows write what save() would (on PostgreSQL by COPY and plain values)."""

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from accounts.audit import move_status
from accounts.bulk import create_rows, update_rows
from billing.models import Renewal, RenewalStatus
from tests.factories import SubscriptionFactory, plan

pytestmark = pytest.mark.django_db


def test_new_rows_get_their_keys_and_the_values_save_would_write():
    subs = [SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1)) for _ in range(3)]
    renewals = [
        Renewal(subscription=sub, period_start=date(2026, 7, 1), plan=plan("high"), attempts=2, last_error="é ✓")
        for sub in subs
    ]
    created = create_rows(renewals)
    assert created == renewals and all(renewal.pk for renewal in renewals)
    assert len({renewal.pk for renewal in renewals}) == 3
    assert not any(renewal._state.adding for renewal in renewals)
    for renewal, sub in zip(renewals, subs, strict=True):
        row = Renewal.objects.get(pk=renewal.pk)
        assert (row.subscription_id, row.plan_id, row.period_start) == (sub.pk, plan("high").pk, date(2026, 7, 1))
        assert (row.status, row.attempts, row.last_error, row.charge_id) == (RenewalStatus.CHARGING, 2, "é ✓", None)
        assert row.created_at == renewal.created_at and row.updated_at is not None
    # and the next row saved the ordinary way takes a key of its own
    other = Renewal.objects.create(subscription=subs[0], period_start=date(2026, 8, 1), plan=plan("high"))
    assert other.pk not in {renewal.pk for renewal in renewals}


def test_a_duplicate_row_is_an_integrity_error_as_with_bulk_create():
    sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
    create_rows([Renewal(subscription=sub, period_start=date(2026, 7, 1), plan=plan("medium"))])
    with pytest.raises(IntegrityError), transaction.atomic():
        create_rows([Renewal(subscription=sub, period_start=date(2026, 7, 1), plan=plan("medium"))])


def test_update_rows_writes_choices_members_and_dates_as_save_would():
    sub = SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1))
    (renewal,) = create_rows([Renewal(subscription=sub, period_start=date(2026, 7, 1), plan=plan("medium"))])
    move_status(renewal, RenewalStatus.FAILED)  # a choices member, not a plain str
    renewal.next_retry_on = date(2026, 7, 3)
    update_rows([renewal], ["status", "next_retry_on", "updated_at"])
    row = Renewal.objects.get(pk=renewal.pk)
    assert (row.status, row.next_retry_on) == ("failed", date(2026, 7, 3))
