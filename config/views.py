"""Project-wide views that belong to no app."""

from django.http import HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe
def healthz(request):
    """Liveness for a load balancer or an uptime check: the process answers. Touches no database."""
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def moved_admin_page(request, app, model, rest):
    """A staff bookmark to an admin page of a model that moved to another app: the same page there."""
    query = request.META.get("QUERY_STRING", "")
    return HttpResponsePermanentRedirect(f"/admin/{app}/{model}/{rest}" + (f"?{query}" if query else ""))


@require_safe
def favicon(request):
    """/favicon.ico, which browsers ask for on every page (the admin's and the sandbox's too): our icon, as the
    pages' <link rel="icon"> names it. A temporary redirect: the static file's name carries its hash, which
    changes with the icon."""
    return HttpResponseRedirect(static("billing/favicon.svg"))
