"""Security headers on every page, and the page of a locked-out log-in.

Headers on every page: the Content-Security-Policy (django-csp), no-store, Permissions-Policy.

The policy itself is CONTENT_SECURITY_POLICY in config/settings.py; this module adds what depends on the page:
- frame-ancestors follows X-Frame-Options: 'none' everywhere (X_FRAME_OPTIONS is DENY) except where a view
  allows same-origin framing (the sandbox's hosted card fields), where it is 'self';
- the card page may load TapPay's TPDirect SDK and its fields when cards go to TapPay.
"""

from axes.helpers import get_cool_off
from csp.constants import NONE, SELF
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from payments.gateways import gateway_name_for

# Nothing here uses the camera, the microphone, the location or the Payment Request API (cards are typed
# into the gateway's fields; LINE Pay opens its own page), so no page, nor any frame in it, may ask.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "usb",
        "xr-spatial-tracking",
    )
)
TAPPAY_SDK_HOST = "https://js.tappaysdk.com"


def tappay_hosts() -> list[str]:
    """Where TPDirect loads from and talks to: its SDK host and the API host of the configured environment."""
    api_host = "https://sandbox.tappaysdk.com" if settings.TAPPAY_SANDBOX else "https://prod.tappaysdk.com"
    return [TAPPAY_SDK_HOST, api_host]


def is_card_page(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == "card_add"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the two per-page changes above."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request=request, response=response, report_only=report_only)
        framed = response.get("X-Frame-Options", "").upper() == "SAMEORIGIN"
        parts.replace = {**(parts.replace or {}), "frame-ancestors": [SELF] if framed else [NONE]}
        if is_card_page(request) and gateway_name_for("card") == "tappay":
            hosts = tappay_hosts()
            parts.update = {**(parts.update or {}), "script-src": hosts, "frame-src": hosts, "connect-src": hosts}
        return parts


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response; and a signed-in page is never stored by a browser or a proxy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' answer (AXES_LOCKOUT_CALLABLE) to a log-in from a locked-out username or client: 429."""
    minutes = round(get_cool_off(request).total_seconds() / 60)
    return render(request, "registration/locked_out.html", {"cooloff_minutes": minutes}, status=429)
