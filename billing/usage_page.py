"""訊息用量, the usage page (SPEC §7): this month's messages against the quota, the extra messages and what they cost
so far, the cap, a forecast, billed against free by kind, and the months before. Members see it."""

from dataclasses import dataclass
from datetime import date

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.http import page
from accounts.periods import local_date, month_start, previous_month_start
from accounts.permissions import account_member_required
from billing.charts import bar_chart, inline_svg
from billing.estimator import forecast
from billing.models import ExtraMessagesBill, Renewal
from billing.pricing import PlanTerms, extra_messages_by_tier, extra_messages_fee
from billing.selectors import plan_terms, plans_with_terms
from usage.selectors import billed_by_month, month_figures

HISTORY_MONTHS = 6


@dataclass(frozen=True)
class HistoryRow:
    month: date
    plan: str
    billed: int
    quota: int
    extra: int
    extra_twd: int
    billing: str = ""  # how the month's extra messages were billed, once its renewal has run


def months_back(month: date, count: int) -> list[date]:
    """`count` months ending with `month`, oldest first."""
    months, current = [], month_start(month)
    for _i in range(count):
        months.append(current)
        current = previous_month_start(current)
    return list(reversed(months))


def history(account, subscription, month: date, plans: dict) -> list[HistoryRow]:
    """The last months: billed, the plan's quota then, extra messages and their fee before tax (as billed, where
    the month's bill has priced them with its cap; else as the figure prices them), and how they were billed."""
    months = months_back(month, HISTORY_MONTHS)
    billed = billed_by_month(account, months)
    plan_of = dict(
        Renewal.objects.filter(subscription=subscription, period_start__in=months).values_list("period_start", "plan")
    )
    bills = {bill.month: bill for bill in ExtraMessagesBill.objects.filter(account=account, month__in=months)}
    rows = []
    for start in months:
        # a month without a renewal row is the current plan's; `plans` has every plan with its prices prefetched
        plan = plans.get(plan_of.get(start)) or plans[subscription.plan_id]
        terms = plan_terms(plan, start)
        bill = bills.get(start)
        # the cap as the month's bill kept it; this month's, the cap in force now
        cap = bill.cap if bill else (subscription.extra_message_cap if start == month else None)
        extra, extra_twd = extra_messages_fee(terms, billed[start], cap)
        if bill is not None and bill.billed_messages is not None:
            extra, extra_twd = bill.extra_messages, bill.amount_twd
        rows.append(
            HistoryRow(
                start,
                plan.display_name,
                billed[start],
                terms.free_message_quota,
                extra,
                extra_twd,
                bill.get_status_display() if bill else "",
            )
        )
    return rows


def this_month(terms: PlanTerms, billed: int, cap: int | None, today: date) -> dict:
    quota = terms.free_message_quota
    uses = extra_messages_by_tier(terms, billed, cap)
    extra, extra_twd = extra_messages_fee(terms, billed, cap)
    expected = forecast(billed, today)
    expected_extra, expected_extra_twd = extra_messages_fee(terms, expected, cap)
    return {
        "quota": quota,
        "free_left": max(quota - billed, 0),
        "quota_percent": min(round(100 * billed / quota), 100) if quota else 100,
        "over_quota": billed >= quota,
        "tiers": uses,
        "extra": extra,
        "extra_twd": extra_twd,
        "cap": cap,
        "cap_percent": min(round(100 * extra / cap), 100) if cap else None,
        "forecast": expected,
        "forecast_extra": expected_extra,
        "forecast_extra_twd": expected_extra_twd,
        "stops_at": None if terms.extra_messages_allowed else quota,
    }


@account_member_required
def usage(request, account):
    subscription = account.subscription
    today = local_date(timezone.now())
    month = month_start(today)
    plans = {plan.pk: plan for plan in plans_with_terms()}
    current = plans[subscription.plan_id]
    terms = plan_terms(current, month)
    figures = month_figures(account, month)
    cap = subscription.extra_message_cap if terms.extra_messages_allowed else None
    rows = history(account, subscription, month, plans)
    nonce = request.csp_nonce
    charts = {
        "kinds": inline_svg(
            bar_chart(
                title=_("This month by kind"),
                labels=[kind.name for kind in figures.kinds],
                series=[
                    (_("Billed"), [kind.messages if kind.billed else None for kind in figures.kinds]),
                    (_("Free"), [None if kind.billed else kind.messages for kind in figures.kinds]),
                ],
                stacked=True,
                width=420,
            ),
            nonce=nonce,
        ),
        "daily": inline_svg(
            bar_chart(
                title=_("Billed messages a day"),
                labels=[str(day.day) for day, _count in figures.daily],
                series=[(_("Billed"), [count for _day, count in figures.daily])],
                show_legend=False,
            ),
            nonce=nonce,
        ),
        "months": inline_svg(
            bar_chart(
                title=_("The last six months"),
                labels=[date_format(row.month, "Y-m") for row in rows],
                series=[(_("Billed"), [row.billed for row in rows]), (_("Free quota"), [row.quota for row in rows])],
                width=420,
            ),
            nonce=nonce,
        ),
    }
    return page(
        request,
        account,
        "billing/usage.html",
        subscription=subscription,
        plan=current,
        figures=figures,
        now=this_month(terms, figures.billed, cap, today),
        history=rows,
        charts=charts,
    )
