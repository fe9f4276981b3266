"""The admins are told as the month's messages cross 80% and 100% of the free messages and of the cap: once each."""

from datetime import date, datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.periods import BILLING_TZ
from billing.models import UsageNotice
from billing.usage_notices import usage_notices_send
from tests.helpers import new_admin
from usage.models import MonthlyUsage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
AT = datetime(2026, 11, 15, 12, tzinfo=BILLING_TZ)  # halfway through November


def with_admin_email(membership):
    membership.user.email = "owner@shop.tw"
    membership.user.save()
    return membership.account


def month_of(account, billed):
    MonthlyUsage.objects.update_or_create(
        account=account, month=date(2026, 11, 1), defaults={"billed_messages": billed}
    )


def sent(django_capture_on_commit_callbacks, **kwargs):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        usage_notices_send(as_of=AT, **kwargs)
    return [message.subject for message in mail.outbox]


def test_a_medium_account_is_told_at_80_percent_once_and_at_100_percent(django_capture_on_commit_callbacks):
    account = with_admin_email(new_admin(medium=True))
    month_of(account, 2_399)
    assert sent(django_capture_on_commit_callbacks) == []
    month_of(account, 2_400)  # 80% of 3,000
    assert sent(django_capture_on_commit_callbacks) == [
        f"[LINE Official Account] {account.name} used 80% of its free messages this month"
    ]
    assert sent(django_capture_on_commit_callbacks) == []  # a rerun tells nobody again
    month_of(account, 3_000)
    [subject] = sent(django_capture_on_commit_callbacks)
    assert subject == f"[LINE Official Account] {account.name} used all its free messages this month"
    body = mail.outbox[0].body
    assert "Sending has stopped" in body
    assert "High plan would carry your messages" in body  # 3,000 by the 15th: about 6,000 a month
    assert set(UsageNotice.objects.values_list("threshold", flat=True)) == {"quota_80", "quota_100"}


def test_a_high_account_is_told_of_its_cap_and_one_e_mail_says_the_highest_threshold(
    django_capture_on_commit_callbacks,
):
    account = with_admin_email(new_admin(high=True))
    account.subscription.extra_message_cap = 1_000
    account.subscription.save()
    month_of(account, 7_000)  # 1,000 extra: the quota and the cap both reached at once
    [subject] = sent(django_capture_on_commit_callbacks)
    assert subject == f"[LINE Official Account] {account.name} reached its extra-message cap"
    assert "The extra-message cap of 1,000 is reached" in mail.outbox[0].body
    assert UsageNotice.objects.count() == 4
    assert sent(django_capture_on_commit_callbacks) == []


def test_a_dry_run_tells_nobody_and_records_nothing(django_capture_on_commit_callbacks):
    account = with_admin_email(new_admin())
    month_of(account, 200)
    out = StringIO()
    call_command("notify_usage_thresholds", "--as-of", AT.isoformat(), "--dry-run", stdout=out)
    assert "1 accounts would be told" in out.getvalue()
    assert (mail.outbox, UsageNotice.objects.count()) == ([], 0)
