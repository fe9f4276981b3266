"""A month's extra messages billed once: with the renewal when LINE's figure is final, on their own afterwards
(`bill_extra_messages`) when it was not, with the plan and the cap in force as the month ended (SPEC §2, §7)."""

from datetime import date, datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.models import AuditRecord, UserPreference
from accounts.periods import BILLING_TZ
from billing.extra_messages import (
    MAX_ATTEMPTS,
    BillTotals,
    _claim,
    extra_message_bills_due,
    extra_message_bills_in_doubt,
    extra_messages_bill,
    extra_messages_recover,
)
from billing.models import ExtraMessagesBill, ExtraMessagesStatus, Renewal, RenewalStatus
from billing.reconciliation import payments_in_doubt, payments_reconcile
from billing.renewals import Totals, renew_subscription, renewal_retry
from billing.services import subscription_set_extra_message_cap
from invoices.models import Invoice
from payments.models import Charge, ChargeStatus, SandboxCharge
from payments.services import payment_method_make_main, payment_method_remove
from tests.factories import MembershipFactory, SubscriptionFactory, plan
from tests.helpers import add_card
from usage.models import MonthlyUsage

pytestmark = pytest.mark.django_db
JUNE = date(2026, 6, 1)
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)
JULY_2 = datetime(2026, 7, 2, 0, 45, tzinfo=BILLING_TZ)
DECLINES, LOST_ANSWER = "4000000000000002", "4000000000000119"


def high(card="4242424242424242", cap=None, **extra):
    sub = SubscriptionFactory(plan=plan("high"), period_start=JUNE, extra_message_cap=cap, **extra)
    if card:
        add_card(sub.account, number=card)
    return sub


def june(sub, messages, *, final):
    return MonthlyUsage.objects.update_or_create(
        account=sub.account, month=JUNE, defaults={"billed_messages": messages, "final": final}
    )[0]


def renew(sub, at=JULY_1):
    renew_subscription(subscription_id=sub.pk, as_of=at, run=None, totals=Totals())
    sub.refresh_from_db()


def bill_all(at=JULY_2) -> BillTotals:
    totals = BillTotals()
    for bill in extra_message_bills_due():
        extra_messages_bill(bill_id=bill.pk, as_of=at, totals=totals)
    return totals


def extra_charges():
    return Charge.objects.filter(purpose="messages")


# ---- with the renewal, or waiting -------------------------------------------------------------------


def test_a_final_figure_is_billed_with_the_renewal_and_nothing_is_left_to_bill():
    sub = high()
    june(sub, 16_000, final=True)
    renew(sub)
    charge = Charge.objects.get()
    assert (charge.purpose, charge.fee_twd, charge.extra_messages_twd, charge.total_twd) == (
        "renewal",
        1200,
        2000,
        3360,
    )
    bill = ExtraMessagesBill.objects.get()
    assert (bill.status, bill.month, bill.billed_messages, bill.extra_messages, bill.amount_twd) == (
        ExtraMessagesStatus.WITH_RENEWAL,
        JUNE,
        16_000,
        10_000,
        2000,
    )
    assert bill.renewal == Renewal.objects.get()
    assert bill_all() == BillTotals()
    assert Charge.objects.count() == 1


def test_a_figure_not_final_at_renewal_time_is_billed_on_its_own_once_final_with_its_invoice():
    sub = high()
    june(sub, 12_000, final=False)  # read before LINE closed June
    renew(sub)
    fee = Charge.objects.get()
    assert (fee.fee_twd, fee.extra_messages_twd, fee.total_twd) == (1200, 0, 1260)
    bill = ExtraMessagesBill.objects.get()
    assert (bill.status, bill.plan.code, bill.billed_messages) == (ExtraMessagesStatus.WAITING, "high", None)
    # while the figure is not final, nothing is billed
    assert bill_all() == BillTotals()
    # LINE's final figure for June: 16,000
    june(sub, 16_000, final=True)
    totals = bill_all()
    charge = extra_charges().get()
    assert (charge.fee_twd, charge.extra_messages_twd, charge.tax_twd, charge.total_twd) == (0, 2000, 100, 2100)
    assert (charge.status, charge.period_start, charge.plan_code) == (ChargeStatus.SUCCEEDED, JUNE, "high")
    assert charge.idempotency_key == f"extra-messages:{sub.account_id}:2026-06:1"
    assert [line["kind"] for line in charge.lines] == ["extra_messages", "tax"]
    assert (totals.billed, totals.charged_twd) == (1, 2100)
    bill.refresh_from_db()
    assert (bill.status, bill.billed_messages, bill.extra_messages, bill.amount_twd, bill.charge) == (
        ExtraMessagesStatus.BILLED,
        16_000,
        10_000,
        2000,
        charge,
    )
    invoice = Invoice.objects.get(charge=charge)
    assert sum(line["amount_twd"] for line in invoice.lines) == 2000
    assert AuditRecord.objects.filter(action="extra_messages.settle", object_id=str(bill.pk)).exists()
    # a rerun, and the command, change nothing
    assert bill_all() == BillTotals()
    call_command("bill_extra_messages", "--as-of", "2026-07-03")
    assert extra_charges().count() == 1
    assert SandboxCharge.objects.filter(order_id=charge.idempotency_key).count() == 1


def test_the_cap_and_the_plan_are_those_in_force_as_the_month_ended():
    # a cap of 1,000 in June, and a downgrade to Medium from July
    sub = high(cap=1000, scheduled_plan=plan("medium"))
    june(sub, 16_000, final=False)
    renew(sub)
    assert sub.plan.code == "medium"
    # the admin clears the cap meanwhile: it is no longer the High plan's, and June's cap was 1,000
    bill = ExtraMessagesBill.objects.get()
    assert (bill.plan.code, bill.cap) == ("high", 1000)
    june(sub, 16_000, final=True)
    bill_all()
    charge = extra_charges().get()
    assert (charge.extra_messages_twd, charge.plan_code) == (200, "high")  # 1,000 × NT$0.2, on High


def test_a_final_figure_within_the_free_messages_bills_nothing():
    sub = high()
    june(sub, 5_000, final=False)
    renew(sub)
    june(sub, 5_900, final=True)
    totals = bill_all()
    assert totals.nothing == 1
    assert ExtraMessagesBill.objects.get().status == ExtraMessagesStatus.NOTHING
    assert not extra_charges().exists()


def test_no_figure_at_all_waits_and_a_final_figure_within_the_quota_makes_no_bill():
    waiting, within = high(), high()
    june(within, 3_000, final=True)
    renew(waiting)
    renew(within)
    assert list(ExtraMessagesBill.objects.values_list("account", "status")) == [
        (waiting.account_id, ExtraMessagesStatus.WAITING)
    ]


@pytest.mark.parametrize("code", ["light", "medium"])
def test_plans_without_extra_messages_make_no_bill(code):
    sub = SubscriptionFactory(plan=plan(code), period_start=JUNE)
    add_card(sub.account)
    june(sub, 50_000, final=False)
    renew(sub)
    assert not ExtraMessagesBill.objects.exists()


# ---- retries of the renewal ------------------------------------------------------------------------


def replace_card(sub):
    payment_method_make_main(method=add_card(sub.account), actor=None)


def test_a_retried_renewal_leaves_a_waiting_month_to_its_own_charge_even_once_final():
    sub = high(card=DECLINES)
    june(sub, 16_000, final=False)
    renew(sub)
    assert Renewal.objects.get().status == RenewalStatus.FAILED
    # the card is replaced and June's figure becomes final before the retry on the 3rd
    replace_card(sub)
    june(sub, 16_000, final=True)
    renewal_retry(renewal_id=Renewal.objects.get().pk, as_of=datetime(2026, 7, 3, tzinfo=BILLING_TZ), totals=Totals())
    retried = Charge.objects.get(idempotency_key__endswith=":2", purpose="renewal")
    assert (retried.fee_twd, retried.extra_messages_twd) == (1200, 0)
    bill_all()
    assert extra_charges().get().extra_messages_twd == 2000
    assert Charge.objects.filter(status=ChargeStatus.SUCCEEDED).count() == 2


def test_a_retried_renewal_carries_the_months_extra_messages_again_as_first_priced():
    sub = high(card=DECLINES, cap=5000)
    june(sub, 16_000, final=True)
    renew(sub)
    replace_card(sub)
    subscription_set_extra_message_cap(subscription=sub, cap=None, actor=None)  # raised after the month ended
    renewal_retry(renewal_id=Renewal.objects.get().pk, as_of=datetime(2026, 7, 3, tzinfo=BILLING_TZ), totals=Totals())
    first, second = Charge.objects.filter(purpose="renewal").order_by("pk")
    assert first.extra_messages_twd == second.extra_messages_twd == 1000  # 5,000 × NT$0.2, June's cap
    assert ExtraMessagesBill.objects.get().status == ExtraMessagesStatus.WITH_RENEWAL
    assert bill_all() == BillTotals()


# ---- faults ---------------------------------------------------------------------------------------------


def test_a_declined_charge_tells_the_admins_in_their_language_and_is_tried_again_up_to_the_last_attempt(
    django_capture_on_commit_callbacks,
):
    sub = high(card=DECLINES)
    member = MembershipFactory(account=sub.account, user__email="owner@example.tw")
    UserPreference.objects.create(user=member.user, language="zh-hant")
    june(sub, 16_000, final=False)
    renew(sub)
    mail.outbox.clear()
    june(sub, 16_000, final=True)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with django_capture_on_commit_callbacks(execute=True):
            totals = bill_all()
        assert totals.failed == 1
        bill = ExtraMessagesBill.objects.get()
        assert (bill.status, bill.attempts) == (ExtraMessagesStatus.FAILED, attempt)
    assert bill_all() == BillTotals()  # no attempt left
    assert extra_charges().count() == MAX_ATTEMPTS
    assert not extra_charges().filter(status=ChargeStatus.SUCCEEDED).exists()
    assert len(mail.outbox) == MAX_ATTEMPTS
    assert "加購訊息" in mail.outbox[0].subject
    assert "客服" in mail.outbox[-1].body or "專員" in mail.outbox[-1].body


def test_without_a_payment_method_the_bill_fails_and_is_tried_again_once_one_is_added():
    sub = high()
    june(sub, 16_000, final=False)
    renew(sub)
    sub.account.payment_methods.update(is_main=False)
    june(sub, 16_000, final=True)
    assert bill_all().failed == 1
    bill = ExtraMessagesBill.objects.get()
    assert (bill.status, bill.last_error, bill.charge) == (ExtraMessagesStatus.FAILED, "no main payment method", None)
    add_card(sub.account)
    assert bill_all().billed == 1
    bill.refresh_from_db()
    assert (bill.status, bill.attempts) == (ExtraMessagesStatus.BILLED, 2)


def test_a_lost_answer_stays_charging_and_reconciliation_reads_it_back_without_charging_again():
    sub = high(card=LOST_ANSWER)
    june(sub, 16_000, final=True)
    bill = ExtraMessagesBill.objects.create(account=sub.account, month=JUNE, plan=plan("high"))  # waiting
    totals = bill_all()
    assert totals.pending == 1
    bill.refresh_from_db()
    assert bill.status == ExtraMessagesStatus.CHARGING
    assert bill_all() == BillTotals()  # a charging bill is not claimed again
    later = datetime.now(tz=BILLING_TZ) + timedelta(seconds=1)
    assert list(extra_message_bills_in_doubt(created_before=later)) == [bill]
    done = payments_reconcile(payments_in_doubt(created_before=later), as_of=JULY_2)
    assert done.extra_messages.billed == 1
    bill.refresh_from_db()
    assert bill.status == ExtraMessagesStatus.BILLED
    assert SandboxCharge.objects.filter(order_id=bill.charge.idempotency_key).count() == 1
    assert Invoice.objects.filter(charge=bill.charge).exists()


def test_recovery_of_an_order_the_gateway_never_saw_charges_it_once():
    sub = high()
    june(sub, 16_000, final=True)
    bill = ExtraMessagesBill.objects.create(account=sub.account, month=JUNE, plan=plan("high"))
    # a run that died after its claim: the charge is pending and never reached the gateway
    claimed = _claim(bill.pk, as_of=JULY_2, totals=BillTotals())
    assert claimed.status == ExtraMessagesStatus.CHARGING
    assert not SandboxCharge.objects.exists()
    extra_messages_recover(bill=ExtraMessagesBill.objects.get(), totals=BillTotals())
    bill.refresh_from_db()
    assert bill.status == ExtraMessagesStatus.BILLED
    assert SandboxCharge.objects.count() == 1


def test_a_payment_method_removed_while_a_bill_waits_is_not_charged():
    sub = high()
    june(sub, 16_000, final=False)
    renew(sub)
    sub.plan = plan("light")  # left High, so the main method may go
    sub.save(update_fields=["plan"])
    for method in sub.account.payment_methods.all():
        payment_method_remove(method=method, actor=None, main_required=False)
    june(sub, 16_000, final=True)
    assert bill_all().failed == 1
    assert not extra_charges().exists()


def test_the_dry_run_changes_nothing_and_names_each_month(capsys):
    sub = high()
    june(sub, 16_000, final=False)
    renew(sub)
    june(sub, 16_000, final=True)
    call_command("bill_extra_messages", "--dry-run")
    out = capsys.readouterr().out
    assert f"would bill {sub.account.basic_id} 2026-06 (attempt 1)" in out
    assert ExtraMessagesBill.objects.get().status == ExtraMessagesStatus.WAITING
    assert not extra_charges().exists()


def test_a_renewal_that_carried_the_extra_messages_and_ended_in_dunning_leaves_them_to_be_billed_on_their_own():
    sub = high(card=DECLINES)
    june(sub, 16_000, final=True)
    renew(sub)
    assert ExtraMessagesBill.objects.get().status == ExtraMessagesStatus.WITH_RENEWAL
    for day in (3, 5, 7):  # every retry declines: the account falls to Light
        renewal_retry(
            renewal_id=Renewal.objects.get().pk, as_of=datetime(2026, 7, day, 0, 30, tzinfo=BILLING_TZ), totals=Totals()
        )
    assert Renewal.objects.get().status == RenewalStatus.DOWNGRADED
    bill = ExtraMessagesBill.objects.get()
    assert bill.status == ExtraMessagesStatus.WAITING
    assert AuditRecord.objects.filter(action="extra_messages.unpaid", object_id=str(bill.pk)).exists()
    # the admin adds a card that works: June's 10,000 extra messages are charged on their own, once
    replace_card(sub)
    bill_all(at=datetime(2026, 7, 8, tzinfo=BILLING_TZ))
    assert extra_charges().get().extra_messages_twd == 2000
    assert bill_all() == BillTotals()


def test_staff_may_bill_a_month_whose_attempts_are_used_up():
    sub = high(card=DECLINES)
    june(sub, 16_000, final=False)
    renew(sub)
    june(sub, 16_000, final=True)
    for _attempt in range(MAX_ATTEMPTS):
        bill_all()
    assert list(extra_message_bills_due()) == []
    replace_card(sub)
    totals = BillTotals()
    (bill,) = extra_message_bills_due(staff=True)
    extra_messages_bill(bill_id=bill.pk, as_of=JULY_2, totals=totals, staff=True)
    assert totals.billed == 1
    bill.refresh_from_db()
    assert (bill.status, bill.attempts) == (ExtraMessagesStatus.BILLED, MAX_ATTEMPTS + 1)
