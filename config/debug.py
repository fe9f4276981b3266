"""Error reports hide what is marked sensitive even in development.

Django's SafeExceptionReporterFilter steps aside when DEBUG is on, so the yellow DEBUG 500 page would show
a card number or CVC held by a function marked with `sensitive_variables`, or a field named by
`sensitive_post_parameters`. A developer pasting that page into a ticket should not leak a card either.
"""

from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request):
        return True
