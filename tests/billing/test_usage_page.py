"""訊息用量: this month against the quota, the extra messages and their cost by tier, the cap, a forecast, billed
against free by kind, and six months, for members only, in a fixed number of queries."""

import re
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.audit import move_status
from accounts.periods import BILLING_TZ
from billing.models import ExtraMessagesStatus
from tests.factories import ExtraMessagesBillFactory
from tests.helpers import new_admin
from usage.models import DailyUsage, MessageKind, MonthlyUsage, UsageSource

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
TODAY = datetime(2026, 11, 15, 12, tzinfo=BILLING_TZ)  # the 15th of a 30-day month


def usage_url(account, side="billing"):
    return reverse(f"{side}:usage", args=[account.pk])


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def days_of(account, first: date, count: int, per_day: dict[str, int]):
    kinds = {kind.code: kind for kind in MessageKind.objects.all()}
    DailyUsage.objects.bulk_create(
        DailyUsage(account=account, day=first + timedelta(days=i), kind=kinds[code], count=n, source=UsageSource.API)
        for i in range(count)
        for code, n in per_day.items()
    )


@time_machine.travel(TODAY, tick=False)
def test_a_high_account_over_its_quota_sees_its_extra_messages_their_cost_and_its_cap(client):
    # given a High account with 9,000 billed messages this month (LINE's total), a cap of 10,000, and its days by kind
    membership = new_admin(high=True)
    account = membership.account
    account.subscription.extra_message_cap = 10_000
    account.subscription.save()
    MonthlyUsage.objects.create(account=account, month=date(2026, 11, 1), billed_messages=9_000, source="api")
    days_of(account, date(2026, 11, 1), 15, {"apiPush": 600, "apiReply": 200})
    client.force_login(membership.user)
    # when
    response = client.get(usage_url(account))
    page = text(response)
    # then the month against the quota, with thousands separators
    assert response.status_code == 200
    assert "9,000 billed messages of 6,000 free" in page
    assert "0 free messages left" in page
    # the 3,000 extra messages from the 6,001st at NT$0.2: NT$600 before tax, and the cap 30% used
    assert "3,000 extra messages, NT$600 before tax" in page
    assert "Extra-message cap: 10,000 a month (30% used)" in page
    # at this pace (9,000 in 15 of 30 days): 18,000 billed; LINE stops at the cap, so 10,000 extra: NT$2,000
    assert "about 18,000 billed messages this month, NT$2,000 for extra messages" in page
    # billed against free by kind, and replies counted free
    assert "Free messages (replies, auto-responses, greetings, chats) this month: 3,000" in page
    assert "Figures Messaging API, updated" in page


@time_machine.travel(TODAY, tick=False)
def test_the_charts_are_inline_svg_with_the_pages_nonce_and_no_script(client):
    membership = new_admin(medium=True)
    days_of(membership.account, date(2026, 11, 1), 10, {"broadcast": 100, "apiReply": 50})
    client.force_login(membership.user)
    response = client.get(usage_url(membership.account))
    body = response.content.decode()
    nonce = response.wsgi_request.csp_nonce
    svgs = re.findall(r"<svg .*?</svg>", body, flags=re.S)
    assert len(svgs) == 3
    assert all(f'<style nonce="{nonce}"' in svg and "<script" not in svg for svg in svgs)
    assert ' style="' not in "".join(svgs)  # an inline style attribute would be refused by the CSP


@time_machine.travel(TODAY, tick=False)
def test_a_light_account_over_its_quota_is_told_sending_stopped(client):
    membership = new_admin()
    MonthlyUsage.objects.create(account=membership.account, month=date(2026, 11, 1), billed_messages=200)
    client.force_login(membership.user)
    page = text(client.get(usage_url(membership.account)))
    assert "Sending stopped at 200 messages" in page
    assert "Extra messages so far" not in page


@time_machine.travel(TODAY, tick=False)
def test_operators_see_it_on_both_sides_and_strangers_get_a_404(client):
    operator = new_admin(role="operator")
    client.force_login(operator.user)
    assert client.get(usage_url(operator.account)).status_code == 200
    webstore = client.get(usage_url(operator.account, side="webstore"))
    assert webstore.status_code == 200
    assert reverse("webstore:usage", args=[operator.account.pk]) in webstore.content.decode()  # the ☰ menu
    assert client.get(usage_url(new_admin().account)).status_code == 404


@time_machine.travel(TODAY, tick=False)
def test_the_page_takes_the_same_queries_for_one_day_of_data_as_for_180(client):
    def queries_with(days):
        membership = new_admin(high=True)
        days_of(membership.account, date(2026, 11, 15) - timedelta(days=days - 1), days, {"apiPush": 300, "chat": 9})
        client.force_login(membership.user)
        client.get(usage_url(membership.account))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(usage_url(membership.account))
        assert response.status_code == 200
        return len(queries)

    assert queries_with(1) == queries_with(180)


@time_machine.travel(TODAY, tick=False)
def test_six_months_of_history_with_the_extra_messages_of_each(client):
    membership = new_admin(high=True)
    for month, billed in [(date(2026, 6, 1), 5_000), (date(2026, 9, 1), 7_000)]:
        MonthlyUsage.objects.create(account=membership.account, month=month, billed_messages=billed)
    client.force_login(membership.user)
    page = text(client.get(usage_url(membership.account)))
    assert "2026-06 High 5,000 6,000 0" in page
    assert "2026-09 High 7,000 6,000 1,000 NT$200" in page
    assert "2026-05" not in page


@time_machine.travel(TODAY, tick=False)
def test_each_month_says_how_its_extra_messages_were_billed_and_shows_what_the_bill_priced(client):
    # given October's extra messages waiting for LINE's final figure, and September's billed with the renewal
    # under a cap of 500 (the figure alone would price 1,000)
    membership = new_admin(high=True)
    account = membership.account
    MonthlyUsage.objects.create(account=account, month=date(2026, 9, 1), billed_messages=7_000, final=True)
    MonthlyUsage.objects.create(account=account, month=date(2026, 10, 1), billed_messages=8_000)
    ExtraMessagesBillFactory(account=account, month=date(2026, 10, 1))
    september = ExtraMessagesBillFactory(
        account=account, month=date(2026, 9, 1), cap=500, billed_messages=7_000, extra_messages=500, amount_twd=100
    )
    move_status(september, ExtraMessagesStatus.WITH_RENEWAL)
    september.save()
    client.force_login(membership.user)
    page = text(client.get(usage_url(account)))
    assert "2026-09 High 7,000 6,000 500 NT$100 Billed with the renewal" in page
    assert "2026-10 High 8,000 6,000 2,000 NT$400 Waiting for the month&#x27;s final figure" in page
    assert "2026-11 High 0 6,000 0 NT$0 —" in page


@time_machine.travel(TODAY, tick=False)
def test_the_months_table_prices_this_month_and_a_waiting_month_under_their_caps(client):
    # given a cap of 1,000 now, October's bill waiting with the cap of 500 it had as October ended
    membership = new_admin(high=True)
    account = membership.account
    account.subscription.extra_message_cap = 1_000
    account.subscription.save()
    MonthlyUsage.objects.create(account=account, month=date(2026, 10, 1), billed_messages=16_000)
    MonthlyUsage.objects.create(account=account, month=date(2026, 11, 1), billed_messages=16_000)
    ExtraMessagesBillFactory(account=account, month=date(2026, 10, 1), cap=500)
    client.force_login(membership.user)
    page = text(client.get(usage_url(account)))
    assert "2026-10 High 16,000 6,000 500 NT$100" in page
    assert "2026-11 High 16,000 6,000 1,000 NT$200" in page
