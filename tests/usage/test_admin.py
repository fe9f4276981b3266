"""The usage admin: staff classify message kinds and record usage, audited; channels show no token."""

import pytest

from accounts.models import AuditRecord
from tests.admin_rows import admin_url
from tests.factories import AccountFactory, MessagingChannelFactory, message_kind
from usage.models import DailyUsage, MessageKind, MessagingChannel, MonthlyUsage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_the_seeded_kinds_bill_what_spec_7_bills():
    billed = set(MessageKind.objects.filter(billed=True).values_list("code", flat=True))
    free = set(MessageKind.objects.filter(billed=False).values_list("code", flat=True))
    assert billed == {"broadcast", "targeting", "apiBroadcast", "apiPush", "apiMulticast", "apiNarrowcast"}
    assert free == {"apiReply", "autoResponse", "welcomeResponse", "chat"}


def test_staff_reclassify_a_kind_and_the_change_is_audited(admin_client):
    # given
    reply = message_kind("apiReply")
    # when
    response = admin_client.post(
        admin_url(MessageKind, "change", reply.pk),
        {"name_zh_hant": reply.name_zh_hant, "name_en": reply.name_en, "billed": "on"},
    )
    # then
    reply.refresh_from_db()
    assert response.status_code == 302
    assert reply.billed is True
    record = AuditRecord.objects.get(object_type="usage.messagekind", object_id=str(reply.pk))
    assert (record.action, record.before, record.after) == ("messagekind.change", {"billed": False}, {"billed": True})


def test_a_kinds_code_stays_and_a_kind_cannot_be_deleted(admin_client):
    # given
    push = message_kind("apiPush")
    # when
    admin_client.post(
        admin_url(MessageKind, "change", push.pk),
        {"code": "renamed", "name_zh_hant": push.name_zh_hant, "name_en": push.name_en, "billed": "on"},
    )
    deleting = admin_client.post(admin_url(MessageKind, "delete", push.pk), {"post": "yes"})
    # then
    push.refresh_from_db()
    assert push.code == "apiPush"
    assert deleting.status_code == 403


def test_staff_record_a_day_of_usage_as_staff_and_not_final_and_it_is_audited(admin_client):
    # given
    account = AccountFactory()
    push = message_kind("apiPush")
    # when
    response = admin_client.post(
        admin_url(DailyUsage, "add"),
        {"account": account.pk, "day": "2026-11-03", "kind": push.pk, "count": "1500", "source": "staff"},
    )
    # then
    row = DailyUsage.objects.get(account=account)
    assert response.status_code == 302
    assert (row.count, row.source, row.final) == (1500, "staff", False)
    record = AuditRecord.objects.get(object_type="usage.dailyusage", object_id=str(row.pk))
    assert (record.action, record.account_id) == ("dailyusage.add", account.pk)


def test_staff_record_a_month_of_usage_with_its_source(admin_client):
    # given
    account = AccountFactory()
    # when
    admin_client.post(
        admin_url(MonthlyUsage, "add"),
        {"account": account.pk, "month": "2026-10-01", "billed_messages": "8000", "source": "import", "final": "on"},
    )
    # then
    row = MonthlyUsage.objects.get(account=account)
    assert (row.billed_messages, row.source, row.final) == (8000, "import", True)
    assert AuditRecord.objects.filter(object_type="usage.monthlyusage", object_id=str(row.pk)).count() == 1


def test_the_channel_admin_shows_whether_it_is_connected_and_never_the_token(admin_client):
    # given
    channel = MessagingChannelFactory(token="secret-channel-token-123", bot_basic_id="@ming-cafe")
    # when
    changelist = admin_client.get(admin_url(MessagingChannel, "changelist"))
    change_page = admin_client.get(admin_url(MessagingChannel, "change", channel.pk))
    # then
    assert "Connected" in changelist.content.decode()
    for page in (changelist, change_page):
        html = page.content.decode()
        assert "secret-channel-token-123" not in html
        assert channel.token_encrypted not in html
