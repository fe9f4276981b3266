"""Reminders before a renewal (SPEC §2–3, §5), by e-mail in each admin's language, each once:

- 7 days before: what the registered code will do at the renewal (what it takes off and what of it is
  forfeited), or that its window closes before the renewal and it will expire unused;
- 7 days before: a main card that expires before the renewal;
- 3 days before: a LINE Pay main method whose regKey LINE Pay no longer accepts (`linepay_check`), to
  register LINE Pay again.

A reminder is recorded before its e-mail leaves, once per account, kind, renewal and subject (the database's
constraint), so the command is safe to rerun and to run on several hosts at once.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import IntegrityError, transaction

from accounts.notices import notify_admins
from accounts.periods import BILLING_TZ, local_date, month_start, next_month_start
from billing.models import BillingReminder, ReminderKind, Subscription, SubscriptionStatus
from billing.renewals import next_charge, plans_by_pk
from payments.gateways import GatewayError, NoAnswer, gateway
from payments.models import MethodKind, PaymentMethod
from promos.eligibility import CodeRefusal, window_closed
from promos.models import CodeStatus, PromoCode

logger = logging.getLogger(__name__)

REMIND_DAYS_BEFORE = 7
LINEPAY_CHECK_DAYS_BEFORE = 3


@dataclass
class ReminderTotals:
    sent: int = 0
    due: list = field(default_factory=list)  # (basic ID, kind) of each reminder due, sent or (dry run) not
    check_failed: int = 0  # LINE Pay checks that got no answer: tried again on the next run


def reminders_send(*, as_of: datetime, dry_run: bool = False) -> ReminderTotals:
    """Send the reminders due on `as_of`'s day (Asia/Taipei) that were not sent yet."""
    today = local_date(as_of)
    renewal_on = next_month_start(today)
    days_left = (renewal_on - today).days
    totals = ReminderTotals()
    if days_left > REMIND_DAYS_BEFORE:
        return totals
    subscriptions = list(
        Subscription.objects.filter(period_start=month_start(today), status=SubscriptionStatus.ACTIVE).select_related(
            "account", "plan", "scheduled_plan"
        )
    )
    sent = set(BillingReminder.objects.filter(renewal_on=renewal_on).values_list("account_id", "kind", "subject"))
    for account, kind, subject, context in _due(subscriptions, renewal_on, days_left, sent, totals):
        if (account.pk, kind, subject) in sent:
            continue
        totals.due.append((account.basic_id, kind))
        if not dry_run:
            totals.sent += _remind(account, kind, renewal_on, subject, context)
    return totals


def _due(subscriptions: list, renewal_on: date, days_left: int, sent: set, totals: ReminderTotals):
    """(account, kind, subject, e-mail context) of each reminder due now (LINE Pay is asked only when the
    reminder has not been sent already)."""
    accounts = [subscription.account_id for subscription in subscriptions]
    mains = {
        method.account_id: method
        for method in PaymentMethod.objects.usable().filter(account_id__in=accounts, is_main=True)
    }
    with_code = set(
        PromoCode.objects.filter(registered_account_id__in=accounts, status=CodeStatus.REGISTERED).values_list(
            "registered_account_id", flat=True
        )
    )
    plans = plans_by_pk() if with_code else {}
    for subscription in subscriptions:
        account = subscription.account
        if subscription.account_id in with_code:
            reminder = _code_reminder(subscription, renewal_on, plans)
            if reminder is not None:
                yield account, ReminderKind.CODE, *reminder
        method = mains.get(subscription.account_id)
        if method is not None and _expires_before(method, renewal_on):
            yield account, ReminderKind.CARD_EXPIRING, f"method:{method.pk}", {"method": method}
        subject = f"method:{method.pk}" if method else ""
        ask_linepay = (
            method is not None
            and method.kind == MethodKind.LINEPAY
            and days_left <= LINEPAY_CHECK_DAYS_BEFORE
            and (account.pk, ReminderKind.LINEPAY_INVALID, subject) not in sent
        )
        if ask_linepay and not _linepay_accepted(method, totals):
            yield account, ReminderKind.LINEPAY_INVALID, subject, {"method": method}


def _code_reminder(subscription, renewal_on: date, plans: dict):
    """(subject, context) when the registered code is used at the renewal, expires before it, or will not be used
    for a reason the admin can act on (the main method, the region); else None."""
    preview = next_charge(subscription, plans=plans)
    if preview.code is not None:
        return f"code:{preview.code.pk}", {"preview": preview, "code": preview.code, "expires": False}
    code = PromoCode.objects.select_related("campaign").get(registered_account=subscription.account)
    renewal_at = datetime(renewal_on.year, renewal_on.month, renewal_on.day, tzinfo=BILLING_TZ)
    if window_closed(code.campaign, renewal_at):
        return f"code:{code.pk}", {"preview": preview, "code": code, "expires": True}
    refusal = preview.quote.code_refusal
    if refusal is not None and refusal != CodeRefusal.NOTHING_TO_DEDUCT:
        return f"code:{code.pk}", {"preview": preview, "code": code, "expires": False, "refusal": refusal.label}
    return None  # it waits (a renewal with no fee to take it off): nothing to say yet


def _expires_before(method: PaymentMethod, renewal_on: date) -> bool:
    """A card is good to the end of its expiry month."""
    if method.kind != MethodKind.CARD or not method.expiry_year or not method.expiry_month:
        return False
    return (method.expiry_year, method.expiry_month) < (renewal_on.year, renewal_on.month)


def _linepay_accepted(method: PaymentMethod, totals: ReminderTotals) -> bool:
    """LINE Pay's own check of the regKey; no answer counts as accepted (checked again on the next run)."""
    try:
        return gateway().linepay_check(reg_key=method.gateway_token)
    except (GatewayError, NoAnswer):
        logger.warning("LINE Pay regKey check of method %s got no usable answer", method.pk)
        totals.check_failed += 1
        return True


def _remind(account, kind: str, renewal_on: date, subject: str, context: dict) -> int:
    try:
        with transaction.atomic():
            BillingReminder.objects.create(account=account, kind=kind, renewal_on=renewal_on, subject=subject)
            transaction.on_commit(
                lambda: notify_admins(account=account, notice=f"reminder_{kind}", renewal_on=renewal_on, **context)
            )
    except IntegrityError:  # another run sent it first
        logger.info("reminder %s %s for %s already sent", kind, subject, account.pk)
        return 0
    return 1
