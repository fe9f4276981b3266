"""立即付款: a past-due admin pays the failed renewal now, once, with the main method as it is now; the account is
active again and may upgrade. Operators and other accounts cannot."""

import re
from datetime import date, datetime

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from billing.models import Renewal, RenewalStatus, SubscriptionStatus
from payments.models import Charge, ChargeStatus
from tests.factories import MembershipFactory
from tests.races import past_due_admin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def pay_now(client, account):
    return client.post(reverse("billing:pay_now", args=[account.pk]), follow=True)


def test_the_plans_page_says_what_failed_and_pay_now_charges_once_and_clears_past_due(client):
    membership = past_due_admin()
    account = membership.account
    client.force_login(membership.user)
    page = text(client.get(reverse("billing:plans", args=[account.pk])))
    assert "The payment for " in page and "(NT$840, tax included) failed. The card issuer declined" in page
    assert "Pay now" in page
    assert "Next charge" not in page
    # when the admin pays now
    page = text(pay_now(client, account))
    # then the renewal is paid with the new card, once, and the account is active again
    assert "Paid. The account is up to date again." in page
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.attempts, renewal.charge.status) == (RenewalStatus.RENEWED, 2, "succeeded")
    assert renewal.charge.payment_method.last_four == "4242"
    account.subscription.refresh_from_db()
    assert account.subscription.status == SubscriptionStatus.ACTIVE
    assert AuditRecord.objects.filter(action="renewal.pay_now", actor=membership.user).count() == 1
    # and a second click finds nothing due and charges nothing
    page = text(pay_now(client, account))
    assert "Nothing is due" in page
    assert Charge.objects.filter(status=ChargeStatus.SUCCEEDED).count() == 1
    # the upgrade is open again
    assert "Upgrade" in text(client.get(reverse("billing:plans", args=[account.pk])))


@time_machine.travel(datetime(2026, 7, 2, 10, tzinfo=BILLING_TZ), tick=False)
def test_paying_now_with_a_card_that_declines_says_why_and_stays_past_due(client):
    # on July 2nd, the renewal declined on the 1st waiting for the 3rd's retry
    membership = past_due_admin(card="4000000000009995")
    client.force_login(membership.user)
    page = text(pay_now(client, membership.account))
    assert "The payment failed again (" in page
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.next_retry_on) == (RenewalStatus.FAILED, date(2026, 7, 3))
    membership.account.subscription.refresh_from_db()
    assert membership.account.subscription.status == SubscriptionStatus.PAST_DUE
    assert not Charge.objects.filter(status=ChargeStatus.SUCCEEDED).exists()


def test_an_operator_or_another_accounts_admin_cannot_pay(client):
    membership = past_due_admin()
    operator = MembershipFactory(account=membership.account, operator=True)
    other = MembershipFactory()
    for user in (operator.user, other.user):
        client.force_login(user)
        response = client.post(reverse("billing:pay_now", args=[membership.account.pk]))
        assert response.status_code in (403, 404)
    assert Renewal.objects.get().status == RenewalStatus.FAILED
    assert Charge.objects.count() == 1
