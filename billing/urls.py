"""The admins' pages. Mounted twice (config/urls.py): as the desktop manager under the instance namespace
`billing`, and as the mobile webstore under `webstore`; `reverse(..., current_app=...)` and the {% url %}
tag keep a visitor on the side they came in by. Each page lives in the app whose services it calls (the
e-invoice page in invoices, the promo-code page in promos, the Messaging API channel's page in usage); they
are mounted here, beside the others."""

from django.urls import include, path

from billing import checkout_views, estimate_page, usage_page, views
from invoices import views as invoice_views
from promos import views as promo_views
from usage import views as usage_views

app_name = "billing"

account_patterns = [
    path("", views.account_home, name="account_home"),
    path("plans/", views.plans, name="plans"),
    path("plans/cap/", views.extra_message_cap, name="extra_message_cap"),
    path("plans/pay-now/", views.pay_now, name="pay_now"),
    path("plans/<str:code>/upgrade/", checkout_views.upgrade_start, name="upgrade_start"),
    path("plans/<str:code>/downgrade/", views.downgrade, name="downgrade"),
    path("plans/downgrade/cancel/", views.downgrade_cancel, name="downgrade_cancel"),
    path("payment-methods/", views.payment_methods, name="payment_methods"),
    path("payment-methods/add/", views.payment_method_add, name="payment_method_add"),
    path("payment-methods/add/card/", views.card_add, name="card_add"),
    path("payment-methods/add/linepay/", views.linepay_start, name="linepay_start"),
    path("payment-methods/linepay/status/", views.linepay_status, name="linepay_status"),
    path("payment-methods/linepay/<str:order_id>/confirm/", views.linepay_confirm, name="linepay_confirm"),
    path("payment-methods/linepay/<str:order_id>/cancel/", views.linepay_cancel, name="linepay_cancel"),
    path("payment-methods/<int:method_id>/main/", views.method_make_main, name="method_make_main"),
    path("payment-methods/<int:method_id>/remove/", views.method_remove, name="method_remove"),
    path("einvoice/", invoice_views.einvoice, name="einvoice"),
    path("promo-code/", promo_views.promo_code, name="promo_code"),
    path("promo-code/remove/", promo_views.promo_code_remove, name="promo_code_remove"),
    path("payments/", views.payment_records, name="payment_records"),
    path("usage/", usage_page.usage, name="usage"),
    path("usage/estimate/", estimate_page.estimate_view, name="usage_estimate"),
    path("usage/channel/", usage_views.usage_channel, name="usage_channel"),
    path("webstore-qr.svg", views.webstore_qr, name="webstore_qr"),
]

checkout_patterns = [
    path("", checkout_views.checkout, name="checkout"),
    path("code/", checkout_views.checkout_code, name="checkout_code"),
    path("purchase/", checkout_views.checkout_purchase_view, name="checkout_purchase"),
    path("receipt/", checkout_views.checkout_receipt, name="checkout_receipt"),
]

urlpatterns = [
    path("", views.account_list, name="account_list"),
    path("terms/", views.terms, name="terms"),
    path("accounts/<int:account_id>/", include(account_patterns)),
    path("checkout/<str:token>/", include(checkout_patterns)),
]
