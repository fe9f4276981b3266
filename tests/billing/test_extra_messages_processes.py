"""bill_extra_messages as real processes on PostgreSQL, two at once, while the renewals run: every waiting month
whose figure is final is charged exactly once (in our charges and at the gateway)."""

from datetime import date

import pytest

from billing.models import ExtraMessagesBill, ExtraMessagesStatus
from payments.models import Charge, ChargeStatus, SandboxCharge
from tests.concurrency import manage_command
from tests.factories import ExtraMessagesBillFactory, SubscriptionFactory, plan
from tests.helpers import add_card
from usage.models import MonthlyUsage

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
JUNE = date(2026, 6, 1)
COUNT = 30


def waiting_months(count=COUNT):
    """High accounts renewed into July without June's figure, which has since become final: 16,000 messages."""
    for _ in range(count):
        sub = SubscriptionFactory(plan=plan("high"), period_start=date(2026, 7, 1))
        add_card(sub.account)
        ExtraMessagesBillFactory(account=sub.account, month=JUNE)
        MonthlyUsage.objects.create(account=sub.account, month=JUNE, billed_messages=16_000, final=True)


def test_two_processes_at_once_charge_each_month_once_with_the_renewals_running_beside_them():
    waiting_months()
    due = SubscriptionFactory(plan=plan("high"), period_start=JUNE)  # a June renewal, with its own final figure
    add_card(due.account)
    MonthlyUsage.objects.create(account=due.account, month=JUNE, billed_messages=16_000, final=True)
    runs = [
        manage_command("bill_extra_messages", "--as-of", "2026-07-02T00:45:00+08:00", delay_ms=20),
        manage_command("bill_extra_messages", "--as-of", "2026-07-02T00:45:00+08:00", delay_ms=20),
        manage_command("renew_subscriptions", "--as-of", "2026-07-01T00:05:00+08:00", delay_ms=20),
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], results
    # each waiting month billed once, by one process or the other
    bills = ExtraMessagesBill.objects.filter(status=ExtraMessagesStatus.BILLED)
    assert bills.count() == COUNT
    extras = Charge.objects.filter(purpose="messages")
    assert extras.count() == COUNT
    assert set(extras.values_list("status", flat=True)) == {ChargeStatus.SUCCEEDED}
    assert sum(extras.values_list("extra_messages_twd", flat=True)) == COUNT * 2000
    assert SandboxCharge.objects.filter(order_id__startswith="extra-messages:").count() == COUNT
    # the renewal carried its own June with its fee, and made no second bill of it
    renewal_charge = Charge.objects.get(purpose="renewal")
    assert (renewal_charge.fee_twd, renewal_charge.extra_messages_twd) == (1200, 2000)
    assert ExtraMessagesBill.objects.get(account=due.account).status == ExtraMessagesStatus.WITH_RENEWAL
    # and the two runs split the work: what one billed, the other skipped
    billed = [int(out.split("billed ")[1].split(" ")[0]) for out, _err in results[:2]]
    assert sum(billed) == COUNT
