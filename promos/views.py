"""The 優惠活動代碼 page: the code registered for the next renewal (情境四), and the codes used."""

from django.contrib import messages
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.errors import ServiceError
from accounts.http import client_address, go, page, report
from accounts.models import Role
from accounts.permissions import account_admin_required, account_member_required
from promos.models import Redemption
from promos.selectors import registered_code
from promos.services import promo_code_register, promo_code_unregister


@account_member_required
def promo_code(request, account):
    if request.method == "POST":
        if request.membership.role != Role.ADMIN:
            return HttpResponse(status=403)
        try:
            code = promo_code_register(
                account=account, text=request.POST.get("code", ""), actor=request.user, client=client_address(request)
            )
            messages.success(
                request,
                _("Code %(code)s is registered and will be applied at the next renewal.") % {"code": code.display_code},
            )
        except ServiceError as error:
            report(request, error)
        return go(request, "promo_code", account.pk)
    redemptions = Redemption.objects.filter(account=account).select_related("code", "charge").order_by("-redeemed_at")
    return page(
        request, account, "promos/promo_code.html", registered=registered_code(account), redemptions=redemptions
    )


@require_POST
@account_admin_required
def promo_code_remove(request, account):
    try:
        promo_code_unregister(account=account, actor=request.user)
        messages.success(request, _("The code was removed and can be used again."))
    except ServiceError as error:
        report(request, error)
    return go(request, "promo_code", account.pk)
