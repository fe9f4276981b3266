"""A month's extra messages, billed once (SPEC §2, §7).

LINE counts the messages sent after 22:59 (UTC+8) on a month's last day in the next month, so a month's billed
total is final only after that. A renewal claimed with the final figure at hand carries the month's extra
messages in its own charge; one claimed without it charges the fee alone, and the month's bill waits. Once the
figure is final, `bill_extra_messages` charges the waiting bills on their own, each with its invoice, in three
short steps as renewals do: claim (a pending charge, in one transaction), charge (outside any), settle.

One bill per account and month (the database's constraint) is what makes it once: made by the renewal's claim,
moved only under the account's lock, and charged with an idempotency key of its own per attempt.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef

from accounts.audit import audit_entry, audit_records_save, lock_account, move_status, snapshot
from accounts.bulk import create_rows
from accounts.notices import notify_admins
from billing.invoicing import issue_invoice_for
from billing.models import ExtraMessagesBill, ExtraMessagesStatus
from billing.pricing import Rules, price_extra_messages
from billing.selectors import plan_terms
from payments.gateways import ChargeRequest, ChargeResult, Outcome, charge_or_unknown, gateway, pending_charge_read_back
from payments.models import ChargeStatus
from payments.selectors import main_payment_method
from payments.services import (
    charge_create,
    charges_mark_failed,
    charges_mark_succeeded,
    payment_method_mark_expired,
)
from usage.models import MonthlyUsage

logger = logging.getLogger(__name__)

BILL_FIELDS = ("status", "billed_messages", "extra_messages", "amount_twd", "charge", "attempts", "last_error")
# A declined bill is tried again on each later run, this many attempts in all; then staff take it from the admin.
MAX_ATTEMPTS = 4
NO_METHOD = "no main payment method"


# ---- made with the renewal ------------------------------------------------------------------------


def extra_message_bills_for(claimed: list[tuple]) -> list[ExtraMessagesBill]:
    """(subscription, renewal, quote, the month's MonthlyUsage or None) for each renewal claimed the first time,
    read before the claim starts any new period. For a month on a plan with extra messages: the bill of what the
    renewal's charge carries, or one that waits for the final figure; the plan and the cap are those in force as
    the month ended. Saved by `extra_message_bills_save` once the renewals are."""
    bills = []
    for subscription, renewal, quote, figure in claimed:
        if not subscription.plan.extra_messages_allowed:
            continue
        bill = ExtraMessagesBill(
            account=subscription.account,
            month=subscription.period_start,
            plan=subscription.plan,
            cap=subscription.extra_message_cap,
            renewal=renewal,
        )
        if quote.extra_messages:
            bill.billed_messages = figure.billed_messages
            bill.extra_messages, bill.amount_twd = quote.extra_messages, quote.extra_messages_twd
            move_status(bill, ExtraMessagesStatus.WITH_RENEWAL)
        elif figure is not None and figure.final:
            continue  # the final figure is within the free messages (or the cap is 0): nothing to bill
        bills.append(bill)
    return bills


def extra_message_bills_save(bills: list[ExtraMessagesBill]) -> None:
    create_rows(bills)
    audit_records_save(
        [
            audit_entry(
                actor=None,
                action="extra_messages.open",
                obj=bill,
                account=bill.account,
                after=snapshot(bill, "month", "plan", "cap", *BILL_FIELDS),
            )
            for bill in bills
        ]
    )


def extra_message_bills_unpaid(renewals: list) -> None:
    """These renewals ended in dunning, their charges never paid: the extra messages their charges carried are
    still owed, so their bills wait again, for `bill_extra_messages` to charge on their own (call under the
    accounts' locks, in the renewals' transaction)."""
    bills = ExtraMessagesBill.objects.select_for_update().select_related("account")
    for bill in bills.filter(renewal__in=renewals, status=ExtraMessagesStatus.WITH_RENEWAL):
        before = snapshot(bill, *BILL_FIELDS)
        move_status(bill, ExtraMessagesStatus.WAITING)
        _save(bill, before, action="extra_messages.unpaid")


# ---- charged on their own ---------------------------------------------------------------------------


@dataclass
class BillTotals:
    billed: int = 0
    charged_twd: int = 0
    nothing: int = 0
    failed: int = 0
    pending: int = 0
    skipped: int = 0
    failures: list = field(default_factory=list)


def _chargeable(bills, *, staff: bool):
    """Waiting or declined bills; for the command, only those with an attempt left (staff may go on after)."""
    bills = bills.filter(status__in=[ExtraMessagesStatus.WAITING, ExtraMessagesStatus.FAILED])
    return bills if staff else bills.filter(attempts__lt=MAX_ATTEMPTS)


def extra_message_bills_due(*, staff: bool = False):
    """Bills waiting, or declined with an attempt left (any, for `staff`), whose month's figure is now final."""
    final_figure = MonthlyUsage.objects.filter(account=OuterRef("account"), month=OuterRef("month"), final=True)
    return _chargeable(ExtraMessagesBill.objects, staff=staff).filter(Exists(final_figure)).order_by("month", "pk")


def extra_messages_bill(*, bill_id: int, as_of: datetime, totals: BillTotals, staff: bool = False) -> None:
    """Bill one month's extra messages from its final figure: at most once, however often it is run. `staff`
    (the admin's action) may charge a bill whose attempts the command has used up."""
    bill, result = _claim(bill_id, as_of=as_of, totals=totals, staff=staff), None
    if bill is None:
        return
    description = f"LINE Official Account extra messages {bill.month:%Y-%m}"
    request = ChargeRequest(bill.charge.payment_method, bill.charge.total_twd, bill.charge.idempotency_key, description)
    result = charge_or_unknown(gateway().charge, request)  # no answer: unknown, never guessed
    extra_messages_settle(bill_id=bill.pk, order_id=bill.charge.idempotency_key, result=result, totals=totals)


def _claim(bill_id: int, *, as_of: datetime, totals: BillTotals, staff: bool = False) -> ExtraMessagesBill | None:
    """Step 1, in one transaction under the account's lock: price the month from its final figure, and either
    close the bill (nothing to bill, no payment method) or record its pending charge. Returns it to charge."""
    with transaction.atomic():
        account_id = _lock_account_of(bill_id)
        if account_id is None:
            totals.skipped += 1
            return None
        bill = (
            _chargeable(ExtraMessagesBill.objects.select_for_update(of=("self",)), staff=staff)
            .select_related("account", "plan")
            .filter(pk=bill_id)
            .first()
        )
        figure = bill and MonthlyUsage.objects.filter(account_id=account_id, month=bill.month, final=True).first()
        if figure is None:  # billed or claimed by another run meanwhile, or no final figure
            totals.skipped += 1
            return None
        before = snapshot(bill, *BILL_FIELDS)
        quote = price_extra_messages(
            plan=plan_terms(bill.plan, bill.month),
            month=bill.month,
            billed_messages=figure.billed_messages,
            cap=bill.cap,
            at=as_of,
            rules=Rules(),
        )
        bill.billed_messages = figure.billed_messages
        bill.extra_messages, bill.amount_twd = quote.extra_messages, quote.extra_messages_twd
        method = main_payment_method(bill.account)
        if quote.total_twd == 0:
            move_status(bill, ExtraMessagesStatus.NOTHING)
            totals.nothing += 1
        elif method is None:
            bill.attempts += 1
            _fail(bill, NO_METHOD, totals=totals)
        else:
            bill.attempts += 1
            bill.charge, _created = charge_create(
                account=bill.account,
                amounts=quote,
                plan_code=bill.plan.code,
                payment_method=method,
                idempotency_key=f"extra-messages:{bill.account_id}:{bill.month:%Y-%m}:{bill.attempts}",
                actor=None,
            )
            move_status(bill, ExtraMessagesStatus.CHARGING)
        _save(bill, before, action="extra_messages.claim")
        return bill if bill.status == ExtraMessagesStatus.CHARGING else None


def extra_messages_settle(*, bill_id: int, order_id: str, result: ChargeResult, totals: BillTotals) -> None:
    """Step 3: the gateway's answer for the bill's order. Paid: the invoice is issued with it. Declined: the
    admins are told, and the next run tries again. Unknown: it stays charging, for `reconcile_payments`."""
    if result.outcome == Outcome.UNKNOWN:
        totals.pending += 1
        return
    with transaction.atomic():
        _lock_account_of(bill_id)
        bill = (
            ExtraMessagesBill.objects.select_for_update(of=("self",))
            .select_related("account", "charge__payment_method")
            .get(pk=bill_id)
        )
        if bill.status != ExtraMessagesStatus.CHARGING or bill.charge.idempotency_key != order_id:
            logger.warning("answer for order %s ignored: extra-messages bill %s moved on", order_id, bill_id)
            return
        before = snapshot(bill, *BILL_FIELDS)
        if result.outcome == Outcome.SUCCEEDED:
            (bill.charge,) = charges_mark_succeeded([(bill.charge, result.reference)], actor=None)
            move_status(bill, ExtraMessagesStatus.BILLED)
            bill.last_error = ""
            totals.billed += 1
            totals.charged_twd += bill.charge.total_twd
            issue_invoice_for(bill.charge)
        else:
            charges_mark_failed([(bill.charge, result.reason)], actor=None)
            _fail(bill, result.reason, totals=totals)
        _save(bill, before, action="extra_messages.settle")
    if result.outcome != Outcome.SUCCEEDED and result.method_gone and bill.charge.payment_method_id:
        method = bill.charge.payment_method
        payment_method_mark_expired(method=method, actor=None)
        notify_admins(account=method.account, notice="method_expired", method=method)


def extra_messages_recover(*, bill: ExtraMessagesBill, totals: BillTotals) -> None:
    """A bill left charging (a time-out, a process that died): read the order back, charge only what the
    gateway never saw, and settle."""
    charge = bill.charge
    if charge is None or charge.status != ChargeStatus.PENDING:
        return
    result = pending_charge_read_back(charge, description="extra messages")
    extra_messages_settle(bill_id=bill.pk, order_id=charge.idempotency_key, result=result, totals=totals)


def extra_message_bills_in_doubt(*, created_before: datetime):
    """Bills charging whose charge was asked for before `created_before`: their answer never came."""
    return ExtraMessagesBill.objects.filter(
        status=ExtraMessagesStatus.CHARGING, charge__created_at__lt=created_before
    ).select_related("charge__payment_method")


def _lock_account_of(bill_id: int) -> int | None:
    """The lock order: the bill's account first (None: no such bill)."""
    account_id = ExtraMessagesBill.objects.filter(pk=bill_id).values_list("account_id", flat=True).first()
    if account_id is not None:
        lock_account(account_id)
    return account_id


def _fail(bill: ExtraMessagesBill, reason: str, *, totals: BillTotals) -> None:
    if bill.status != ExtraMessagesStatus.FAILED:  # a failed bill without a payment method stays failed
        move_status(bill, ExtraMessagesStatus.FAILED)
    bill.last_error = reason[:255]
    totals.failed += 1
    totals.failures.append({"bill": bill.pk, "month": f"{bill.month:%Y-%m}", "reason": reason})
    last = bill.attempts >= MAX_ATTEMPTS
    transaction.on_commit(
        lambda: notify_admins(
            account=bill.account, notice="extra_messages_failed", bill=bill, reason=reason, last=last
        ),
        robust=True,
    )


def _save(bill: ExtraMessagesBill, before: dict, *, action: str) -> None:
    bill.save(update_fields=[*BILL_FIELDS, "updated_at"])
    audit_records_save(
        [
            audit_entry(
                actor=None,
                action=action,
                obj=bill,
                account=bill.account,
                before=before,
                after=snapshot(bill, *BILL_FIELDS),
            )
        ]
    )
