from urllib.parse import urlsplit

from django.urls import reverse


def channel(request):
    """Which face of the product a page belongs to: the desktop manager or the mobile webstore.

    A page of the webstore's own is the webstore; so is a page outside both (the log-in page, 以LINE登入's) that a
    webstore page sent the visitor to, with its `next` on the webstore: a phone keeps the phone's layout."""
    match = getattr(request, "resolver_match", None)
    webstore = match is not None and match.namespace == "webstore"
    if match is not None and match.namespace not in ("webstore", "billing"):
        webstore = leads_to_webstore(request)
    return {
        "channel": "webstore" if webstore else "desktop",
        "base_template": "webstore/base.html" if webstore else "billing/base.html",
    }


def leads_to_webstore(request) -> bool:
    """Whether the page's `next` (query or form) is a page of this site's webstore."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return False
    own_site = not parts.netloc or parts.netloc == request.get_host()
    return own_site and parts.path.startswith(reverse("webstore:account_list"))
