"""Messages an account sends: monthly and daily counts, which kinds LINE bills, and the account's Messaging API
channel that reports them (SPEC §7)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import BilingualName, OfficialAccount


class UsageSource(models.TextChoices):
    API = "api", _("Messaging API")
    STAFF = "staff", _("Recorded by staff")
    IMPORT = "import", _("Imported")


class MonthlyUsage(models.Model):
    """Billed messages (broadcast, step, push…; never reply) an account sent in one month.

    `final` says the figure will not change any more: LINE counts a month's last hour (from 22:59 UTC+8 on its
    last day) in the next month, so the figure read during the month is not yet the one LINE bills."""

    account = models.ForeignKey(
        OfficialAccount, on_delete=models.PROTECT, related_name="usage", verbose_name=_("official account")
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    billed_messages = models.PositiveIntegerField(_("billed messages"), default=0)
    source = models.CharField(_("source"), max_length=10, choices=UsageSource.choices, default=UsageSource.STAFF)
    final = models.BooleanField(
        _("final"), default=False, help_text=_("The month is over and LINE will not count more messages in it.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "billing_monthlyusage"  # moved from billing with its table
        verbose_name = _("monthly usage")
        verbose_name_plural = _("monthly usage")
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="usage_unique_account_month")]

    def __str__(self):
        return f"{self.account.basic_id} {self.month:%Y-%m}: {self.billed_messages:,}"


class MessageKind(BilingualName, models.Model):
    """A kind of message as LINE's delivery statistics name it (`apiPush`, `apiReply`, ...), and whether LINE
    bills it. Which kinds are billed is data that staff can correct (SPEC §7), not a rule in code."""

    code = models.CharField(_("code"), max_length=30, unique=True, help_text=_("As LINE's delivery API names it."))
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50)
    billed = models.BooleanField(_("billed"), help_text=_("Counted against the quota and billed as an extra message."))

    class Meta:
        verbose_name = _("message kind")
        verbose_name_plural = _("message kinds")
        ordering = ["-billed", "code"]

    def __str__(self):
        return self.display_name


class DailyUsage(models.Model):
    """Messages of one kind an account sent on one day (LINE's day, UTC+9). `final`: LINE said the day is `ready`."""

    account = models.ForeignKey(
        OfficialAccount, on_delete=models.PROTECT, related_name="daily_usage", verbose_name=_("official account")
    )
    day = models.DateField(_("day"))
    kind = models.ForeignKey(MessageKind, on_delete=models.PROTECT, related_name="+", verbose_name=_("kind"))
    count = models.PositiveIntegerField(_("messages"), default=0)
    source = models.CharField(_("source"), max_length=10, choices=UsageSource.choices, default=UsageSource.STAFF)
    final = models.BooleanField(_("final"), default=False, help_text=_("LINE has finished counting this day."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        ordering = ["-day", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["account", "day", "kind"], name="daily_usage_unique_account_day_kind")
        ]

    def __str__(self):
        return f"{self.account.basic_id} {self.day:%Y-%m-%d} {self.kind.code}: {self.count:,}"


class ChannelStatus(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    DISCONNECTED = "disconnected", _("Disconnected")


class MessagingChannel(models.Model):
    """The account's Messaging API channel: its access token, encrypted (usage/tokens.py), and how reading
    from it went. The token is never shown again: not on a page, not in the admin, not in an audit record."""

    TRANSITIONS = {
        ChannelStatus.DISCONNECTED: {ChannelStatus.CONNECTED},
        ChannelStatus.CONNECTED: {ChannelStatus.DISCONNECTED},
    }

    account = models.OneToOneField(
        OfficialAccount, on_delete=models.PROTECT, related_name="messaging_channel", verbose_name=_("official account")
    )
    token_encrypted = models.TextField(_("access token (encrypted)"), editable=False)
    status = models.CharField(
        _("status"), max_length=20, choices=ChannelStatus.choices, default=ChannelStatus.DISCONNECTED
    )
    bot_basic_id = models.CharField(_("LINE basic ID"), max_length=25, blank=True)
    bot_name = models.CharField(_("LINE display name"), max_length=100, blank=True)
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True)
    last_synced_at = models.DateTimeField(_("last synced at"), null=True, blank=True)
    sync_claimed_until = models.DateTimeField(
        _("being synced until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("A sync run holds the channel until then, so several hosts never read it twice at once."),
    )
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("Messaging API channel")
        verbose_name_plural = _("Messaging API channels")
        ordering = ["account_id"]

    def __str__(self):
        return f"{self.account.basic_id}: {self.get_status_display()}"

    def __repr__(self):
        # never the token, even encrypted, in a traceback or a log line
        return f"<MessagingChannel #{self.pk} {self.account_id} {self.status}>"
