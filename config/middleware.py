"""Requests no database column can hold are refused at the door, before any view or query sees them.

PostgreSQL's text columns cannot hold a NUL character (the driver raises DataError), and no UTF-8
column can hold a lone surrogate. Rather than teach every view, form and lookup to catch that, one
middleware answers 400 to any request whose path, query string, form fields (not uploaded files'
bodies) or cookies carry such a character. Nothing is read or written before the refusal.
"""

import re

from django.http import HttpResponseBadRequest
from django.utils import translation
from django.utils.translation import gettext

# NUL, and the UTF-16 surrogates (which have no UTF-8 encoding).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def holds_unstorable(text: str) -> bool:
    return UNSTORABLE.search(text) is not None


def _fields_hold_unstorable(fields) -> bool:
    """Any key or any of its values, in a QueryDict (every value of a repeated key) or a plain dict."""
    values = fields.lists() if hasattr(fields, "lists") else ((key, [value]) for key, value in fields.items())
    return any(holds_unstorable(key) or any(map(holds_unstorable, texts)) for key, texts in values)


def request_holds_unstorable(request) -> bool:
    if holds_unstorable(request.path) or _fields_hold_unstorable(request.GET):
        return True
    if _fields_hold_unstorable(request.COOKIES):  # a session key or CSRF token is looked up too
        return True
    # request.POST holds form fields only: an upload's body is in request.FILES and is not a column's text.
    return request.method == "POST" and _fields_hold_unstorable(request.POST)


class RefuseUnstorableInputMiddleware:
    """400 for a request carrying characters no column can store (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request_holds_unstorable(request):
            return self.refusal(request)
        return self.get_response(request)

    @staticmethod
    def refusal(request) -> HttpResponseBadRequest:
        # LocaleMiddleware has not run yet: answer in the language it would choose.
        with translation.override(translation.get_language_from_request(request)):
            text = gettext("The request contains characters that cannot be accepted (such as a NUL byte).")
        return HttpResponseBadRequest(text, content_type="text/plain; charset=utf-8")
