"""A registered code whose window has closed is expired, never available again (SPEC §3), whichever job finds it
first: the renewal it was registered for, or expire_promo_codes. Both go through promos' one function."""

from datetime import date, datetime

import pytest
from django.core import mail

from accounts.models import AuditRecord, UserPreference
from accounts.periods import BILLING_TZ
from billing.renewals import Totals, renew_subscription
from payments.models import Charge
from promos.eligibility import CodeRefusal
from promos.models import CodeStatus
from promos.services import CodeNotUsable, promo_code_register, promo_codes_expire
from tests.factories import CampaignFactory, MembershipFactory, PromoCodeFactory, SubscriptionFactory
from tests.helpers import add_card

pytestmark = pytest.mark.django_db
JULY_1 = datetime(2026, 7, 1, 0, 5, tzinfo=BILLING_TZ)
JUNE_END = datetime(2026, 6, 30, 23, 59, 59, tzinfo=BILLING_TZ)


def account_with_a_closed_code(email):
    """A Medium account named 小店 due for its July renewal, with a card, an English-reading admin at `email`,
    and a code registered from a campaign that ended on June 30th."""
    membership = MembershipFactory(user__email=email, account__name="小店")
    UserPreference.objects.create(user=membership.user, language="en")
    subscription = SubscriptionFactory(account=membership.account, medium=True, period_start=date(2026, 6, 1))
    add_card(membership.account)
    code = PromoCodeFactory(
        campaign=CampaignFactory(valid_until=JUNE_END),
        status=CodeStatus.REGISTERED,
        registered_account=membership.account,
    )
    return subscription, code


def outcome(code, account, email):
    """What is left of the code: its state, its audit trail (its account named, not numbered) and the subjects
    of what its admin was told."""
    code.refresh_from_db()

    def named(picture):
        mine = picture["registered_account"] == account.pk
        return {**picture, "registered_account": "its account"} if mine else picture

    records = AuditRecord.objects.filter(object_type="promos.promocode", object_id=str(code.pk)).order_by("pk")
    trail = [(record.action, named(record.before), record.after) for record in records]
    told = [message.subject for message in mail.outbox if message.to == [email]]
    return (code.status, code.registered_account_id), trail, told


def test_the_renewal_and_the_expiry_command_leave_a_closed_code_in_the_same_state(django_capture_on_commit_callbacks):
    # given two accounts alike, each with a registered code whose window closed on June 30th
    by_renewal, renewal_code = account_with_a_closed_code("first@example.tw")
    by_expiry, expiry_code = account_with_a_closed_code("second@example.tw")
    # when on July 1st the first is found by its renewal, the second by the expiry job
    with django_capture_on_commit_callbacks(execute=True):
        renew_subscription(subscription_id=by_renewal.pk, as_of=JULY_1, run=None, totals=Totals())
    with django_capture_on_commit_callbacks(execute=True):
        promo_codes_expire(as_of=JULY_1)
    # then both are expired, with the same audit record and the same e-mail to their admin
    after_renewal = outcome(renewal_code, by_renewal.account, "first@example.tw")
    after_expiry = outcome(expiry_code, by_expiry.account, "second@example.tw")
    assert after_renewal == after_expiry
    assert after_renewal == (
        (CodeStatus.EXPIRED, None),
        [
            (
                "promo_code.expire",
                {"status": "registered", "registered_account": "its account"},
                {"status": "expired", "registered_account": None},
            )
        ],
        ["[LINE Official Account] The promo code of 小店 has expired"],
    )
    # and the renewal was charged in full, the code unused
    assert Charge.objects.get(account=by_renewal.account).total_twd == 840


def test_a_code_expired_by_its_renewal_cannot_be_registered_again():
    # given a closed code that its renewal expired
    subscription, code = account_with_a_closed_code("owner@example.tw")
    renew_subscription(subscription_id=subscription.pk, as_of=JULY_1, run=None, totals=Totals())
    # when its admin tries to register it again
    with pytest.raises(CodeNotUsable) as refused:
        promo_code_register(account=subscription.account, text=code.code, actor=None, at=JULY_1)
    # then it is refused as expired, and stays expired
    assert refused.value.refusal == CodeRefusal.EXPIRED
    code.refresh_from_db()
    assert (code.status, code.registered_account) == (CodeStatus.EXPIRED, None)
