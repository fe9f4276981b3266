"""Links that leave the site: an e-mail has no request, so its links are SITE_URL plus the page's path."""

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.simple_tag
def site_url(view_name: str, *args) -> str:
    """The absolute address of a page, e.g. {% site_url "invoices:proof" invoice.pk %}."""
    return absolute(reverse(view_name, args=args))


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"
