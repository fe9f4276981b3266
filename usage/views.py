"""訊息用量 › 連結 Messaging API: whether the account's channel is connected (members), connecting it (admins)."""

from django.contrib import messages
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.errors import ServiceError
from accounts.http import go, page, report
from accounts.models import Role
from accounts.permissions import account_member_required
from usage.models import MessagingChannel
from usage.services import messaging_channel_connect, messaging_channel_disconnect


@sensitive_post_parameters("token")
@require_http_methods(["GET", "HEAD", "POST"])
@account_member_required
def usage_channel(request, account):
    if request.method == "POST":
        if request.membership.role != Role.ADMIN:
            return HttpResponse(status=403)
        try:
            if request.POST.get("action") == "disconnect":
                messaging_channel_disconnect(account=account, actor=request.user)
                messages.success(request, _("The Messaging API channel is disconnected and its token deleted."))
            else:
                channel = messaging_channel_connect(
                    account=account, token=request.POST.get("token", ""), actor=request.user
                )
                messages.success(
                    request,
                    _("The Messaging API channel of %(name)s (%(basic_id)s) is connected.")
                    % {"name": channel.bot_name, "basic_id": channel.bot_basic_id},
                )
        except ServiceError as error:
            report(request, error)
        return go(request, "usage_channel", account.pk)
    channel = MessagingChannel.objects.filter(account=account).first()
    return page(request, account, "usage/channel.html", channel=channel)
