"""E-mails to an account's admins as the month's messages grow (SPEC §2, §7): at 80% and 100% of the free messages,
and at 80% and 100% of the extra-message cap, once a month each. A plan that sends no extra messages stops at its
quota: its admins are told so, and which plan would carry the month at its pace."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.notices import notify_admins
from accounts.periods import local_date, month_start
from billing.estimator import estimate, forecast, messages_for_volume
from billing.models import Subscription, UsageNotice, UsageThreshold
from billing.pricing import PlanTerms
from billing.selectors import plan_terms, plans_with_terms, pricing_rules
from usage.selectors import billed_this_month_by_account

logger = logging.getLogger(__name__)


def thresholds_crossed(*, billed: int, terms: PlanTerms, cap: int | None) -> list[str]:
    """The thresholds `billed` messages have reached on `terms` this month, lowest first."""
    quota = terms.free_message_quota
    crossed = []
    if billed * 100 >= quota * 80:
        crossed.append(UsageThreshold.QUOTA_80)
    if billed >= quota:
        crossed.append(UsageThreshold.QUOTA_100)
    if terms.extra_messages_allowed and cap:
        extra = max(billed - quota, 0)
        if extra * 100 >= cap * 80:
            crossed.append(UsageThreshold.CAP_80)
        if extra >= cap:
            crossed.append(UsageThreshold.CAP_100)
    return crossed


@dataclass
class NoticeTotals:
    accounts: int = 0
    sent: int = 0


def usage_notices_send(*, as_of: datetime, dry_run: bool = False) -> NoticeTotals:
    """Tell the admins of every account whose month crossed a threshold not told yet. Safe to run again, and on
    several hosts at once: a notice is recorded before its e-mail leaves, and recorded once."""
    today = local_date(as_of)
    month = month_start(today)
    billed_by_account = billed_this_month_by_account(month)
    plans = list(plans_with_terms())
    terms_by_plan = {plan.pk: plan_terms(plan, month) for plan in plans}
    told = set(UsageNotice.objects.filter(month=month).values_list("account", "threshold"))
    totals = NoticeTotals()
    subscriptions = Subscription.objects.filter(account__in=list(billed_by_account)).select_related("account")
    for subscription in subscriptions:
        terms = terms_by_plan[subscription.plan_id]
        billed = billed_by_account[subscription.account_id]
        cap = subscription.extra_message_cap if terms.extra_messages_allowed else None
        new = [
            t
            for t in thresholds_crossed(billed=billed, terms=terms, cap=cap)
            if (subscription.account_id, t) not in told
        ]
        totals.accounts += bool(new)
        if new and not dry_run:
            totals.sent += _tell(
                subscription,
                month,
                new,
                billed=billed,
                terms=terms,
                cap=cap,
                carrying=_carrying_plan(terms, terms_by_plan.values(), forecast(billed, today)),
            )
    return totals


def _carrying_plan(terms: PlanTerms, all_terms, volume: int) -> str | None:
    """For a plan that stops at its quota: the cheapest plan that would carry `volume` messages a month."""
    if terms.extra_messages_allowed:
        return None
    cheapest = estimate(plans=list(all_terms), messages=messages_for_volume(volume), rules=pricing_rules()).cheapest
    return cheapest.plan if cheapest is not None and cheapest.plan != terms.code else None


def _tell(subscription, month, thresholds, *, billed, terms, cap, carrying) -> int:
    """Record the highest new threshold with the lower ones (one e-mail says it all), then send it on commit."""
    account = subscription.account
    try:
        with transaction.atomic():
            UsageNotice.objects.bulk_create(
                UsageNotice(account=account, month=month, threshold=t, billed_messages=billed) for t in thresholds
            )
            transaction.on_commit(
                lambda: notify_admins(
                    account=account,
                    notice="usage_threshold",
                    threshold=thresholds[-1],
                    billed=billed,
                    quota=terms.free_message_quota,
                    cap=cap,
                    stops=not terms.extra_messages_allowed,
                    carrying_plan=carrying,
                )
            )
    except IntegrityError:  # another run told them first
        logger.info("usage notice for %s %s already recorded", account.pk, month)
        return 0
    return 1
