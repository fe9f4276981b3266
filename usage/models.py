"""Messages an account sends: monthly and daily counts, which kinds LINE bills, and the account's Messaging API
channel that reports them (SPEC §7)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import OfficialAccount


class MonthlyUsage(models.Model):
    """Billed messages (broadcast, step, push…; never reply) an account sent in one month."""

    account = models.ForeignKey(
        OfficialAccount, on_delete=models.PROTECT, related_name="usage", verbose_name=_("official account")
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    billed_messages = models.PositiveIntegerField(_("billed messages"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "billing_monthlyusage"  # moved from billing with its table
        verbose_name = _("monthly usage")
        verbose_name_plural = _("monthly usage")
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="usage_unique_account_month")]

    def __str__(self):
        return f"{self.account.basic_id} {self.month:%Y-%m}: {self.billed_messages:,}"
