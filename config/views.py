"""Project-wide views that belong to no app."""

from django.http import HttpResponse, HttpResponsePermanentRedirect
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
