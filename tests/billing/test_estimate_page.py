"""費用試算: the cheapest plan for a month given as a number or a feature mix, its button into the usual checkout,
and bad input refused on the form."""

import re
from datetime import date, datetime

import pytest
import time_machine
from django.urls import reverse

from accounts.periods import BILLING_TZ
from billing.models import Checkout
from tests.helpers import new_admin
from usage.models import MonthlyUsage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
TODAY = datetime(2026, 11, 15, 12, tzinfo=BILLING_TZ)


def estimate_url(account, side="billing"):
    return reverse(f"{side}:usage_estimate", args=[account.pk])


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@time_machine.travel(TODAY, tick=False)
def test_it_starts_from_last_month_and_recommends_the_cheapest_plan_that_carries_it(client):
    # given a Light account that sent 5,000 billed messages last month
    membership = new_admin()
    MonthlyUsage.objects.create(account=membership.account, month=date(2026, 10, 1), billed_messages=5_000)
    client.force_login(membership.user)
    # when
    response = client.get(estimate_url(membership.account))
    page = text(response)
    # then Light stops sending at 200, Medium stops at 3,000, High carries it: NT$1,800 + 5% = NT$1,890
    assert 'value="5000"' in response.content.decode()
    assert "5,000 billed and 0 free messages a month" in page
    assert "sending stops at 200" in page and "sending stops at 3,000" in page
    assert "High carries this month for least" in page
    assert 'data-testid="estimate-upgrade"' in response.content.decode()


@time_machine.travel(TODAY, tick=False)
def test_a_feature_mix_counts_timely_replies_free_and_its_button_starts_the_usual_checkout(client):
    # given a Light admin whose month is 100 conversations of 10 messages, 80% answered in the reply token's time,
    # and 2 segmented messages to 1,000 people
    membership = new_admin()
    client.force_login(membership.user)
    mix = {
        "scripted_conversations": 100,
        "messages_per_conversation": 10,
        "reply_token_percent": 80,
        "segmented_messages": 2,
        "recipients_per_segmented_message": 1000,
    }
    # when
    page = text(client.get(estimate_url(membership.account), mix))
    # then 800 replies are free; 200 late replies and 2,000 pushes are billed: Medium (3,000) carries 2,200
    assert "2,200 billed and 800 free messages a month" in page
    assert "Medium carries this month for least" in page
    response = client.post(reverse("billing:upgrade_start", args=[membership.account.pk, "medium"]))
    assert response["Location"] == reverse("billing:checkout", args=[Checkout.objects.get().token])


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize(
    "query",
    [
        {"billed_messages": "-1"},
        {"billed_messages": "abc"},
        {"billed_messages": str(10**20)},
        {"reply_token_percent": "101", "agent_replies": "5"},
        {"billed_messages": "1.5"},
    ],
)
def test_bad_figures_are_refused_on_the_form_never_a_500(client, query):
    membership = new_admin()
    client.force_login(membership.user)
    response = client.get(estimate_url(membership.account), query)
    assert response.status_code == 200
    assert 'data-testid="estimate-result"' not in response.content.decode()
    assert "invalid-feedback" in response.content.decode() or "alert-danger" in response.content.decode()


@time_machine.travel(TODAY, tick=False)
def test_operators_see_the_estimate_without_the_button_and_strangers_get_a_404(client):
    operator = new_admin(role="operator")
    client.force_login(operator.user)
    response = client.get(estimate_url(operator.account), {"billed_messages": 5000})
    assert response.status_code == 200
    assert 'data-testid="estimate-upgrade"' not in response.content.decode()
    assert client.get(estimate_url(operator.account, side="webstore")).status_code == 200
    assert client.get(estimate_url(new_admin().account)).status_code == 404
