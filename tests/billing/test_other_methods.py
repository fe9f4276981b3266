"""LINE's rule for a secondary method: a renewal declined on the main method is charged to the account's other
usable methods in turn (the most recently used first), each its own order at the gateway, before the account
becomes past due; BILLING_TRY_OTHER_METHODS turns it off."""

from datetime import date, datetime

import pytest
from django.core import mail

from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from billing.models import Renewal, RenewalStatus, SubscriptionStatus
from billing.renewals import Totals, renew_subscription, renewal_retry
from payments.models import Charge, ChargeStatus, MethodStatus, SandboxCharge
from promos.models import CodeStatus
from promos.services import promo_code_register
from tests.factories import ChargeFactory, MembershipFactory, PromoCodeFactory, SubscriptionFactory, plan
from tests.helpers import add_card

pytestmark = pytest.mark.django_db
JUNE = date(2026, 6, 1)
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)
GOOD, DECLINES, EXPIRED = "4242424242424242", "4000000000000002", "4000000000000069"


def account_with(*cards, code="medium"):
    """The first card is the main method; the others are added after it."""
    sub = SubscriptionFactory(plan=plan(code), period_start=JUNE)
    MembershipFactory(account=sub.account, user__email="owner@example.tw")
    methods = [add_card(sub.account, number=card) for card in cards]
    return sub, methods


def renew(sub, at=JULY_1) -> Totals:
    totals = Totals()
    renew_subscription(subscription_id=sub.pk, as_of=at, run=None, totals=totals)
    sub.refresh_from_db()
    return totals


def test_a_renewal_declined_on_the_main_card_is_paid_by_the_other_one_and_never_past_due(
    django_capture_on_commit_callbacks,
):
    sub, (main, second) = account_with(DECLINES, GOOD)
    with django_capture_on_commit_callbacks(execute=True):
        totals = renew(sub)
    assert (totals.renewed, totals.failed) == (1, 0)
    assert (sub.status, sub.period_start) == (SubscriptionStatus.ACTIVE, date(2026, 7, 1))
    first, paid = Charge.objects.order_by("pk")
    assert (first.payment_method, first.status, first.idempotency_key) == (
        main,
        "failed",
        f"renewal:{sub.pk}:2026-07:1",
    )
    assert (paid.payment_method, paid.status, paid.idempotency_key) == (
        second,
        "succeeded",
        f"renewal:{sub.pk}:2026-07:2",
    )
    assert paid.total_twd == first.total_twd == 840
    # each its own order at the gateway
    assert set(SandboxCharge.objects.values_list("order_id", flat=True)) == {
        first.idempotency_key,
        paid.idempotency_key,
    }
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.charge, renewal.attempts) == (RenewalStatus.RENEWED, paid, 2)
    record = AuditRecord.objects.get(action="renewal.other_method")
    assert (record.before["payment_method"], record.after["payment_method"]) == (main.pk, second.pk)
    assert mail.outbox == []  # nothing failed: no failure notice


def test_when_every_method_declines_the_account_is_past_due_after_one_order_on_each():
    sub, (main, older, newer) = account_with(DECLINES, DECLINES, DECLINES)
    totals = renew(sub)
    assert totals.failed == 1
    assert sub.status == SubscriptionStatus.PAST_DUE
    charges = list(Charge.objects.order_by("pk"))
    # the main one, then (none used before) the most recently added
    assert [charge.payment_method for charge in charges] == [main, newer, older]
    assert {charge.status for charge in charges} == {ChargeStatus.FAILED}
    assert SandboxCharge.objects.count() == 3
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.attempts, renewal.next_retry_on) == (RenewalStatus.FAILED, 3, date(2026, 7, 3))


def test_after_the_main_one_the_most_recently_used_method_goes_first():
    sub, (main, used, never) = account_with(DECLINES, GOOD, GOOD)
    ChargeFactory(account=sub.account, payment_method=used, status="succeeded")  # used in May
    renew(sub)
    assert Charge.objects.filter(status="succeeded", purpose="renewal").get().payment_method == used
    assert not Charge.objects.filter(payment_method=never).exists()


def test_a_registered_code_goes_with_the_renewal_to_the_next_method_and_is_redeemed_once():
    sub, (_main, second) = account_with(DECLINES, GOOD)
    code = PromoCodeFactory(campaign__face_value_twd=500)
    promo_code_register(account=sub.account, text=code.code, actor=None, at=datetime(2026, 6, 10, tzinfo=BILLING_TZ))
    renew(sub)
    paid = Charge.objects.get(status="succeeded")
    assert (paid.payment_method, paid.deduction_twd, paid.total_twd) == (second, 500, 315)
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED
    assert code.redemption.charge == paid


def test_a_main_card_that_has_expired_is_marked_so_and_the_other_one_pays():
    sub, (main, second) = account_with(EXPIRED, GOOD)
    renew(sub)
    main.refresh_from_db()
    assert main.status == MethodStatus.EXPIRED
    assert Charge.objects.get(status="succeeded").payment_method == second
    assert sub.status == SubscriptionStatus.ACTIVE


def test_the_setting_off_fails_the_renewal_on_the_main_method_alone(settings):
    settings.BILLING_TRY_OTHER_METHODS = False
    sub, (main, _second) = account_with(DECLINES, GOOD)
    renew(sub)
    assert sub.status == SubscriptionStatus.PAST_DUE
    assert list(Charge.objects.values_list("payment_method", flat=True)) == [main.pk]


def test_each_retry_day_tries_the_main_method_then_the_others_again():
    sub, (main, second) = account_with(DECLINES, DECLINES)
    renew(sub)
    renewal = Renewal.objects.get()
    renewal_retry(renewal_id=renewal.pk, as_of=datetime(2026, 7, 3, 0, 30, tzinfo=BILLING_TZ), totals=Totals())
    methods = list(Charge.objects.order_by("pk").values_list("payment_method", flat=True))
    assert methods == [main.pk, second.pk, main.pk, second.pk]
    keys = list(Charge.objects.order_by("pk").values_list("idempotency_key", flat=True))
    assert keys == [f"renewal:{sub.pk}:2026-07:{n}" for n in (1, 2, 3, 4)]


def test_an_account_whose_main_card_expired_is_charged_on_its_other_method_the_next_month():
    # given July paid by the second card after the main one expired: nothing is main any more
    sub, (main, second) = account_with(EXPIRED, GOOD)
    renew(sub)
    assert not sub.account.payment_methods.filter(is_main=True).exists()
    # when August's renewal runs
    totals = renew(sub, at=datetime(2026, 8, 1, 0, 5, tzinfo=BILLING_TZ))
    # then the second card pays it, and the account is not past due
    assert (totals.renewed, totals.failed) == (1, 0)
    august = Charge.objects.get(period_start=date(2026, 8, 1), status="succeeded")
    assert august.payment_method == second
    assert sub.status == SubscriptionStatus.ACTIVE


def test_recovery_goes_on_from_the_methods_its_round_already_tried():
    from billing.renewals.recovery import methods_tried_in_round

    sub, (main, second) = account_with(DECLINES, "4000000000000119")  # the second's answer is lost
    totals = renew(sub)
    assert totals.pending == 1
    renewal = Renewal.objects.get()
    assert renewal.charge.payment_method == second
    assert methods_tried_in_round(renewal, renewal.charge) == {main.pk}


def test_a_follow_up_that_fails_to_settle_in_a_larger_batch_stays_charging_and_the_batch_goes_on(monkeypatch):
    from billing.renewals import batches, renew_batch

    declined, (_main, _second) = account_with(DECLINES, GOOD)
    fine, _methods = account_with(GOOD)
    real_settle = batches.renewals_settle

    def settle(answers, **kwargs):
        if len(answers) == 1 and answers[0][1].endswith(":2"):  # the declined renewal's next method's answer
            raise RuntimeError("the settling transaction broke")
        return real_settle(answers, **kwargs)

    monkeypatch.setattr(batches, "renewals_settle", settle)
    totals = Totals()
    renew_batch([declined.pk, fine.pk], as_of=JULY_1, run=None, totals=totals)  # raises nothing
    assert totals.renewed == 1 and totals.pending == 1
    assert Renewal.objects.get(subscription=declined).status == RenewalStatus.CHARGING  # for recovery
    assert Renewal.objects.get(subscription=fine).status == RenewalStatus.RENEWED
