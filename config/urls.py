from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from accounts.views import language_switch
from config.views import favicon, healthz, moved_admin_page

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/setlang/", language_switch, name="set_language"),
    # The official accounts, their members, the audit trail and preferences moved from billing to accounts.
    re_path(
        r"^admin/billing/(?P<model>officialaccount|membership|auditrecord|userpreference)/(?P<rest>.*)$",
        moved_admin_page,
        {"app": "accounts"},
    ),
    # Monthly usage moved from billing to usage.
    re_path(r"^admin/billing/(?P<model>monthlyusage)/(?P<rest>.*)$", moved_admin_page, {"app": "usage"}),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("auth/", include("allauth.urls")),  # django-allauth, 以LINE登入 (/accounts/ is the billing pages)
    path("webstore/", include("billing.urls", namespace="webstore")),
    path("invoices/", include("invoices.urls")),
    path("", include("billing.urls", namespace="billing")),
]

# The sandbox gateway's own pages (hosted card fields, LINE Pay approval) exist only while it is the gateway:
# with LINE Pay or TapPay on, /sandbox/ is a 404, so nobody can add a card that no real gateway knows.
if settings.PAYMENTS_GATEWAY == "sandbox":
    urlpatterns.insert(-1, path("sandbox/", include("payments.sandbox_urls")))
