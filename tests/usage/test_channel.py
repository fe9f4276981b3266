"""訊息用量 › 連結 Messaging API: an admin connects the account's channel with a token LINE accepts; the token is
stored encrypted, never shown, logged or audited; operators only see whether it is connected."""

import logging

import pytest
from django.apps import apps
from django.core import serializers
from django.urls import reverse

from accounts.models import AuditRecord
from tests.factories import MembershipFactory, MessagingChannelFactory
from tests.helpers import new_admin
from usage.models import MessagingChannel
from usage.services import messaging_channel_connect
from usage.tokens import token_decrypt

# These tests read the English source strings (the site in English); the last one reads zh-Hant.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "english_messages")]

TOKEN = "Zm9vYmFyLWxvbmctbGl2ZWQtY2hhbm5lbC1hY2Nlc3MtdG9rZW4+/=="


@pytest.fixture
def admin(client):
    membership = new_admin()
    client.force_login(membership.user)
    return membership


@pytest.fixture
def line(fake_messaging_api, admin):
    fake_messaging_api.channel(TOKEN, basic_id=admin.account.basic_id, display_name="小明咖啡")
    return fake_messaging_api


def channel_url(account, side="billing"):
    return reverse(f"{side}:usage_channel", args=[account.pk])


def everything_stored() -> str:
    """Every row of every model, as JSON: what a database dump would hold."""
    return "".join(serializers.serialize("json", model._default_manager.all()) for model in apps.get_models())


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def test_an_admin_connects_the_channel_with_a_token_line_accepts(client, admin, line):
    # when
    response = client.post(channel_url(admin.account), {"token": f"  {TOKEN}\n"}, follow=True)
    # then the channel is connected, with LINE's name for it, and the token can be read back for the calls
    channel = MessagingChannel.objects.get(account=admin.account)
    assert (channel.status, channel.bot_basic_id, channel.bot_name) == ("connected", admin.account.basic_id, "小明咖啡")
    assert channel.connected_at is not None
    assert token_decrypt(channel.token_encrypted) == TOKEN
    assert messages_of(response) == [f"The Messaging API channel of 小明咖啡 ({admin.account.basic_id}) is connected."]
    assert line.calls == {"bot_info": 1}
    # and audited, without the token
    record = AuditRecord.objects.get(object_type="usage.messagingchannel")
    assert (record.action, record.actor, record.account, record.before) == (
        "messaging_channel.connect",
        admin.user,
        admin.account,
        None,
    )
    assert record.after["status"] == "connected"
    assert set(record.after) == {"status", "bot_basic_id", "bot_name", "connected_at", "last_error"}


def test_the_token_is_nowhere_in_the_database_in_clear_nor_on_the_page(client, admin, line):
    # when
    client.post(channel_url(admin.account), {"token": TOKEN})
    page = client.get(channel_url(admin.account)).content.decode()
    # then
    assert MessagingChannel.objects.get(account=admin.account).token_encrypted
    assert TOKEN not in everything_stored()
    assert TOKEN not in page
    assert "Connected" in page


def test_the_token_is_in_no_log_line_even_at_debug_level(client, admin, line, caplog):
    # given every logger at DEBUG (urllib3's request lines, the SDK's response bodies, Django's requests)
    caplog.set_level(logging.DEBUG)
    # when it is connected, refused once, and the page is read
    client.post(channel_url(admin.account), {"token": TOKEN + "x"})
    client.post(channel_url(admin.account), {"token": TOKEN})
    client.get(channel_url(admin.account))
    # then
    assert "/v2/bot/info" in caplog.text  # the calls were logged, so the check is not vacuous
    assert TOKEN not in caplog.text


def test_a_token_line_refuses_is_not_saved_and_the_admin_is_told(client, admin, line):
    # given
    before = AuditRecord.objects.count()
    # when
    response = client.post(channel_url(admin.account), {"token": "a-token-line-never-issued"}, follow=True)
    # then
    assert response.status_code == 200
    assert messages_of(response) == [
        "LINE did not accept this channel access token. Copy the long-lived token from the LINE Developers "
        "console (the channel's Messaging API tab) and try again."
    ]
    assert not MessagingChannel.objects.exists()
    assert AuditRecord.objects.count() == before
    assert "a-token-line-never-issued" not in everything_stored()


def test_a_token_of_another_official_account_is_not_saved(client, admin, line):
    # given a token LINE accepts, of another LINE account
    line.channel("token-of-the-shop-next-door", basic_id="@next-door")
    # when
    response = client.post(channel_url(admin.account), {"token": "token-of-the-shop-next-door"}, follow=True)
    # then
    assert messages_of(response) == [
        f"This token belongs to the LINE account @next-door, not to {admin.account.basic_id}. Nothing was saved."
    ]
    assert not MessagingChannel.objects.exists()


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_when_line_does_not_answer_nothing_is_saved(client, admin, line, fault):
    line.fail_next(fault)
    response = client.post(channel_url(admin.account), {"token": TOKEN}, follow=True)
    assert messages_of(response) == [
        "LINE's Messaging API did not answer, so the token could not be checked. Nothing was saved."
    ]
    assert not MessagingChannel.objects.exists()


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "Enter the channel access token."),
        ("   ", "Enter the channel access token."),
        ("two words", "This is not a channel access token: it is made of letters, digits and symbols, without spaces."),
        ("令牌", "This is not a channel access token: it is made of letters, digits and symbols, without spaces."),
        ("x" * 2001, "This is not a channel access token: it is made of letters, digits and symbols, without spaces."),
    ],
    ids=["empty", "blank", "a space", "not ASCII", "too long"],
)
def test_what_cannot_be_a_token_is_refused_without_asking_line(client, admin, line, token, message):
    response = client.post(channel_url(admin.account), {"token": token}, follow=True)
    assert messages_of(response) == [message]
    assert line.requests == []
    assert not MessagingChannel.objects.exists()


def test_a_new_token_replaces_the_old_one_and_the_channel_stays_connected_since_then(client, admin, line):
    # given a connected channel
    channel = MessagingChannelFactory(account=admin.account, token="the-old-token", bot_basic_id="@old")
    connected_at = channel.connected_at
    # when
    client.post(channel_url(admin.account), {"token": TOKEN})
    # then
    channel.refresh_from_db()
    assert token_decrypt(channel.token_encrypted) == TOKEN
    assert (channel.status, channel.connected_at, channel.bot_basic_id) == (
        "connected",
        connected_at,
        admin.account.basic_id,
    )
    record = AuditRecord.objects.get(object_type="usage.messagingchannel")
    assert (record.before["bot_basic_id"], record.after["bot_basic_id"]) == ("@old", admin.account.basic_id)


def test_an_admin_disconnects_the_channel_and_its_token_is_deleted(client, admin):
    # given
    channel = MessagingChannelFactory(account=admin.account)
    # when
    response = client.post(channel_url(admin.account), {"action": "disconnect"}, follow=True)
    # then
    channel.refresh_from_db()
    assert (channel.status, channel.token_encrypted) == ("disconnected", "")
    assert messages_of(response) == ["The Messaging API channel is disconnected and its token deleted."]
    record = AuditRecord.objects.get(object_type="usage.messagingchannel")
    assert (record.action, record.before["status"], record.after["status"]) == (
        "messaging_channel.disconnect",
        "connected",
        "disconnected",
    )
    assert "Not connected" in client.get(channel_url(admin.account)).content.decode()


def test_disconnecting_a_channel_that_is_not_connected_is_refused_with_a_message(client, admin):
    response = client.post(channel_url(admin.account), {"action": "disconnect"}, follow=True)
    assert messages_of(response) == ["No Messaging API channel is connected."]
    assert not AuditRecord.objects.filter(object_type="usage.messagingchannel").exists()


def test_an_operator_sees_whether_it_is_connected_and_cannot_change_it(client, line):
    # given an operator of an account whose channel is connected
    operator = new_admin(role="operator")
    channel = MessagingChannelFactory(account=operator.account, token="the-saved-token")
    client.force_login(operator.user)
    # when
    page = client.get(channel_url(operator.account))
    posts = [
        client.post(channel_url(operator.account), {"token": TOKEN}),
        client.post(channel_url(operator.account), {"action": "disconnect"}),
    ]
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "Connected" in html
    assert 'data-testid="connect-form"' not in html
    assert [post.status_code for post in posts] == [403, 403]
    channel.refresh_from_db()
    assert (channel.status, token_decrypt(channel.token_encrypted)) == ("connected", "the-saved-token")
    assert line.requests == []


def test_another_accounts_page_is_a_404(client, admin, line):
    # given an account the admin is not a member of
    other = MembershipFactory().account
    # when
    responses = [client.get(channel_url(other)), client.post(channel_url(other), {"token": TOKEN})]
    # then
    assert [r.status_code for r in responses] == [404, 404]
    assert not MessagingChannel.objects.exists()


def test_the_webstore_has_the_page_too_and_keeps_the_admin_there(client, admin, line):
    response = client.post(channel_url(admin.account, "webstore"), {"token": TOKEN})
    assert response["Location"] == channel_url(admin.account, "webstore")
    assert client.get(response["Location"]).status_code == 200
    assert MessagingChannel.objects.get(account=admin.account).status == "connected"


def test_the_service_refuses_without_a_request_too(admin, line):
    # the same rule for a caller other than the page (a command, the shell)
    with pytest.raises(Exception) as refused:
        messaging_channel_connect(account=admin.account, token="wrong", actor=None)
    assert refused.value.code == "token_refused"
    assert not MessagingChannel.objects.exists()


def test_an_admin_reading_traditional_chinese_is_told_in_it(client, admin, line, settings):
    # given the site's default language
    settings.LANGUAGE_CODE = "zh-hant"
    # when
    refused = client.post(channel_url(admin.account), {"token": "a-token-line-never-issued"}, follow=True)
    connected = client.post(channel_url(admin.account), {"token": TOKEN}, follow=True)
    # then
    assert messages_of(refused) == [
        "LINE 不接受此頻道存取權杖。請自 LINE Developers 主控台（頻道的「Messaging API」分頁）複製長期權杖後再試一次。"
    ]
    assert messages_of(connected) == [f"已連結 小明咖啡（{admin.account.basic_id}）的 Messaging API 頻道。"]
    assert "已連結" in connected.content.decode()
