"""「以LINE登入」: django-allauth's LINE provider, beside (not instead of) Django's own log-in at /login/.

Only LINE creates users: allauth's e-mail/password sign-up stays closed. A user LINE creates sees no
official account until staff add a Membership for them (the account chooser is empty until then).
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.http import Http404


def line_login_configured() -> bool:
    """True when the LINE Login channel is configured (settings.SOCIALACCOUNT_PROVIDERS["line"]["APP"])."""
    app = getattr(settings, "SOCIALACCOUNT_PROVIDERS", {}).get("line", {}).get("APP") or {}
    return bool(app.get("client_id") and app.get("secret"))


def line_login(request):
    """Context processor: whether the log-in page shows the 「以LINE登入」 button."""
    return {"line_login_enabled": line_login_configured()}


def user_display(user) -> str:
    """How allauth names a user (its "signed in as …" message): a LINE display name, not a LINE user id."""
    return user.get_full_name() or user.get_username()


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        """No sign-up with an e-mail address and a password: staff create local users in the admin."""
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        """A first log-in with LINE creates the user (with no access until staff add a Membership)."""
        return True

    def get_provider(self, request, provider, client_id=None):
        """A provider without credentials is a 404, not a server error (allauth raises DoesNotExist)."""
        try:
            return super().get_provider(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise Http404("This log-in provider is not configured.") from None

    def populate_user(self, request, sociallogin, data):
        """LINE gives no e-mail or name fields; keep its display name (顯示名稱) as the first name."""
        user = super().populate_user(request, sociallogin, data)
        profile = sociallogin.account.extra_data or {}
        display_name = profile.get("displayName") or profile.get("name") or ""
        if not user.first_name and display_name:
            user.first_name = display_name[: user._meta.get_field("first_name").max_length]
        return user
