"""HTTP pieces every app's pages share: the side a page is on (desktop or webstore), safe returns, the client's
address, rendering an account's page, reporting a refusal, and the opener policy of LINE Pay's pop-up."""

from datetime import UTC
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import Role


def url(request, name: str, *args) -> str:
    """A URL on the same side (desktop manager or webstore) as the current page."""
    namespace = request.resolver_match.namespace if request.resolver_match else "billing"
    return reverse(f"{namespace}:{name}", args=args)


def go(request, name: str, *args):
    return redirect(url(request, name, *args))


def next_url(request, default: str) -> str:
    """Where to return after a step of the checkout (`next`), if it is one of ours."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return default


def client_address(request) -> str:
    """The client, for rate limits. Behind our TLS proxy, the last X-Forwarded-For hop is what it saw."""
    behind_proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None) is not None  # BEHIND_TLS_PROXY=true
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "") if behind_proxy else ""
    # the proxy appends the address it saw; anything before it was written by the client
    return (forwarded.split(",")[-1].strip() or request.META.get("REMOTE_ADDR", ""))[:45]


def page(request, account, template: str, **context):
    context.update(account=account, is_admin=request.membership.role == Role.ADMIN, membership=request.membership)
    return render(request, template, context)


def report(request, error) -> None:
    """Show a refusal (a ServiceError or a GatewayError: anything with a `message` in the user's language)."""
    messages.error(request, error.message)


def opener_policy(value: str):
    """Cross-Origin-Opener-Policy for one view (SecurityMiddleware's site-wide "same-origin" stays the default).

    The desktop's LINE Pay pop-up goes to LINE Pay's origin and back to our confirm URL; under "same-origin"
    that crossing cuts `window.opener`, so the pop-up could neither tell its opener nor close itself. The page
    that opens it keeps its pop-ups ("same-origin-allow-popups"), and the pop-up's own pages opt out ("unsafe-none").
    """

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response["Cross-Origin-Opener-Policy"] = value
            return response

        return wrapped

    return decorate


def moment_or_none(text: str):
    """An ISO datetime from a query string, aware, or None when it is no datetime the database can compare:
    malformed, or out of range once in UTC (0001-01-01T00:00:00+14:00 falls before year 1)."""
    try:
        moment = parse_datetime(text)
        if moment is None:
            return None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
