"""Pricing a batch of renewals: what pricing needs, read in one query per table, and the quotes."""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from accounts.periods import BILLING_TZ, next_month_start
from billing.models import ExtraMessagesBill, ExtraMessagesStatus
from billing.pricing import price_renewal
from billing.renewals.runs import plans_by_pk
from billing.selectors import plan_terms, pricing_rules
from payments.models import PaymentMethod
from promos.eligibility import window_closed
from promos.models import CodeStatus, PromoCode
from promos.selectors import buyer_with, code_terms
from promos.services import promo_code_expire_registered
from usage.models import MonthlyUsage

logger = logging.getLogger(__name__)


# ---- pricing a batch ----------------------------------------------------------------------------


@dataclass
class PricingInputs:
    """What pricing reads about a batch's accounts, one query per table."""

    methods: dict  # account id → its usable main payment method
    codes: dict  # account id → the code registered to it (with its campaign)
    usage: dict  # (account id, month) → its MonthlyUsage (billed messages, final or not)
    bills: dict  # (account id, month) → its ExtraMessagesBill, made by an earlier attempt of the renewal


def pricing_inputs(subscriptions: list, *, lock_codes: bool) -> PricingInputs:
    """Read for these subscriptions; `lock_codes` (inside a transaction) locks the registered codes."""
    accounts = [subscription.account_id for subscription in subscriptions]
    methods = PaymentMethod.objects.usable().filter(account_id__in=accounts, is_main=True)
    codes = PromoCode.objects.select_related("campaign").filter(registered_account_id__in=accounts)
    if lock_codes:
        codes = codes.select_for_update(of=("self",)).order_by("pk")
    months = {subscription.period_start for subscription in subscriptions}
    usage = MonthlyUsage.objects.filter(account_id__in=accounts, month__in=months)
    bills = ExtraMessagesBill.objects.filter(account_id__in=accounts, month__in=months)
    return PricingInputs(
        methods={method.account_id: method for method in methods},
        codes={code.registered_account_id: code for code in codes},
        usage={(row.account_id, row.month): row for row in usage},
        bills={(bill.account_id, bill.month): bill for bill in bills},
    )


def month_ended(subscription) -> tuple[int, date]:
    """The key of the month a renewal closes, in PricingInputs' usage and bills."""
    return subscription.account_id, subscription.period_start


def extras_with_renewal(bill, figure, cap: int | None) -> tuple[int, int | None]:
    """(billed messages, cap) of the month just ended that its renewal bills: the final figure, with the cap in
    force now, on the first attempt; what the bill recorded on a retry of an attempt that carried them; and
    none when the figure is not final yet, or the bill waits to be charged on its own (`bill_extra_messages`)."""
    if bill is not None:
        if bill.status == ExtraMessagesStatus.WITH_RENEWAL:
            return bill.billed_messages, bill.cap
        return 0, None
    if figure is not None and figure.final:
        return figure.billed_messages, cap
    return 0, None


def drop_expired_codes(subscriptions: list, inputs: PricingInputs, *, as_of: datetime) -> None:
    """A registered code whose window has closed is not used (`expire_closed_codes` expires it)."""
    for subscription in subscriptions:
        code = inputs.codes.get(subscription.account_id)
        if code is not None and code.status == CodeStatus.REGISTERED and window_closed(code.campaign, as_of):
            del inputs.codes[subscription.account_id]


def expire_closed_codes(subscription_ids: list[int], *, as_of: datetime) -> None:
    """Expire the codes registered for these renewals whose window has closed, as the expiry command would
    (promos: audited, the admins told). Each in its own transaction before the claim: expiring locks account
    then code, and the claim holds code locks, so expiring inside it could deadlock with an admin."""
    closed = PromoCode.objects.window_closed(as_of).filter(
        status=CodeStatus.REGISTERED, registered_account__subscription__in=subscription_ids
    )
    for code_id in closed.values_list("pk", flat=True):
        promo_code_expire_registered(code_id=code_id, as_of=as_of)


class Pricer:
    """Prices renewals with the checkout's pricing module; plan terms are built once per plan and month."""

    def __init__(self, plans: dict, *, as_of: datetime):
        self.plans, self.as_of, self.rules, self.terms = plans, as_of, pricing_rules(), {}

    def plan_terms(self, plan_id: int, month: date):
        if (plan_id, month) not in self.terms:
            self.terms[plan_id, month] = plan_terms(self.plans[plan_id], month)
        return self.terms[plan_id, month]

    def quote(self, subscription, inputs: PricingInputs):
        """(new plan, quote, the registered code it may use) for the subscription's next period."""
        account_id = subscription.account_id
        new_period = next_month_start(subscription.period_start)
        new_plan = self.plans[subscription.scheduled_plan_id or subscription.plan_id]
        code = inputs.codes.get(account_id)
        code = code if code is not None and code.status == CodeStatus.REGISTERED else None
        billed, cap = extras_with_renewal(
            inputs.bills.get(month_ended(subscription)),
            inputs.usage.get(month_ended(subscription)),
            subscription.extra_message_cap,
        )
        quote = price_renewal(
            plan=self.plan_terms(new_plan.pk, new_period),
            month=new_period,
            at=self.as_of,
            buyer=buyer_with(subscription.account, inputs.methods.get(account_id)),
            rules=self.rules,
            previous_plan=self.plan_terms(subscription.plan_id, subscription.period_start),
            previous_billed_messages=billed,
            previous_extra_message_cap=cap,
            code=code_terms(code) if code else None,
        )
        return new_plan, quote, code


def renewal_quotes(subscriptions: list, *, as_of: datetime, plans: dict | None = None):
    """(subscription, new plan, quote) for each, changing nothing: what a dry run prints."""
    inputs = pricing_inputs(subscriptions, lock_codes=False)
    drop_expired_codes(subscriptions, inputs, as_of=as_of)
    pricer = Pricer(plans or plans_by_pk(), as_of=as_of)
    return [(subscription, *pricer.quote(subscription, inputs)[:2]) for subscription in subscriptions]


@dataclass(frozen=True)
class NextCharge:
    """What the next renewal will charge, as the renewal run will price it (推廣方案's 下次扣款)."""

    on: date  # the first day of the next period
    plan: object  # the plan it renews into (a scheduled downgrade's)
    quote: object  # billing.pricing.Quote
    method: PaymentMethod | None
    code: PromoCode | None
    extras_so_far: bool  # this month's extra messages are counted as they stand: LINE has not closed the month
    billed_messages: int  # this month's billed messages, as recorded now


def next_charge(subscription, *, plans: dict | None = None) -> NextCharge:
    """The subscription's next renewal, priced by the renewal's own Pricer from today's data: its plan (with a
    scheduled downgrade), its registered code (if its window is still open then), the main method, and this
    month's extra messages as they stand, counted as the renewal will count them once LINE's figure is final."""
    on = next_month_start(subscription.period_start)
    as_of = datetime(on.year, on.month, on.day, tzinfo=BILLING_TZ)
    inputs = pricing_inputs([subscription], lock_codes=False)
    drop_expired_codes([subscription], inputs, as_of=as_of)
    figure = inputs.usage.get(month_ended(subscription))
    extras_so_far = figure is not None and not figure.final
    if extras_so_far:
        figure.final = True  # in memory only: the month as it stands, as if LINE had closed it
    new_plan, quote, code = Pricer(plans or plans_by_pk(), as_of=as_of).quote(subscription, inputs)
    return NextCharge(
        on=on,
        plan=new_plan,
        quote=quote,
        method=inputs.methods.get(subscription.account_id),
        code=code if quote.code_applied else None,
        extras_so_far=extras_so_far and quote.extra_messages > 0,
        billed_messages=figure.billed_messages if figure else 0,
    )
