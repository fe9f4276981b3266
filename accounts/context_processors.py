def channel(request):
    """Which face of the product a page belongs to: the desktop manager or the mobile webstore."""
    match = getattr(request, "resolver_match", None)
    webstore = match is not None and match.namespace == "webstore"
    return {
        "channel": "webstore" if webstore else "desktop",
        "base_template": "webstore/base.html" if webstore else "billing/base.html",
    }
