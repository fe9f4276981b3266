"""Monthly renewals through the sandbox gateway: exactly once, codes, downgrades, declines, month ends."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from billing.models import PlanChange, PlanChangeKind, Renewal, RenewalStatus, SubscriptionStatus
from billing.renewals import Totals, renew_subscription, renewal_recover, renewals_in_doubt, subscriptions_due
from payments.models import Charge, ChargeStatus
from promos.models import CodeStatus, Redemption
from promos.services import promo_code_register
from tests.factories import CampaignFactory, PromoCodeFactory, SubscriptionFactory, plan
from tests.helpers import add_card
from usage.models import MonthlyUsage

pytestmark = pytest.mark.django_db
JUNE = date(2026, 6, 1)
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)


def subscription(code="medium", card="4242424242424242", period=JUNE, **extra):
    sub = SubscriptionFactory(plan=plan(code), period_start=period, **extra)
    if card:
        add_card(sub.account, number=card)
    return sub


def renew(sub, at=JULY_1) -> Totals:
    totals = Totals()
    renew_subscription(subscription_id=sub.pk, as_of=at, run=None, totals=totals)
    sub.refresh_from_db()
    return totals


def test_a_medium_renewal_charges_840_and_starts_july():
    sub = subscription()
    totals = renew(sub)
    charge = Charge.objects.get()
    assert (charge.purpose, charge.fee_twd, charge.tax_twd, charge.total_twd, charge.status) == (
        "renewal",
        800,
        40,
        840,
        ChargeStatus.SUCCEEDED,
    )
    assert charge.idempotency_key == f"renewal:{sub.pk}:2026-07:1"
    assert (sub.period_start, sub.plan.code, sub.status) == (date(2026, 7, 1), "medium", SubscriptionStatus.ACTIVE)
    assert Renewal.objects.get().status == RenewalStatus.RENEWED
    assert (totals.renewed, totals.charged_twd) == (1, 840)


def test_a_light_renewal_charges_nothing_and_starts_the_new_period():
    sub = subscription("light", card=None)
    renew(sub)
    assert sub.period_start == date(2026, 7, 1)
    assert not Charge.objects.exists()


def test_a_registered_code_pays_a_medium_renewal_and_forfeits_400():
    sub = subscription()
    code = PromoCodeFactory()
    promo_code_register(account=sub.account, text=code.code, actor=None, at=datetime(2026, 6, 10, tzinfo=BILLING_TZ))
    totals = renew(sub)
    charge = Charge.objects.get()
    assert (charge.fee_twd, charge.deduction_twd, charge.forfeited_twd, charge.total_twd) == (800, 800, 400, 0)
    redemption = Redemption.objects.get()
    assert (redemption.applied_twd, redemption.forfeited_twd, redemption.charge) == (800, 400, charge)
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED
    assert (totals.codes_applied, totals.forfeited_twd) == (1, 400)


def test_on_the_light_plan_a_registered_code_waits():
    sub = subscription("light")
    code = PromoCodeFactory()
    promo_code_register(account=sub.account, text=code.code, actor=None, at=datetime(2026, 6, 10, tzinfo=BILLING_TZ))
    renew(sub)
    code.refresh_from_db()
    assert (code.status, code.registered_account) == (CodeStatus.REGISTERED, sub.account)
    assert not Charge.objects.exists()


def test_a_registered_code_whose_window_closed_is_expired_with_an_audit_record():
    # SPEC §3: a code past its window is expired, never available again (as expire_promo_codes leaves it)
    sub = subscription()
    campaign = CampaignFactory(valid_until=datetime(2026, 6, 30, 23, 59, 59, tzinfo=BILLING_TZ))
    code = PromoCodeFactory(campaign=campaign, registered=True, registered_account=sub.account)
    renew(sub)
    code.refresh_from_db()
    assert (code.status, code.registered_account) == (CodeStatus.EXPIRED, None)
    assert AuditRecord.objects.filter(action="promo_code.expire", object_id=str(code.pk)).exists()
    assert Charge.objects.get().total_twd == 840


def test_a_scheduled_downgrade_takes_effect_at_the_renewal():
    sub = subscription("high", scheduled_plan=plan("medium"))
    renew(sub)
    assert (sub.plan.code, sub.scheduled_plan) == ("medium", None)
    assert Charge.objects.get().total_twd == 840
    assert PlanChange.objects.get(kind=PlanChangeKind.DOWNGRADE_APPLIED).to_plan.code == "medium"


def test_last_months_extra_messages_are_billed_on_the_high_plan_and_never_reduced_by_a_code():
    sub = subscription("high")
    MonthlyUsage.objects.create(account=sub.account, month=JUNE, billed_messages=16000, final=True)
    code = PromoCodeFactory()
    promo_code_register(account=sub.account, text=code.code, actor=None, at=datetime(2026, 6, 10, tzinfo=BILLING_TZ))
    renew(sub)
    charge = Charge.objects.get()
    assert (charge.fee_twd, charge.deduction_twd, charge.extra_messages_twd, charge.tax_twd, charge.total_twd) == (
        1200,
        1200,
        2000,
        100,
        2100,
    )


def test_a_declined_renewal_makes_the_account_past_due_with_a_retry_on_the_3rd():
    sub = subscription(card="4000000000000002")
    code = PromoCodeFactory(campaign__face_value_twd=500)
    promo_code_register(account=sub.account, text=code.code, actor=None, at=datetime(2026, 6, 10, tzinfo=BILLING_TZ))
    totals = renew(sub)
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.next_retry_on) == (RenewalStatus.FAILED, date(2026, 7, 3))
    assert (sub.status, sub.period_start) == (SubscriptionStatus.PAST_DUE, JUNE)
    assert Charge.objects.get().status == ChargeStatus.FAILED
    code.refresh_from_db()
    assert (code.status, code.registered_account) == (CodeStatus.REGISTERED, sub.account)
    assert totals.failed == 1
    # and it is not due again for renew_subscriptions: retries are the retry command's
    assert not subscriptions_due(JULY_1).filter(pk=sub.pk).exists()


def test_renewing_twice_charges_once():
    sub = subscription()
    renew(sub)
    again = renew(sub)
    assert Charge.objects.count() == 1
    assert again.skipped == 1


def test_a_lost_gateway_answer_leaves_the_renewal_charging_and_recovery_reads_it_back():
    sub = subscription(card="4000000000000119")
    totals = renew(sub)
    assert totals.pending == 1
    renewal = Renewal.objects.get()
    assert renewal.status == RenewalStatus.CHARGING
    assert sub.period_start == JUNE
    # when the lease has passed, the order is read back: it was charged, so it is settled, not charged again
    in_doubt = list(renewals_in_doubt(older_than=datetime.now(tz=BILLING_TZ) + timedelta(seconds=1)))
    assert in_doubt == [renewal]
    renewal_recover(renewal=renewal, as_of=JULY_1, totals=Totals())
    renewal.refresh_from_db()
    sub.refresh_from_db()
    assert renewal.status == RenewalStatus.RENEWED
    assert sub.period_start == date(2026, 7, 1)
    assert Charge.objects.get().status == ChargeStatus.SUCCEEDED


# ---- month ends in Asia/Taipei -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "as_of", "new_period"),
    [
        (date(2028, 1, 1), datetime(2028, 2, 1, 0, 0, tzinfo=BILLING_TZ), date(2028, 2, 1)),  # Jan 31 → Feb (29 days)
        (date(2027, 2, 1), datetime(2027, 3, 1, 0, 0, tzinfo=BILLING_TZ), date(2027, 3, 1)),  # Feb 28 → Mar 1
        (date(2026, 12, 1), datetime(2027, 1, 1, 0, 0, tzinfo=BILLING_TZ), date(2027, 1, 1)),  # Dec 31 → Jan 1
    ],
)
def test_month_ends_in_taipei(period, as_of, new_period):
    sub = subscription(period=period)
    # an hour before local midnight nothing is due; at midnight it is
    assert not subscriptions_due(as_of - timedelta(hours=1)).filter(pk=sub.pk).exists()
    assert subscriptions_due(as_of).filter(pk=sub.pk).exists()
    renew(sub, at=as_of)
    assert sub.period_start == new_period
    assert Charge.objects.get().period_start == new_period


def test_the_utc_midnight_is_not_the_billing_midnight():
    # 2026-06-30 16:30 UTC is already July 1st, 00:30, in Taipei: due; 15:30 UTC is still June there.
    sub = subscription()
    assert subscriptions_due(datetime(2026, 6, 30, 16, 30, tzinfo=UTC)).filter(pk=sub.pk).exists()
    assert not subscriptions_due(datetime(2026, 6, 30, 15, 30, tzinfo=UTC)).filter(pk=sub.pk).exists()


# ---- the command --------------------------------------------------------------------------------


def test_the_command_dry_run_changes_nothing_and_the_real_run_reports(tmp_path, capsys):
    medium, light = subscription(), subscription("light", card=None)
    call_command("renew_subscriptions", "--as-of", "2026-07-01T00:05:00+08:00", "--dry-run")
    assert "NT$840 would be charged" in capsys.readouterr().out
    assert not Charge.objects.exists()
    report = tmp_path / "run.json"
    call_command("renew_subscriptions", "--as-of", "2026-07-01T00:05:00+08:00", "--report", str(report))
    data = json.loads(report.read_text())
    assert (data["renewed"], data["charged_twd"], data["failed"]) == (2, 840, 0)
    medium.refresh_from_db()
    light.refresh_from_db()
    assert medium.period_start == light.period_start == date(2026, 7, 1)


def test_the_command_exits_non_zero_when_a_renewal_failed():
    subscription(card="4000000000000002")
    with pytest.raises(SystemExit) as exit_:
        call_command("renew_subscriptions", "--as-of", "2026-07-01T00:05:00+08:00")
    assert exit_.value.code == 1


def test_a_bad_as_of_is_a_clear_error():
    with pytest.raises(CommandError):
        call_command("renew_subscriptions", "--as-of", "July")
