"""推廣方案's 下次扣款: the next charge, priced by the renewal's own Pricer, equals what the renewal run then charges
in every case the renewal tests cover (fee, code, forfeit, expired window, downgrade, extra messages, cap, no
method, Light), and the page says it in the seed's terms."""

import re
from datetime import date, datetime

import pytest
import time_machine
from django.urls import reverse

from accounts.periods import BILLING_TZ
from billing.renewals import Totals, next_charge, renew_subscription
from payments.models import Charge
from promos.services import promo_code_register
from tests.factories import CampaignFactory, PromoCodeFactory, SubscriptionFactory, plan
from tests.helpers import add_card, new_admin
from usage.models import MonthlyUsage

pytestmark = pytest.mark.django_db
JUNE = date(2026, 6, 1)
JUNE_20 = datetime(2026, 6, 20, 10, tzinfo=BILLING_TZ)
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)


def with_code(sub, face=None, until=None):
    if until:  # registered while its window still reached the renewal, since shortened by staff
        PromoCodeFactory(campaign=CampaignFactory(valid_until=until), registered=True, registered_account=sub.account)
        return
    code = PromoCodeFactory(**({"campaign__face_value_twd": face} if face else {}))
    promo_code_register(account=sub.account, text=code.code, actor=None, at=datetime(2026, 6, 10, tzinfo=BILLING_TZ))


def june(messages):
    return lambda sub: MonthlyUsage.objects.create(account=sub.account, month=JUNE, billed_messages=messages)


CASES = {
    "medium": ("medium", {}, None),
    "medium, a NT$500 code": ("medium", {}, lambda sub: with_code(sub, face=500)),
    "medium, a NT$1,200 code forfeits 400": ("medium", {}, lambda sub: with_code(sub)),
    "high, a code and 16,000 messages": ("high", {}, lambda sub: (with_code(sub), june(16_000)(sub))),
    "high capped at 1,000": ("high", {"extra_message_cap": 1000}, june(16_000)),
    "high, three tiers' edge": ("high", {}, june(6_007)),
    "high to medium": ("high", {"scheduled_plan": "medium"}, june(16_000)),
    "a code whose window closes first": (
        "medium",
        {},
        lambda sub: with_code(sub, until=datetime(2026, 6, 30, 23, 59, 59, tzinfo=BILLING_TZ)),
    ),
    "light with a code": ("light", {}, lambda sub: with_code(sub)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_next_charge_is_what_the_renewal_charges(case):
    code, extra, arrange = CASES[case]
    if "scheduled_plan" in extra:
        extra = {**extra, "scheduled_plan": plan(extra["scheduled_plan"])}
    sub = SubscriptionFactory(plan=plan(code), period_start=JUNE, **extra)
    add_card(sub.account)
    if arrange:
        arrange(sub)
    # on June 20th, before LINE has closed June
    with time_machine.travel(JUNE_20, tick=False):
        preview = next_charge(sub)
    # the sync marks June final after 22:59 on the 30th, and the renewal runs
    MonthlyUsage.objects.filter(account=sub.account).update(final=True)
    renew_subscription(subscription_id=sub.pk, as_of=JULY_1, run=None, totals=Totals())
    charge = Charge.objects.filter(account=sub.account).first()
    assert preview.on == date(2026, 7, 1)
    if charge is None:
        assert preview.quote.total_twd == 0 and not preview.quote.code_applied
        return
    assert (charge.plan_code, charge.fee_twd, charge.deduction_twd, charge.forfeited_twd) == (
        preview.plan.code,
        preview.quote.fee_twd,
        preview.quote.deduction_twd,
        preview.quote.forfeited_twd,
    )
    assert (charge.extra_messages_twd, charge.tax_twd, charge.total_twd) == (
        preview.quote.extra_messages_twd,
        preview.quote.tax_twd,
        preview.quote.total_twd,
    )
    assert charge.payment_method == preview.method


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@time_machine.travel(JUNE_20, tick=False)
def test_the_plans_page_says_the_next_charge_in_the_seeds_terms(client):
    membership = new_admin(medium=True)
    account = membership.account
    account.subscription.period_start = JUNE
    account.subscription.save()
    add_card(account)
    with_code(account.subscription)
    client.force_login(membership.user)
    page = text(client.get(reverse("billing:plans", args=[account.pk])))
    assert "下次扣款 2026-07-01： 中用量 NT$800 − 優惠活動代碼 NT$800 = NT$0（含稅）" in page
    assert "優惠活動代碼剩餘的 NT$400 將作廢" in page


@time_machine.travel(JUNE_20, tick=False)
def test_extra_messages_so_far_are_said_to_be_todays_and_a_missing_method_is_named(client):
    membership = new_admin(high=True)
    account = membership.account
    account.subscription.period_start = JUNE
    account.subscription.save()
    june(9_000)(account.subscription)
    client.force_login(membership.user)
    page = text(client.get(reverse("billing:plans", args=[account.pk])))
    assert "高用量 NT$1,200 + 3,000 則加購訊息 NT$600 = NT$1,890（含稅）" in page
    assert "加購訊息以今日用量估算" in page
    assert "尚未設定主要付款方式" in page
