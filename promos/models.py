"""Campaigns, their single-use codes, and redemptions."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Region
from payments.models import MethodKind


class ChargeKind(models.TextChoices):
    """The charges a campaign may reduce (SPEC §3)."""

    UPGRADE_TO_MEDIUM = "upgrade_to_medium", _("Upgrade to Medium")
    UPGRADE_TO_HIGH = "upgrade_to_high", _("Upgrade to High")
    RENEWAL_MEDIUM = "renewal_medium", _("Medium renewal")
    RENEWAL_HIGH = "renewal_high", _("High renewal")


def default_regions():
    return [Region.TAIWAN.value]


def default_method_kinds():
    return [MethodKind.CARD.value, MethodKind.LINEPAY.value]


def default_charge_kinds():
    return [kind.value for kind in ChargeKind]


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=100)
    face_value_twd = models.PositiveIntegerField(_("face value (NT$)"), default=1200)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), help_text=_("Inclusive: a code works up to this second."))
    regions = models.JSONField(_("eligible regions"), default=default_regions)
    payment_method_kinds = models.JSONField(_("eligible payment methods"), default=default_method_kinds)
    charge_kinds = models.JSONField(_("eligible charges"), default=default_charge_kinds)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__gt=models.F("valid_from")), name="campaign_window"),
            models.CheckConstraint(condition=Q(face_value_twd__gt=0), name="campaign_face_value_positive"),
        ]

    def __str__(self):
        return self.name


class CodeBatchStatus(models.TextChoices):
    GENERATING = "generating", _("Generating")
    COMPLETE = "complete", _("Complete")


class CodeBatch(models.Model):
    """One run of code generation, so a batch can be exported or traced later.

    A named batch is the run's idempotency key: its codes go in by chunks, each committed with the
    count made so far, so a run that crashed is finished by running it again (same name, same count)
    rather than doubled. An unnamed batch (the admin's small ones) is made all or nothing.
    """

    TRANSITIONS = {CodeBatchStatus.GENERATING: {CodeBatchStatus.COMPLETE}, CodeBatchStatus.COMPLETE: set()}

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="batches", verbose_name=_("campaign"))
    name = models.CharField(
        _("batch name"),
        max_length=100,
        blank=True,
        default="",
        help_text=_("Unique in its campaign: running the generation again with it finishes this batch."),
    )
    requested = models.PositiveIntegerField(_("codes requested"))
    made = models.PositiveIntegerField(_("codes made"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=CodeBatchStatus.choices, default=CodeBatchStatus.GENERATING
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("code batch")
        verbose_name_plural = _("code batches")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "name"], condition=~Q(name=""), name="code_batch_name_unique_per_campaign"
            ),
            models.CheckConstraint(
                condition=Q(made__lte=models.F("requested")), name="code_batch_made_within_requested"
            ),
            models.CheckConstraint(
                condition=Q(status=CodeBatchStatus.GENERATING) | Q(made=models.F("requested")),
                name="code_batch_complete_is_full",
            ),
        ]

    def __str__(self):
        label = f"{self.campaign} #{self.pk}"
        return f"{label} {self.name} ({self.requested:,})" if self.name else f"{label} ({self.requested:,})"


class CodeStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    REGISTERED = "registered", _("Registered for renewal")
    HELD = "held", _("Held by a payment in progress")
    REDEEMED = "redeemed", _("Redeemed")
    VOID = "void", _("Void")
    EXPIRED = "expired", _("Expired")


class PromoCodeQuerySet(models.QuerySet):
    def window_closed(self, at):
        """Codes whose campaign's window is over at `at`: promos.eligibility.window_closed, in SQL."""
        return self.filter(campaign__valid_until__lt=at)


class PromoCode(models.Model):
    """A single-use code. While a charge is at the gateway the code is held for it, so no one else takes it.

    A held code keeps `registered_account` when it was registered, so that a declined payment gives
    it back to that account's renewal.
    """

    TRANSITIONS = {
        CodeStatus.AVAILABLE: {
            CodeStatus.REGISTERED,
            CodeStatus.HELD,
            CodeStatus.REDEEMED,
            CodeStatus.VOID,
            CodeStatus.EXPIRED,
        },
        CodeStatus.REGISTERED: {
            CodeStatus.AVAILABLE,
            CodeStatus.HELD,
            CodeStatus.REDEEMED,
            CodeStatus.VOID,
            CodeStatus.EXPIRED,
        },
        CodeStatus.HELD: {CodeStatus.AVAILABLE, CodeStatus.REGISTERED, CodeStatus.REDEEMED},
        CodeStatus.REDEEMED: set(),
        CodeStatus.VOID: set(),
        CodeStatus.EXPIRED: set(),
    }

    # Indexed by (campaign, status) below; a lone campaign index would only slow a million-code insert.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="codes", verbose_name=_("campaign"), db_index=False
    )
    batch = models.ForeignKey(
        CodeBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="codes", verbose_name=_("batch")
    )
    code = models.CharField(_("code"), max_length=32, help_text=_("Stored normalised: no dashes."))
    status = models.CharField(_("status"), max_length=10, choices=CodeStatus.choices, default=CodeStatus.AVAILABLE)
    registered_account = models.ForeignKey(
        "accounts.OfficialAccount",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registered_codes",
        verbose_name=_("registered to"),
    )
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    held_for = models.OneToOneField(
        "payments.Charge",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="held_code",
        verbose_name=_("held for charge"),
    )

    objects = PromoCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        constraints = [
            # A constraint rather than unique=True: codes are looked up exactly, so PostgreSQL needs no LIKE index.
            models.UniqueConstraint(fields=["code"], name="promo_code_unique"),
            models.CheckConstraint(
                condition=Q(status=CodeStatus.REGISTERED, registered_account__isnull=False)
                | Q(status=CodeStatus.HELD)
                | (
                    Q(status__in=[CodeStatus.AVAILABLE, CodeStatus.REDEEMED, CodeStatus.VOID, CodeStatus.EXPIRED])
                    & Q(registered_account__isnull=True)
                ),
                name="code_registered_has_account",
            ),
            models.CheckConstraint(
                condition=Q(status=CodeStatus.HELD, held_for__isnull=False)
                | (~Q(status=CodeStatus.HELD) & Q(held_for__isnull=True)),
                name="code_held_has_charge",
            ),
            models.UniqueConstraint(
                fields=["registered_account"],
                condition=Q(status__in=[CodeStatus.REGISTERED, CodeStatus.HELD], registered_account__isnull=False),
                name="one_registered_code_per_account",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="code_campaign_status_idx")]

    def __str__(self):
        return self.display_code

    @property
    def display_code(self) -> str:
        from promos.codes import format_code

        return format_code(self.code)


class Redemption(models.Model):
    """A code used on a charge: what it took off and what was lost (SPEC §3: 餘額立即失效)."""

    code = models.OneToOneField(
        PromoCode, on_delete=models.PROTECT, related_name="redemption", verbose_name=_("promo code")
    )
    account = models.ForeignKey(
        "accounts.OfficialAccount",
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("official account"),
    )
    charge = models.OneToOneField(
        "payments.Charge", on_delete=models.PROTECT, related_name="redemption", verbose_name=_("charge")
    )
    applied_twd = models.PositiveIntegerField(_("deducted (NT$)"))
    forfeited_twd = models.PositiveIntegerField(_("forfeited (NT$)"))
    redeemed_at = models.DateTimeField(_("redeemed at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-redeemed_at"]

    def __str__(self):
        return f"{self.code.display_code}: NT${self.applied_twd:,} (−NT${self.forfeited_twd:,})"


class CodeGuess(models.Model):
    """A code typed that does not exist: counted per account and per client to slow down guessing (SPEC §3)."""

    account = models.ForeignKey(
        "accounts.OfficialAccount",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("official account"),
    )
    client = models.CharField(_("client address"), max_length=45, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("wrong code guess")
        verbose_name_plural = _("wrong code guesses")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["account", "created_at"], name="guess_account_idx"),
            models.Index(fields=["client", "created_at"], name="guess_client_idx"),
        ]

    def __str__(self):
        return f"{self.account_id} {self.client} {self.created_at:%Y-%m-%d %H:%M}"
