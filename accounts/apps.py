from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Official accounts")

    def ready(self):
        # The admin's autodiscovery ran first (django.contrib.admin comes first in INSTALLED_APPS), so every app's
        # admin is registered now: those not built on CheckedModelAdmin (Django's, allauth's, axes') get its checks.
        from django.contrib import admin

        from accounts.admin import check_registered_admins

        check_registered_admins(admin.site)
