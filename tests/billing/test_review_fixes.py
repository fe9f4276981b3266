"""Defects a review found, each kept fixed by a test."""

from datetime import date, datetime

import pytest
from django.core.management import call_command

from accounts.errors import ServiceError
from accounts.periods import BILLING_TZ
from billing.checkout import checkout_purchase, checkout_set_code, checkout_start
from billing.models import Renewal, RenewalStatus
from billing.renewals import Totals, renew_subscription, renewal_retry
from billing.services import subscription_schedule_downgrade
from payments.models import Charge, ChargeStatus
from promos.services import CodeNotUsable
from tests.factories import SubscriptionFactory, plan
from tests.helpers import add_card, ready_admin, start_checkout

pytestmark = pytest.mark.django_db
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)


def test_a_retry_after_a_downgrade_was_scheduled_charges_and_applies_the_same_plan():
    sub = SubscriptionFactory(plan=plan("high"), period_start=date(2026, 6, 1))
    add_card(sub.account, number="4000000000000002")
    renew_subscription(subscription_id=sub.pk, as_of=JULY_1, run=None, totals=Totals())
    subscription_schedule_downgrade(subscription=sub, plan=plan("medium"), actor=None)
    from payments.services import payment_method_make_main

    payment_method_make_main(method=add_card(sub.account), actor=None)
    renewal_retry(renewal_id=Renewal.objects.get().pk, as_of=datetime(2026, 7, 3, tzinfo=BILLING_TZ), totals=Totals())
    sub.refresh_from_db()
    paid = Charge.objects.get(status=ChargeStatus.SUCCEEDED)
    assert (sub.plan.code, paid.plan_code, paid.total_twd) == ("medium", "medium", 840)


def test_no_upgrade_before_the_months_renewal_has_run(ready_last_month):
    with pytest.raises(ServiceError) as error:
        checkout_start(
            account=ready_last_month.account, plan=plan("high"), user=ready_last_month.user, channel="desktop"
        )
    assert error.value.code == "renewal_pending"


@pytest.fixture
def ready_last_month():
    return ready_admin(medium=True, period_start=date(2020, 1, 1))


def test_an_empty_code_is_refused_not_a_500():
    membership = ready_admin()
    checkout = start_checkout(membership)
    for typed in ("", " - ", "   "):
        with pytest.raises(CodeNotUsable):
            checkout_set_code(checkout=checkout, text=typed)


def test_a_stale_checkout_page_returns_to_the_plans_with_a_message(client):
    membership = ready_admin()
    medium = start_checkout(membership, "medium")
    checkout_purchase(checkout=start_checkout(membership, "high"), expected_total_twd=1260, actor=None)
    client.force_login(membership.user)
    response = client.get(f"/checkout/{medium.token}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{membership.account.pk}/plans/"


def test_one_failing_renewal_does_not_stop_the_run(monkeypatch, settings):
    # a gateway that takes one order per request (the sandbox with a delay), one order at a time
    settings.SANDBOX_CHARGE_DELAY_MS, settings.PAYMENTS_MAX_IN_FLIGHT = 1, 1
    broken, fine = (SubscriptionFactory(plan=plan("medium"), period_start=date(2026, 6, 1)) for _ in range(2))
    add_card(broken.account)
    add_card(fine.account)
    from payments.gateways import sandbox

    real_charge = sandbox.SandboxGateway.charge

    def charge(self, *, method, **kwargs):
        if method.account_id == broken.account_id:
            raise RuntimeError("gateway adapter bug")
        return real_charge(self, method=method, **kwargs)

    monkeypatch.setattr(sandbox.SandboxGateway, "charge", charge)
    call_command("renew_subscriptions", "--as-of", JULY_1.isoformat())
    fine.refresh_from_db()
    assert fine.period_start == date(2026, 7, 1)
    assert Renewal.objects.get(subscription=broken).status == RenewalStatus.CHARGING
    assert Charge.objects.filter(account=fine.account, status=ChargeStatus.SUCCEEDED).count() == 1
