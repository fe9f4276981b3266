"""Floor 1: official accounts, their members and roles, the audit trail, and people's preferences.

The tables keep the names they had under `billing` (moved without moving data).
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Region(models.TextChoices):
    TAIWAN = "TW", _("Taiwan")
    JAPAN = "JP", _("Japan")
    THAILAND = "TH", _("Thailand")


basic_id_validator = RegexValidator(
    r"\A@[0-9a-z][0-9a-z._-]{2,19}\Z",
    _("A basic ID starts with @ followed by 3 to 20 lower-case letters, digits, dots, dashes or underscores."),
)


class OfficialAccount(models.Model):
    name = models.CharField(_("name"), max_length=100)
    basic_id = models.CharField(
        _("basic ID"), max_length=21, unique=True, validators=[basic_id_validator], help_text=_("For example @123abcde")
    )
    region = models.CharField(_("region"), max_length=2, choices=Region.choices, default=Region.TAIWAN)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        db_table = "billing_officialaccount"
        verbose_name = _("official account")
        verbose_name_plural = _("official accounts")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.basic_id})"


class BilingualName:
    """For a model with `name_zh_hant` and `name_en`: the name in the language of the page or e-mail."""

    @property
    def display_name(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh_hant


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    OPERATOR = "operator", _("Operator")


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    account = models.ForeignKey(
        OfficialAccount, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("official account")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.OPERATOR)

    class Meta:
        db_table = "billing_membership"
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="membership_unique_user_account")]

    def __str__(self):
        return f"{self.user} @ {self.account.basic_id}: {self.get_role_display()}"


class AuditRecord(models.Model):
    """Who changed which money or billing state, when, from what to what. Written by services only."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
        help_text=_("Empty when a scheduled command acted."),
    )
    account = models.ForeignKey(
        OfficialAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_records",
        verbose_name=_("official account"),
    )
    object_type = models.CharField(_("object type"), max_length=50)
    object_id = models.CharField(_("object ID"), max_length=40)
    object_repr = models.CharField(_("object"), max_length=200)
    action = models.CharField(_("action"), max_length=50)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now, editable=False, db_index=True)

    class Meta:
        db_table = "billing_auditrecord"
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"


class UserPreference(models.Model):
    """What a person chose for themselves: the language of their pages and of the e-mails we send them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference", verbose_name=_("user")
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hant")

    class Meta:
        db_table = "billing_userpreference"
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self):
        return f"{self.user}: {self.language}"
