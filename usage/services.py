"""Everything that writes usage data: connecting and disconnecting an account's Messaging API channel."""

import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from accounts.audit import audit_record, lock_account, move_status, snapshot
from accounts.errors import ServiceError
from accounts.models import OfficialAccount
from usage.messaging_api import ChannelUnauthorized, MessagingApiClient, MessagingApiError, MessagingApiUnavailable
from usage.models import ChannelStatus, MessagingChannel
from usage.tokens import token_encrypt

# What an audit record shows of a channel: never its token, not even encrypted.
AUDITED_FIELDS = ("status", "bot_basic_id", "bot_name", "connected_at", "last_error")

# A channel access token goes in an HTTP header: visible ASCII only. LINE's are a few hundred characters.
TOKEN_SHAPE = re.compile(r"[\x21-\x7e]{1,2000}")


@sensitive_variables("token")
def messaging_channel_connect(*, account: OfficialAccount, token: str, actor) -> MessagingChannel:
    """Check `token` with LINE (the bot it belongs to must be this account), then store it encrypted and mark the
    channel connected; a token already saved is replaced. Refused with a message, saving nothing, otherwise."""
    token = token.strip()
    if not token:
        raise ServiceError(_("Enter the channel access token."), code="token_missing")
    if not TOKEN_SHAPE.fullmatch(token):
        raise ServiceError(
            _("This is not a channel access token: it is made of letters, digits and symbols, without spaces."),
            code="token_malformed",
        )
    # LINE is asked before any transaction begins: no lock is held while it answers.
    try:
        with MessagingApiClient(token) as client:
            bot = client.bot_info()
    except ChannelUnauthorized:
        raise ServiceError(
            _(
                "LINE did not accept this channel access token. Copy the long-lived token from the LINE Developers "
                "console (the channel's Messaging API tab) and try again."
            ),
            code="token_refused",
        ) from None
    except MessagingApiUnavailable:
        raise ServiceError(
            _("LINE's Messaging API did not answer, so the token could not be checked. Nothing was saved."),
            code="messaging_api_unavailable",
        ) from None
    except MessagingApiError:
        raise ServiceError(
            _("LINE refused to check this token. Nothing was saved."), code="messaging_api_refused"
        ) from None
    if account.basic_id not in {bot.basic_id, bot.premium_id}:
        raise ServiceError(
            _("This token belongs to the LINE account %(bot)s, not to %(account)s. Nothing was saved.")
            % {"bot": bot.basic_id, "account": account.basic_id},
            code="token_of_another_account",
        )
    with transaction.atomic():
        lock_account(account.pk)
        channel = MessagingChannel.objects.select_for_update().filter(account=account).first()
        before = snapshot(channel, *AUDITED_FIELDS) if channel else None
        if channel is None:
            channel = MessagingChannel(account=account)
        if channel.status != ChannelStatus.CONNECTED:
            move_status(channel, ChannelStatus.CONNECTED)
            channel.connected_at = timezone.now()
        channel.token_encrypted = token_encrypt(token)
        channel.bot_basic_id, channel.bot_name = bot.basic_id, bot.display_name[:100]
        channel.last_error = ""
        channel.save()
        audit_record(
            actor=actor,
            action="messaging_channel.connect",
            obj=channel,
            before=before,
            after=snapshot(channel, *AUDITED_FIELDS),
            account=account,
        )
    return channel


def messaging_channel_disconnect(*, account: OfficialAccount, actor, reason: str = "") -> MessagingChannel:
    """Mark the account's channel disconnected and forget its token (an admin's choice, or LINE refusing it:
    `reason`, then, says why). Reading usage stops until an admin connects the channel again."""
    with transaction.atomic():
        lock_account(account.pk)
        channel = MessagingChannel.objects.select_for_update().filter(account=account).first()
        if channel is None or channel.status != ChannelStatus.CONNECTED:
            raise ServiceError(_("No Messaging API channel is connected."), code="channel_not_connected")
        before = snapshot(channel, *AUDITED_FIELDS)
        move_status(channel, ChannelStatus.DISCONNECTED)
        channel.token_encrypted = ""
        channel.last_error = reason[:200]
        channel.save(update_fields=["status", "token_encrypted", "last_error"])
        audit_record(
            actor=actor,
            action="messaging_channel.disconnect",
            obj=channel,
            before=before,
            after=snapshot(channel, *AUDITED_FIELDS),
            account=account,
        )
    return channel
