"""Renewals in batches: one batch renews each subscription as it would alone, in a fixed number of queries."""

from datetime import date, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.periods import BILLING_TZ
from billing.models import PlanChange, PlanChangeKind, Renewal, RenewalStatus, SubscriptionStatus
from billing.renewals import Totals, renew_batch, renewal_recover, renewals_in_doubt, renewals_settle
from invoices.models import Invoice
from payments.gateways import ChargeResult, Outcome, sandbox
from payments.models import Charge, ChargeStatus, SandboxCharge
from promos.models import CodeStatus
from promos.services import promo_code_register
from tests.factories import PromoCodeFactory, SubscriptionFactory, plan
from tests.helpers import add_card
from usage.models import MonthlyUsage

pytestmark = pytest.mark.django_db
JUNE = date(2026, 6, 1)
JULY = date(2026, 7, 1)
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)
DECLINING_CARD = "4000000000000002"


def due(code="medium", *, card="4242424242424242", messages=0, with_code=False, **extra):
    sub = SubscriptionFactory(plan=plan(code), period_start=JUNE, **extra)
    if card:
        add_card(sub.account, number=card)
    if messages:
        MonthlyUsage.objects.create(account=sub.account, month=JUNE, billed_messages=messages, final=True)
    if with_code:
        promo_code_register(
            account=sub.account, text=PromoCodeFactory().code, actor=None, at=datetime(2026, 6, 10, tzinfo=BILLING_TZ)
        )
    return sub


def renew_all(subs) -> Totals:
    totals = Totals()
    renew_batch([sub.pk for sub in subs], as_of=JULY_1, run=None, totals=totals)
    for sub in subs:
        sub.refresh_from_db()
    return totals


def charge_of(sub) -> Charge:
    return Charge.objects.get(account=sub.account)


def test_one_batch_renews_each_kind_of_subscription_as_it_would_alone():
    light = due("light", card=None)
    medium = due("medium")
    paid_by_code = due("medium", with_code=True)
    heavy = due("high", messages=7000)  # 1,000 extra messages at NT$0.2
    declined_with_code = due("high", card=DECLINING_CARD, messages=7000, with_code=True)
    no_card = due("medium", card=None)
    downgrading = due("high", scheduled_plan=plan("medium"))

    totals = renew_all([light, medium, paid_by_code, heavy, declined_with_code, no_card, downgrading])

    renewed = [light, medium, paid_by_code, heavy, downgrading]
    assert all((sub.period_start, sub.status) == (JULY, SubscriptionStatus.ACTIVE) for sub in renewed)
    assert not Charge.objects.filter(account=light.account).exists()
    assert (charge_of(medium).total_twd, charge_of(medium).status) == (840, ChargeStatus.SUCCEEDED)
    assert (charge_of(paid_by_code).deduction_twd, charge_of(paid_by_code).total_twd) == (800, 0)
    assert (charge_of(heavy).extra_messages_twd, charge_of(heavy).total_twd) == (200, 1470)
    assert (downgrading.plan.code, charge_of(downgrading).total_twd) == ("medium", 840)
    assert PlanChange.objects.get(subscription=downgrading).kind == PlanChangeKind.DOWNGRADE_APPLIED
    # the declined one is past due with its retry day, and its code is back, registered for the retry
    for failed in (declined_with_code, no_card):
        assert (failed.period_start, failed.status) == (JUNE, SubscriptionStatus.PAST_DUE)
        renewal = Renewal.objects.get(subscription=failed)
        assert (renewal.status, renewal.next_retry_on) == (RenewalStatus.FAILED, date(2026, 7, 3))
    assert charge_of(declined_with_code).status == ChargeStatus.FAILED
    assert declined_with_code.account.registered_codes.get().status == CodeStatus.REGISTERED
    assert paid_by_code.account.redemptions.get().charge == charge_of(paid_by_code)
    # a paid charge has its invoice; NT$0 has none; only the charges with money went to the gateway
    assert set(Invoice.objects.values_list("charge__account", flat=True)) == {
        medium.account_id,
        heavy.account_id,
        downgrading.account_id,
    }
    assert SandboxCharge.objects.count() == 4
    assert (totals.renewed, totals.failed, totals.codes_applied, totals.charged_twd) == (5, 2, 1, 840 + 1470 + 840)


def batch_queries(size: int) -> int:
    subs = [due(kind, messages=7000 if kind == "high" else 0) for kind in ("light", "medium", "high") * size]
    subs += [due("medium", with_code=True) for _ in range(size)]
    with CaptureQueriesContext(connection) as queries:
        renew_batch([sub.pk for sub in subs], as_of=JULY_1, run=None, totals=Totals())
    assert Renewal.objects.filter(subscription__in=subs, status=RenewalStatus.RENEWED).count() == len(subs)
    return len(queries)


def test_a_batch_takes_as_many_queries_for_40_subscriptions_as_for_4():
    assert batch_queries(1) == batch_queries(10)


def test_a_batch_the_gateway_never_answers_is_left_pending_then_recovered_exactly_once(monkeypatch):
    subs = [due("medium") for _ in range(3)]

    def no_answer(self, requests):
        sandbox.charge_card_tokens([(r.method.gateway_token, r.amount_twd, r.order_id) for r in requests])
        raise ConnectionError("the connection dropped after the gateway charged")

    with monkeypatch.context() as patched:
        patched.setattr(sandbox.SandboxGateway, "charge_many", no_answer)
        totals = renew_all(subs)
    assert (totals.renewed, totals.pending) == (0, 3)
    assert set(Charge.objects.values_list("status", flat=True)) == {ChargeStatus.PENDING}
    # the next run reads each order back from the gateway: charged once, not twice
    for renewal in renewals_in_doubt(older_than=datetime(2100, 1, 1, tzinfo=BILLING_TZ)):
        renewal_recover(renewal=renewal, as_of=JULY_1, totals=totals)
    assert set(Charge.objects.values_list("status", flat=True)) == {ChargeStatus.SUCCEEDED}
    assert SandboxCharge.objects.count() == 3
    assert Renewal.objects.filter(status=RenewalStatus.RENEWED).count() == 3


def test_the_command_renews_in_batches_of_the_given_size(capsys):
    subs = [due("medium") for _ in range(5)]
    call_command("renew_subscriptions", "--as-of", JULY_1.isoformat(), "--batch-size", "2")
    assert "Renewed 5" in capsys.readouterr().out
    assert Renewal.objects.filter(status=RenewalStatus.RENEWED).count() == len(subs)
    assert Renewal.objects.values("run").distinct().count() == 1


def test_a_batch_whose_claim_fails_is_renewed_one_by_one(monkeypatch, capsys):
    broken, fine = due("medium"), due("medium")
    from billing.renewals import quotes as renewals

    real_quote = renewals.Pricer.quote

    def quote(self, subscription, inputs):
        if subscription.pk == broken.pk:
            raise RuntimeError("a pricing bug for one account")
        return real_quote(self, subscription, inputs)

    monkeypatch.setattr(renewals.Pricer, "quote", quote)
    with pytest.raises(SystemExit) as exit_status:  # a renewal that raised is a failure of the run
        call_command("renew_subscriptions", "--as-of", JULY_1.isoformat())
    fine.refresh_from_db()
    broken.refresh_from_db()
    assert (fine.period_start, broken.period_start) == (JULY, JUNE)
    assert not Renewal.objects.filter(subscription=broken).exists()
    assert exit_status.value.code == 1
    assert "pending 1" in capsys.readouterr().out


def test_a_dry_run_in_batches_prices_every_subscription_and_changes_nothing(capsys):
    subs = [due("medium") for _ in range(4)] + [due("high", messages=7000)]
    call_command("renew_subscriptions", "--as-of", JULY_1.isoformat(), "--dry-run", "--batch-size", "2")
    out = capsys.readouterr().out
    assert out.count("total NT$") == len(subs)
    assert f"NT${4 * 840 + 1470:,} would be charged" in out
    assert not Charge.objects.exists() and not Renewal.objects.exists()


def test_an_answer_for_another_order_than_the_renewals_attempt_settles_nothing():
    sub = due("medium", card=DECLINING_CARD)
    renew_all([sub])
    renewal = Renewal.objects.get()
    renewal.status = RenewalStatus.CHARGING  # as if at the gateway again
    renewal.save()
    totals = Totals()
    stale = ChargeResult(Outcome.SUCCEEDED, reference="LATE")
    renewals_settle([(renewal.pk, f"renewal:{sub.pk}:2026-07:9", stale)], as_of=JULY_1, totals=totals)
    renewal.refresh_from_db()
    assert (renewal.status, totals.renewed) == (RenewalStatus.CHARGING, 0)
    assert renewal.charge.status == ChargeStatus.FAILED


def test_one_faulty_invoice_leaves_only_its_own_charge_without_an_invoice(monkeypatch):
    subs = [due("medium") for _ in range(3)]
    from invoices import issuing

    real_lines = issuing.lines_snapshot

    def lines(charge, plan_names):
        if charge.account_id == subs[1].account_id:
            raise ValueError("a malformed line")
        return real_lines(charge, plan_names)

    monkeypatch.setattr(issuing, "lines_snapshot", lines)
    totals = renew_all(subs)
    assert totals.renewed == 3
    assert set(Invoice.objects.values_list("charge__account", flat=True)) == {subs[0].account_id, subs[2].account_id}
