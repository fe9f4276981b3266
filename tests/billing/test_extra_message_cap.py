"""The extra-message cap (加購訊息上限, SPEC §2): who sets it, where it shows, and that no renewal bills past it."""

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.contrib.messages import ERROR, SUCCESS
from django.core.management import call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts.errors import ServiceError
from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from billing.models import Subscription
from billing.pricing import PlanTerms, Rules, Tier, extra_messages_fee, price_renewal
from billing.renewals import Totals, renew_subscription
from billing.renewals.quotes import renewal_quotes
from billing.services import subscription_set_extra_message_cap
from payments.models import Charge
from promos.eligibility import Buyer
from tests.admin_rows import messages_of, post_action
from tests.factories import SubscriptionFactory, UserFactory, plan
from tests.helpers import add_card, new_admin
from usage.models import MonthlyUsage

# Most tests read the English source strings; the ones about zh-Hant say so and switch back.
pytestmark = pytest.mark.usefixtures("english")

HIGH = PlanTerms("high", 3, 1200, 6000, True, (Tier(6001, Decimal("0.2")), Tier(1_000_001, Decimal("0.011"))))
MEDIUM = PlanTerms("medium", 2, 800, 3000)
FLAT = Rules(tax_rate=Decimal("0.05"), prorate_free_to_paid=False)
BUYER = Buyer(account_id=7, region="TW", main_payment_method_kind="card")
JUNE = date(2026, 6, 1)
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)


def renewal_quote(billed: int, cap: int | None, plan_terms: PlanTerms = HIGH):
    return price_renewal(
        plan=plan_terms,
        month=date(2026, 7, 1),
        at=JULY_1,
        buyer=BUYER,
        rules=FLAT,
        previous_billed_messages=billed,
        previous_extra_message_cap=cap,
    )


def extra_line(quote) -> dict | None:
    return next((line for line in quote.lines if line["kind"] == "extra_messages"), None)


# ---- the pure pricing -----------------------------------------------------------------------


def test_the_probe_cap_1000_with_16000_messages_bills_1000_extras_to_the_nt_dollar():
    # given a High month of 16,000 billed messages and a cap of 1,000 extra messages
    # when
    quote = renewal_quote(16000, 1000)
    # then LINE stopped at 7,000: 1,000 extras at NT$0.2 = NT$200, on top of the NT$1,200 fee
    assert extra_messages_fee(HIGH, 16000, 1000) == (1000, 200)
    assert (quote.extra_messages, quote.extra_messages_twd, quote.net_twd, quote.tax_twd, quote.total_twd) == (
        1000,
        200,
        1400,
        70,
        1470,
    )
    assert extra_line(quote) == {"kind": "extra_messages", "messages": 1000, "amount_twd": 200}


def test_without_a_cap_every_extra_message_is_billed_as_before():
    quote = renewal_quote(16000, None)
    assert extra_messages_fee(HIGH, 16000, None) == (10000, 2000)
    assert (quote.extra_messages, quote.extra_messages_twd, quote.total_twd) == (10000, 2000, 3360)
    assert extra_line(quote) == {"kind": "extra_messages", "messages": 10000, "amount_twd": 2000}


@pytest.mark.parametrize("cap", [10000, 10001, 50000, 1_000_000_000])
def test_a_cap_at_or_above_the_months_extras_changes_nothing(cap):
    assert extra_messages_fee(HIGH, 16000, cap) == (10000, 2000)
    assert renewal_quote(16000, cap).total_twd == 3360


def test_a_cap_bills_nothing_for_a_month_within_the_quota():
    assert extra_messages_fee(HIGH, 6000, 1) == (0, 0)
    assert extra_messages_fee(HIGH, 6001, 1) == (1, 0)  # NT$0.2 rounds to NT$0
    assert extra_messages_fee(HIGH, 6003, 2) == (2, 0)  # NT$0.4 rounds to NT$0, where 3 extras made NT$1


def test_a_cap_on_a_plan_without_extra_messages_bills_none():
    assert extra_messages_fee(MEDIUM, 5000, 1000) == (0, 0)
    quote = renewal_quote(5000, 1000, MEDIUM)
    assert (quote.extra_messages, quote.total_twd, extra_line(quote)) == (0, 840, None)


def test_the_cap_applies_across_tiers():
    # given a third tier from the 20,001st message at NT$0.1 and a cap ending inside it
    plan_terms = PlanTerms(
        "high",
        3,
        1200,
        6000,
        True,
        (Tier(6001, Decimal("0.2")), Tier(20001, Decimal("0.1")), Tier(1_000_001, Decimal("0.011"))),
    )
    # when 100,000 messages were counted and the cap is 24,000 (LINE stopped at 30,000)
    # then 14,000 × 0.2 + 10,000 × 0.1 = 2,800 + 1,000
    assert extra_messages_fee(plan_terms, 100_000, 24_000) == (24_000, 3800)


TIER_TABLES = st.builds(
    lambda quota, starts, prices: (
        quota,
        tuple(Tier(quota + 1 + start, Decimal(price) / 1000) for start, price in zip(starts, prices, strict=False)),
    ),
    st.integers(min_value=0, max_value=50_000),
    st.lists(st.integers(min_value=0, max_value=2_000_000), min_size=1, max_size=5, unique=True).map(
        lambda starts: sorted({0, *starts})
    ),
    st.lists(st.integers(min_value=0, max_value=500), min_size=6, max_size=6),
)


@given(
    table=TIER_TABLES,
    billed=st.integers(min_value=0, max_value=3_000_000),
    cap=st.one_of(st.none(), st.integers(min_value=1, max_value=3_000_000)),
)
def test_the_billed_extras_never_exceed_the_cap_and_cost_what_the_month_up_to_the_cap_costs(table, billed, cap):
    # given any tier table, month and cap
    quota, tiers = table
    plan_terms = PlanTerms("high", 3, 1200, quota, True, tiers)
    # when
    extras, fee_twd = extra_messages_fee(plan_terms, billed, cap)
    quote = renewal_quote(billed, cap, plan_terms)
    # then no more extras than the cap, exactly the messages LINE let through, priced as an uncapped month of them
    sent = billed if cap is None else min(billed, quota + cap)
    assert extras == max(0, sent - quota)
    assert cap is None or extras <= cap
    assert (extras, fee_twd) == extra_messages_fee(plan_terms, sent)
    assert fee_twd <= extra_messages_fee(plan_terms, billed)[1]
    assert (quote.extra_messages, quote.extra_messages_twd) == (extras, fee_twd)
    assert (extra_line(quote) or {"messages": 0})["messages"] == extras


# ---- the service ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_sets_and_clears_the_cap_with_an_audit_record_each():
    # given
    subscription = SubscriptionFactory(high=True)
    actor = UserFactory()
    # when
    subscription_set_extra_message_cap(subscription=subscription, cap=1000, actor=actor)
    subscription_set_extra_message_cap(subscription=subscription, cap=None, actor=actor)
    # then
    subscription.refresh_from_db()
    assert subscription.extra_message_cap is None
    records = AuditRecord.objects.filter(object_id=str(subscription.pk)).order_by("pk")
    assert [(r.action, r.actor, r.account, r.before, r.after) for r in records] == [
        (
            "subscription.set_extra_message_cap",
            actor,
            subscription.account,
            {"plan": subscription.plan_id, "extra_message_cap": None},
            {"plan": subscription.plan_id, "extra_message_cap": 1000},
        ),
        (
            "subscription.clear_extra_message_cap",
            actor,
            subscription.account,
            {"plan": subscription.plan_id, "extra_message_cap": 1000},
            {"plan": subscription.plan_id, "extra_message_cap": None},
        ),
    ]


@pytest.mark.django_db
def test_setting_the_cap_it_already_has_records_nothing():
    subscription = SubscriptionFactory(high=True, extra_message_cap=1000)
    subscription_set_extra_message_cap(subscription=subscription, cap=1000, actor=None)
    assert not AuditRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["light", "medium"])
def test_a_plan_without_extra_messages_gets_no_cap(code):
    # given
    subscription = SubscriptionFactory(plan=plan(code))
    # when
    with pytest.raises(ServiceError) as refusal:
        subscription_set_extra_message_cap(subscription=subscription, cap=1000, actor=None)
    # then
    assert refusal.value.code == "no_extra_messages"
    assert str(refusal.value.message) == (
        "Only the High plan sends extra messages, so only it has an extra-message cap."
    )
    subscription.refresh_from_db()
    assert subscription.extra_message_cap is None
    assert not AuditRecord.objects.exists()


@pytest.mark.django_db
def test_a_cap_left_from_a_high_month_can_be_cleared_on_medium():
    subscription = SubscriptionFactory(medium=True, extra_message_cap=500)
    subscription_set_extra_message_cap(subscription=subscription, cap=None, actor=None)
    subscription.refresh_from_db()
    assert subscription.extra_message_cap is None
    assert AuditRecord.objects.get().action == "subscription.clear_extra_message_cap"


@pytest.mark.django_db
@pytest.mark.parametrize("cap", [0, -1, 1_000_000_001, 2**70, True, 1.5, "1000"])
def test_a_cap_that_is_no_whole_number_from_1_up_is_refused_and_nothing_changes(cap):
    # given
    subscription = SubscriptionFactory(high=True, extra_message_cap=700)
    # when
    with pytest.raises(ServiceError) as refusal:
        subscription_set_extra_message_cap(subscription=subscription, cap=cap, actor=None)
    # then
    assert refusal.value.code == "cap_out_of_range"
    assert str(refusal.value.message) == "The cap is a whole number of extra messages from 1 to 1,000,000,000."
    subscription.refresh_from_db()
    assert subscription.extra_message_cap == 700
    assert not AuditRecord.objects.exists()


# ---- renewals -------------------------------------------------------------------------------


def high_in_june(cap=None, billed=16000):
    subscription = SubscriptionFactory(high=True, period_start=JUNE, extra_message_cap=cap)
    add_card(subscription.account)
    MonthlyUsage.objects.create(account=subscription.account, month=JUNE, billed_messages=billed, final=True)
    return subscription


def renew(subscription):
    renew_subscription(subscription_id=subscription.pk, as_of=JULY_1, run=None, totals=Totals())


@pytest.mark.django_db
def test_a_renewal_bills_no_more_extra_messages_than_the_cap():
    # given the probe: cap 1,000, 16,000 messages in June
    subscription = high_in_june(cap=1000)
    # when
    renew(subscription)
    # then
    charge = Charge.objects.get()
    assert (charge.fee_twd, charge.extra_messages_twd, charge.net_twd, charge.tax_twd, charge.total_twd) == (
        1200,
        200,
        1400,
        70,
        1470,
    )
    assert {"kind": "extra_messages", "messages": 1000, "amount_twd": 200} in charge.lines


@pytest.mark.django_db
@pytest.mark.parametrize("cap", [None, 10000, 25000])
def test_a_renewal_without_a_cap_or_under_it_bills_every_extra_message(cap):
    subscription = high_in_june(cap=cap)
    renew(subscription)
    charge = Charge.objects.get()
    assert (charge.extra_messages_twd, charge.total_twd) == (2000, 3360)
    assert {"kind": "extra_messages", "messages": 10000, "amount_twd": 2000} in charge.lines


@pytest.mark.django_db
def test_the_dry_run_quote_shows_the_capped_count():
    subscription = high_in_june(cap=2500)
    [(_subscription, _plan, quote)] = renewal_quotes([Subscription.objects.get(pk=subscription.pk)], as_of=JULY_1)
    assert (quote.extra_messages, quote.extra_messages_twd) == (2500, 500)
    assert extra_line(quote) == {"kind": "extra_messages", "messages": 2500, "amount_twd": 500}


# ---- the plans page -------------------------------------------------------------------------


def cap_url(account, side="billing"):
    return reverse(f"{side}:extra_message_cap", args=[account.pk])


def plans_url(account, side="billing"):
    return reverse(f"{side}:plans", args=[account.pk])


def logged_in(client, **subscription):
    membership = new_admin(**subscription)
    client.force_login(membership.user)
    return membership.account


@pytest.mark.django_db
@pytest.mark.parametrize("side", ["billing", "webstore"])
@pytest.mark.parametrize(("typed", "stored"), [("1000", 1000), ("12,500", 12500), (" 7 000 ", 7000), ("３００", 300)])
def test_an_admin_sets_the_cap_on_the_plans_page(client, side, typed, stored):
    # given
    account = logged_in(client, high=True)
    # when
    response = client.post(cap_url(account, side), {"extra_message_cap": typed})
    # then
    assert response.status_code == 302
    assert response["Location"] == plans_url(account, side)
    account.subscription.refresh_from_db()
    assert account.subscription.extra_message_cap == stored
    assert messages_of(response) == [(SUCCESS, f"Extra messages now stop at {stored:,} a month.")]
    assert AuditRecord.objects.get(action="subscription.set_extra_message_cap").after["extra_message_cap"] == stored


@pytest.mark.django_db
def test_an_admin_clears_the_cap_on_the_plans_page(client):
    # given
    account = logged_in(client, high=True, extra_message_cap=3000)
    # when the clear button is pressed, whatever the field holds
    response = client.post(cap_url(account), {"extra_message_cap": "abc", "clear": "1"})
    # then
    account.subscription.refresh_from_db()
    assert account.subscription.extra_message_cap is None
    assert messages_of(response) == [
        (SUCCESS, "The extra-message cap was cleared: extra messages are sent without a limit.")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "The cap is a whole number of extra messages from 1 to 1,000,000,000."),
        ("0", "The cap is a whole number of extra messages from 1 to 1,000,000,000."),
        ("-5", "The cap is a whole number of extra messages from 1 to 1,000,000,000."),
        ("1.5", "The cap is a whole number of extra messages from 1 to 1,000,000,000."),
        ("1000000001", "The cap is a whole number of extra messages from 1 to 1,000,000,000."),
        ("9" * 5000, "The cap is a whole number of extra messages from 1 to 1,000,000,000."),
        ("", "Enter the cap: a whole number of extra messages."),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(client, typed, message):
    # given
    account = logged_in(client, high=True, extra_message_cap=3000)
    # when
    response = client.post(cap_url(account), {"extra_message_cap": typed})
    # then
    assert response.status_code == 302
    assert messages_of(response) == [(ERROR, message)]
    account.subscription.refresh_from_db()
    assert account.subscription.extra_message_cap == 3000
    assert not AuditRecord.objects.exists()


@pytest.mark.django_db
def test_a_nul_in_the_cap_is_a_400_that_changes_nothing(client):
    account = logged_in(client, high=True, extra_message_cap=3000)
    response = client.post(cap_url(account), {"extra_message_cap": "10\x0000"})
    assert response.status_code == 400
    account.subscription.refresh_from_db()
    assert account.subscription.extra_message_cap == 3000


@pytest.mark.django_db
def test_a_medium_account_is_refused_a_cap_with_the_reason(client):
    account = logged_in(client, medium=True)
    response = client.post(cap_url(account), {"extra_message_cap": "1000"})
    assert messages_of(response) == [
        (ERROR, "Only the High plan sends extra messages, so only it has an extra-message cap.")
    ]
    account.subscription.refresh_from_db()
    assert account.subscription.extra_message_cap is None


@pytest.mark.django_db
def test_an_operator_may_not_set_the_cap(client):
    # given
    account = logged_in(client, role="operator", high=True, extra_message_cap=3000)
    # when
    response = client.post(cap_url(account), {"extra_message_cap": "1000"})
    # then
    assert response.status_code == 403
    account.subscription.refresh_from_db()
    assert account.subscription.extra_message_cap == 3000


@pytest.mark.django_db
def test_another_accounts_cap_is_a_404(client):
    # given an admin of one account, and another High account
    logged_in(client, high=True)
    other = SubscriptionFactory(high=True, extra_message_cap=3000)
    # when
    response = client.post(cap_url(other.account), {"extra_message_cap": "1000"})
    # then
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.extra_message_cap == 3000


@pytest.mark.django_db
def test_the_cap_is_only_posted(client):
    account = logged_in(client, high=True)
    assert client.get(cap_url(account)).status_code == 405


@pytest.mark.django_db
def test_an_admin_sees_the_cap_and_its_form(client):
    account = logged_in(client, high=True, extra_message_cap=12000)
    page = client.get(plans_url(account)).content.decode()
    assert "Extra-message cap: 12,000 a month" in page
    assert 'data-testid="extra-message-cap-form"' in page
    assert 'value="12000"' in page
    assert 'data-testid="extra-message-cap-clear"' in page


@pytest.mark.django_db
def test_an_operator_sees_the_cap_without_the_form(client):
    account = logged_in(client, role="operator", high=True, extra_message_cap=12000)
    page = client.get(plans_url(account, "webstore")).content.decode()
    assert "Extra-message cap: 12,000 a month" in page
    assert 'data-testid="extra-message-cap-form"' not in page


@pytest.mark.django_db
def test_a_high_account_without_a_cap_says_so_and_offers_no_clear_button(client):
    account = logged_in(client, high=True)
    page = client.get(plans_url(account)).content.decode()
    assert "Extra-message cap: none (extra messages are sent without a limit)" in page
    assert 'data-testid="extra-message-cap-form"' in page
    assert 'data-testid="extra-message-cap-clear"' not in page


@pytest.mark.django_db
def test_a_medium_account_shows_no_cap(client):
    account = logged_in(client, medium=True, extra_message_cap=500)
    page = client.get(plans_url(account)).content.decode()
    assert 'data-testid="extra-message-cap"' not in page


@pytest.mark.django_db
def test_the_plans_page_groups_thousands_in_both_languages(client, settings):
    # given a High account with 16,000 messages this month and a cap
    account = logged_in(client, high=True, extra_message_cap=12000)
    MonthlyUsage.objects.create(
        account=account, month=account.subscription.period_start, billed_messages=16000, final=True
    )
    # when
    english = client.get(plans_url(account)).content.decode()
    settings.LANGUAGE_CODE = "zh-hant"
    chinese = client.get(plans_url(account)).content.decode()
    # then
    assert "Messages this month: 16,000 / 6,000" in english
    assert "Extra-message cap: 12,000 a month" in english
    assert "本月訊息則數：16,000 / 6,000" in chinese
    assert "加購訊息上限：每月 12,000 則" in chinese
    assert "免費訊息 6,000 則" in chinese


# ---- the staff admin ------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_see_the_cap_form_with_the_current_cap(admin_client):
    subscription = SubscriptionFactory(high=True, extra_message_cap=4000, account__basic_id="@capped")
    response = post_action(admin_client, Subscription, "set_extra_message_cap", [subscription])
    page = response.content.decode()
    assert response.status_code == 200
    assert "@capped" in page and "extra messages stop at 4,000 a month" in page
    assert 'name="extra_message_cap"' in page and 'value="4000"' in page


@pytest.mark.django_db
def test_staff_set_and_clear_the_cap_through_the_service(admin_client, admin_user):
    # given
    subscription = SubscriptionFactory(high=True, account__basic_id="@capped")
    # when
    set_response = post_action(
        admin_client, Subscription, "set_extra_message_cap", [subscription], apply="1", extra_message_cap="8000"
    )
    subscription.refresh_from_db()
    after_set = subscription.extra_message_cap
    clear_response = post_action(
        admin_client, Subscription, "set_extra_message_cap", [subscription], apply="1", extra_message_cap=""
    )
    # then
    subscription.refresh_from_db()
    assert (after_set, subscription.extra_message_cap) == (8000, None)
    assert messages_of(set_response) == [(SUCCESS, "@capped: extra messages stop at 8,000 a month.")]
    # (no page was shown in between, so the first message is still queued)
    assert messages_of(clear_response) == [
        (SUCCESS, "@capped: extra messages stop at 8,000 a month."),
        (SUCCESS, "@capped: no extra-message cap."),
    ]
    actions = AuditRecord.objects.filter(actor=admin_user).order_by("pk").values_list("action", flat=True)
    assert list(actions) == ["subscription.set_extra_message_cap", "subscription.clear_extra_message_cap"]


@pytest.mark.django_db
def test_staff_are_refused_a_cap_on_medium_and_junk(admin_client):
    # given
    medium = SubscriptionFactory(medium=True, account__basic_id="@medium")
    high = SubscriptionFactory(high=True, extra_message_cap=4000)
    # when
    refused = post_action(
        admin_client, Subscription, "set_extra_message_cap", [medium], apply="1", extra_message_cap="8000"
    )
    junk = post_action(admin_client, Subscription, "set_extra_message_cap", [high], apply="1", extra_message_cap="-3")
    # then
    assert messages_of(refused) == [
        (ERROR, "@medium: Only the High plan sends extra messages, so only it has an extra-message cap.")
    ]
    assert junk.status_code == 200
    assert "The cap is a whole number of extra messages from 1 to 1,000,000,000." in junk.content.decode()
    medium.refresh_from_db()
    high.refresh_from_db()
    assert (medium.extra_message_cap, high.extra_message_cap) == (None, 4000)
    assert not AuditRecord.objects.exists()


@pytest.mark.django_db
def test_staff_set_one_cap_at_a_time(admin_client):
    first, second = SubscriptionFactory(high=True), SubscriptionFactory(high=True)
    response = post_action(
        admin_client, Subscription, "set_extra_message_cap", [first, second], apply="1", extra_message_cap="8000"
    )
    assert messages_of(response) == [(ERROR, "Select exactly one subscription.")]
    assert not Subscription.objects.filter(extra_message_cap__isnull=False).exists()


# ---- the demo -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_high_account_has_a_cap(settings):
    # given
    settings.DEBUG = True
    # when it is loaded twice
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    # then
    subscription = Subscription.objects.get(account__basic_id="@demo-high")
    assert subscription.extra_message_cap == 10_000
    assert AuditRecord.objects.filter(action="subscription.set_extra_message_cap").count() == 1
