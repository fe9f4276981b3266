"""Who may see and who may spend an official account's money: one check for every interface.

A user who is not a member of an account gets a 404, never a hint that it exists (SPEC §1);
a member who is only an operator gets a 403 on anything that spends money or edits billing data.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.keys import storable_key
from accounts.models import Membership, OfficialAccount, Role


def account_membership(*, user, account_id, admin: bool = False) -> Membership:
    """The user's membership of the account, account loaded: 404 for a stranger, 403 for a non-admin if `admin`."""
    if not user.is_authenticated or not storable_key(OfficialAccount._meta.pk, account_id):
        raise Http404
    try:
        membership = Membership.objects.select_related("account").get(user=user, account_id=int(account_id))
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if admin and membership.role != Role.ADMIN:
        raise PermissionDenied(_("Only the account's admins may do this."))
    return membership


def account_for_member(*, user, account_id) -> OfficialAccount:
    return account_membership(user=user, account_id=account_id).account


def account_for_admin(*, user, account_id) -> OfficialAccount:
    return account_membership(user=user, account_id=account_id, admin=True).account


def _account_view(*, admin: bool):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, account_id, *args, **kwargs):
            request.membership = account_membership(user=request.user, account_id=account_id, admin=admin)
            return view(request, request.membership.account, *args, **kwargs)

        return wrapper

    return decorator


# View decorators: the view receives the account in place of the URL's account_id.
account_member_required = _account_view(admin=False)
account_admin_required = _account_view(admin=True)
