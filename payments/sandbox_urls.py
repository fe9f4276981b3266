"""The sandbox gateway's own pages, mounted under /sandbox/ (see payments/sandbox_views.py)."""

from django.urls import path, re_path

from payments import sandbox_views

app_name = "sandbox"

urlpatterns = [
    path("card-fields/", sandbox_views.card_fields, name="card_fields"),
    # LINE Pay's transactionId is a 19-digit number; anything else is no transaction of ours.
    re_path(
        r"^linepay/payments/(?P<transaction_id>[0-9]{19})/$", sandbox_views.linepay_approval, name="linepay_approval"
    ),
]
