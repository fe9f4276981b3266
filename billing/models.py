"""Plans and prices, subscriptions, checkouts and renewals: what billing orchestrates (usage is its own app)."""

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import BilingualName, OfficialAccount


class PlanCode(models.TextChoices):
    LIGHT = "light", _("Light")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class Plan(BilingualName, models.Model):
    """A plan's terms. Its monthly fee lives in PlanPrice so that a change applies from a period on."""

    code = models.CharField(_("code"), max_length=10, choices=PlanCode.choices, unique=True)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50)
    rank = models.PositiveSmallIntegerField(
        _("rank"), unique=True, help_text=_("Higher rank is a bigger plan: moving up is an upgrade.")
    )
    free_message_quota = models.PositiveIntegerField(_("free messages per month"))
    extra_messages_allowed = models.BooleanField(_("extra messages allowed"), default=False)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["rank"]

    def __str__(self):
        return self.display_name


class PlanPrice(models.Model):
    """A plan's prices from a billing period on: the monthly fee before tax and the extra-message tiers.

    SPEC §2: a price change applies from the next billing period, so a change is a new row for a
    later month, never an edit of one in force.
    """

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices", verbose_name=_("plan"))
    effective_from = models.DateField(_("effective from"), help_text=_("The first day of a month."))
    monthly_fee_twd = models.PositiveIntegerField(_("monthly fee (NT$, before tax)"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("plan price")
        verbose_name_plural = _("plan prices")
        ordering = ["plan__rank", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "effective_from"], name="plan_price_unique_per_period"),
        ]

    def __str__(self):
        return f"NT${self.monthly_fee_twd:,} from {self.effective_from:%Y-%m}"


class ExtraMessageTier(models.Model):
    """Under a price: from the n-th message of a month on, each extra message costs unit_price_twd (before tax)."""

    price = models.ForeignKey(PlanPrice, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("price"))
    from_message = models.PositiveIntegerField(_("from the n-th message"))
    unit_price_twd = models.DecimalField(_("unit price (NT$)"), max_digits=6, decimal_places=3)

    class Meta:
        verbose_name = _("extra-message tier")
        verbose_name_plural = _("extra-message tiers")
        ordering = ["price", "from_message"]
        constraints = [
            models.UniqueConstraint(fields=["price", "from_message"], name="tier_unique_start"),
            models.CheckConstraint(condition=Q(unit_price_twd__gte=0), name="tier_price_not_negative"),
        ]

    def __str__(self):
        return f"#{self.from_message:,}+ NT${self.unit_price_twd}"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Past due")


class Subscription(models.Model):
    """One per account: the plan in force for the current calendar month (Asia/Taipei)."""

    # A failed renewal makes it past due; the next period's start (renewed, or downgraded by dunning) active again.
    TRANSITIONS = {
        SubscriptionStatus.ACTIVE: {SubscriptionStatus.PAST_DUE},
        SubscriptionStatus.PAST_DUE: {SubscriptionStatus.ACTIVE},
    }

    account = models.OneToOneField(
        OfficialAccount, on_delete=models.PROTECT, related_name="subscription", verbose_name=_("official account")
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+", verbose_name=_("plan"))
    period_start = models.DateField(_("current period"), help_text=_("The first day of the month being served."))
    scheduled_plan = models.ForeignKey(
        Plan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("scheduled downgrade to"),
        help_text=_("Takes effect on the first day of the next period."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    extra_message_cap = models.PositiveIntegerField(
        _("extra-message cap"), null=True, blank=True, help_text=_("High plan only: most extra messages a month.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.CheckConstraint(condition=~Q(scheduled_plan=models.F("plan")), name="scheduled_plan_differs"),
        ]

    def __str__(self):
        return f"{self.account.basic_id}: {self.plan.code} {self.period_start:%Y-%m}"

    @property
    def period_end(self) -> date:
        """The first day after the current period."""
        from accounts.periods import next_month_start

        return next_month_start(self.period_start)


class PlanChangeKind(models.TextChoices):
    STARTED = "started", _("Started")
    UPGRADE = "upgrade", _("Upgrade")
    DOWNGRADE_SCHEDULED = "downgrade_scheduled", _("Downgrade scheduled")
    DOWNGRADE_CANCELLED = "downgrade_cancelled", _("Scheduled downgrade cancelled")
    DOWNGRADE_APPLIED = "downgrade_applied", _("Downgrade applied")
    DUNNING_DOWNGRADE = "dunning_downgrade", _("Downgraded after failed renewals")


class PlanChange(models.Model):
    """The history of an account's plan: one row per change, never edited."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="changes", verbose_name=_("subscription")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=PlanChangeKind.choices)
    from_plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("from plan")
    )
    to_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+", verbose_name=_("to plan"))
    effective_on = models.DateField(_("effective on"))
    charge = models.ForeignKey(
        "payments.Charge", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("charge")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("plan change")
        verbose_name_plural = _("plan changes")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.subscription.account.basic_id}: {self.get_kind_display()} → {self.to_plan.code}"


def new_checkout_token() -> str:
    import secrets

    return secrets.token_urlsafe(24)


class CheckoutStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PROCESSING = "processing", _("Payment in progress")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")


class Channel(models.TextChoices):
    DESKTOP = "desktop", _("Desktop manager")
    WEBSTORE = "webstore", _("Mobile webstore")


class Checkout(models.Model):
    """One upgrade attempt, persisted, so a reload, a second tab or a trip to LINE Pay resumes it.

    `attempt` moves on after a declined payment: each attempt has its own idempotency key, so a
    double submit charges once and a retry after a decline can charge again.
    """

    # Paying records the charge (processing); the gateway's answer makes it paid, or open again after a
    # decline. Nothing cancels a checkout yet: `cancelled` is a state no move leads to.
    TRANSITIONS = {
        CheckoutStatus.OPEN: {CheckoutStatus.PROCESSING},
        CheckoutStatus.PROCESSING: {CheckoutStatus.PAID, CheckoutStatus.OPEN},
        CheckoutStatus.PAID: set(),
        CheckoutStatus.CANCELLED: set(),
    }

    token = models.CharField(_("token"), max_length=40, unique=True, default=new_checkout_token, editable=False)
    account = models.ForeignKey(
        OfficialAccount, on_delete=models.PROTECT, related_name="checkouts", verbose_name=_("official account")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("admin")
    )
    target_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+", verbose_name=_("new plan"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.DESKTOP)
    code = models.CharField(_("promo code"), max_length=32, blank=True, help_text=_("Normalised."))
    status = models.CharField(_("status"), max_length=10, choices=CheckoutStatus.choices, default=CheckoutStatus.OPEN)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    charge = models.ForeignKey(
        "payments.Charge", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("charge")
    )
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("checkout")
        verbose_name_plural = _("checkouts")
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} → {self.target_plan_id} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        return f"checkout:{self.token}:{self.attempt}"


class RenewalRunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    FAILED = "failed", _("Finished with failures")


class RenewalRun(models.Model):
    """One run of renew_subscriptions (or retry_failed_charges): who ran it, as of when, and its totals."""

    TRANSITIONS = {
        RenewalRunStatus.RUNNING: {RenewalRunStatus.FINISHED, RenewalRunStatus.FAILED},
        RenewalRunStatus.FINISHED: set(),
        RenewalRunStatus.FAILED: set(),
    }

    command = models.CharField(_("command"), max_length=40)
    as_of = models.DateTimeField(_("as of"))
    dry_run = models.BooleanField(_("dry run"), default=False)
    host = models.CharField(_("host"), max_length=100)
    pid = models.PositiveIntegerField(_("process ID"))
    status = models.CharField(
        _("status"), max_length=10, choices=RenewalRunStatus.choices, default=RenewalRunStatus.RUNNING
    )
    totals = models.JSONField(_("totals"), default=dict)
    started_at = models.DateTimeField(_("started at"), default=timezone.now, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("renewal run")
        verbose_name_plural = _("renewal runs")
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.command} {self.as_of:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class RenewalStatus(models.TextChoices):
    CHARGING = "charging", _("Charging")
    RENEWED = "renewed", _("Renewed")
    FAILED = "failed", _("Failed, to be retried")
    DOWNGRADED = "downgraded", _("Downgraded after the last retry")


class Renewal(models.Model):
    """A subscription's move into a new period: exactly one per subscription and period (the database says so).

    `charging` is the in-progress state a crash can leave behind: the next run reads the charge back from
    the gateway by its order ID instead of charging again.
    """

    # A renewal is recorded charging (a free one is renewed before it is inserted). A decline with a retry
    # day left fails it, to be charged again on that day; after the last one it ends downgraded.
    TRANSITIONS = {
        RenewalStatus.CHARGING: {RenewalStatus.RENEWED, RenewalStatus.FAILED, RenewalStatus.DOWNGRADED},
        RenewalStatus.FAILED: {RenewalStatus.CHARGING},
        RenewalStatus.RENEWED: set(),
        RenewalStatus.DOWNGRADED: set(),
    }

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="renewals", verbose_name=_("subscription")
    )
    period_start = models.DateField(_("new period"))
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+", verbose_name=_("plan"))
    status = models.CharField(_("status"), max_length=10, choices=RenewalStatus.choices, default=RenewalStatus.CHARGING)
    charge = models.ForeignKey(
        "payments.Charge", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("charge")
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_retry_on = models.DateField(_("next retry"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    run = models.ForeignKey(
        RenewalRun, on_delete=models.PROTECT, null=True, blank=True, related_name="renewals", verbose_name=_("run")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("renewal")
        verbose_name_plural = _("renewals")
        ordering = ["-period_start", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period_start"], name="one_renewal_per_period"),
        ]
        indexes = [models.Index(fields=["status", "next_retry_on"], name="renewal_retry_idx")]

    def __str__(self):
        return f"#{self.subscription_id} {self.period_start:%Y-%m} {self.get_status_display()}"


class UsageThreshold(models.TextChoices):
    QUOTA_80 = "quota_80", _("80 percent of the free messages")
    QUOTA_100 = "quota_100", _("All the free messages")
    CAP_80 = "cap_80", _("80 percent of the extra-message cap")
    CAP_100 = "cap_100", _("The extra-message cap")


class UsageNotice(models.Model):
    """An e-mail telling an account's admins that the month's messages crossed a threshold: at most one per
    account, month and threshold, which the database enforces (two hosts at once send it once)."""

    account = models.ForeignKey(
        OfficialAccount, on_delete=models.PROTECT, related_name="usage_notices", verbose_name=_("official account")
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    threshold = models.CharField(_("threshold"), max_length=10, choices=UsageThreshold.choices)
    billed_messages = models.PositiveIntegerField(_("billed messages"))
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("usage notice")
        verbose_name_plural = _("usage notices")
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "month", "threshold"], name="one_usage_notice_per_threshold")
        ]

    def __str__(self):
        return f"{self.account.basic_id} {self.month:%Y-%m} {self.threshold}"


class ExtraMessagesStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for the month's final figure")
    WITH_RENEWAL = "renewal", _("Billed with the renewal")
    CHARGING = "charging", _("Charging")
    BILLED = "billed", _("Billed")
    FAILED = "failed", _("Failed")
    NOTHING = "nothing", _("Nothing to bill")


class ExtraMessagesBill(models.Model):
    """A month's extra messages on a plan that allows them (High): at most one per account and month, which the
    database enforces, so they are billed once whichever way they go.

    Made when the month's renewal is claimed, with the plan and the extra-message cap in force as the month
    ended. With the month's final figure at hand, the renewal's own charge carries them (`renewal`); without
    one, the bill waits, and `bill_extra_messages` charges them on their own (`charge`) once LINE's figure is
    final, with their own invoice.
    """

    # A bill the renewal's charge carries is made so (from waiting, before it is inserted); if that renewal ends in
    # dunning, unpaid, the bill waits again to be charged on its own. A waiting bill is charged, needs nothing when
    # the final figure has no extra message, or fails without a payment method; a failed one is tried again.
    TRANSITIONS = {
        ExtraMessagesStatus.WAITING: {
            ExtraMessagesStatus.WITH_RENEWAL,
            ExtraMessagesStatus.CHARGING,
            ExtraMessagesStatus.NOTHING,
            ExtraMessagesStatus.FAILED,
        },
        ExtraMessagesStatus.CHARGING: {ExtraMessagesStatus.BILLED, ExtraMessagesStatus.FAILED},
        ExtraMessagesStatus.FAILED: {ExtraMessagesStatus.CHARGING, ExtraMessagesStatus.NOTHING},
        ExtraMessagesStatus.WITH_RENEWAL: {ExtraMessagesStatus.WAITING},
        ExtraMessagesStatus.BILLED: set(),
        ExtraMessagesStatus.NOTHING: set(),
    }

    account = models.ForeignKey(
        OfficialAccount,
        on_delete=models.PROTECT,
        related_name="extra_message_bills",
        verbose_name=_("official account"),
    )
    month = models.DateField(_("month"), help_text=_("The month the messages were sent in (its first day)."))
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="+", verbose_name=_("plan"), help_text=_("The plan that month.")
    )
    cap = models.PositiveIntegerField(
        _("extra-message cap"), null=True, blank=True, help_text=_("The cap in force as the month ended.")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ExtraMessagesStatus.choices, default=ExtraMessagesStatus.WAITING
    )
    billed_messages = models.PositiveIntegerField(
        _("billed messages"), null=True, blank=True, help_text=_("The month's final figure, once known.")
    )
    extra_messages = models.PositiveIntegerField(_("extra messages"), default=0)
    amount_twd = models.PositiveIntegerField(_("amount before tax (NT$)"), default=0)
    renewal = models.ForeignKey(
        Renewal,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("renewal"),
        help_text=_("The renewal that made the bill; its charge carries the messages when billed with it."),
    )
    charge = models.ForeignKey(
        "payments.Charge",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("own charge"),
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("extra-messages bill")
        verbose_name_plural = _("extra-messages bills")
        ordering = ["-month", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "month"], name="one_extra_messages_bill_per_month"),
        ]
        indexes = [models.Index(fields=["status", "month"], name="extra_messages_bill_status_idx")]

    def __str__(self):
        return f"{self.account.basic_id} {self.month:%Y-%m} {self.get_status_display()}"


class ReminderKind(models.TextChoices):
    CODE = "code", _("The registered code at the next renewal")
    CARD_EXPIRING = "card", _("A card expiring before the next renewal")
    LINEPAY_INVALID = "linepay", _("LINE Pay to register again")


class BillingReminder(models.Model):
    """An e-mail reminding an account's admins of something before a renewal: at most one per account, kind,
    renewal and subject (the code or the payment method), which the database enforces."""

    account = models.ForeignKey(
        OfficialAccount, on_delete=models.PROTECT, related_name="reminders", verbose_name=_("official account")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ReminderKind.choices)
    renewal_on = models.DateField(_("renewal on"))
    subject = models.CharField(_("about"), max_length=40, help_text=_("The code or the payment method, as code:ID."))
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("billing reminder")
        verbose_name_plural = _("billing reminders")
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "renewal_on", "subject"], name="one_reminder_per_renewal_and_subject"
            )
        ]

    def __str__(self):
        return f"{self.account.basic_id} {self.kind} {self.renewal_on:%Y-%m-%d}"
