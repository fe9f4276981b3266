"""Payment methods (tokens only: card numbers never reach us), charges and refunds."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def actor_field() -> models.ForeignKey:
    """Who did it: a staff member or an admin, or nobody for a cron run."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )


class MethodKind(models.TextChoices):
    CARD = "card", _("Credit card")
    LINEPAY = "linepay", _("LINE Pay")


class Gateway(models.TextChoices):
    SANDBOX = "sandbox", _("Sandbox")
    LINEPAY = "linepay", _("LINE Pay")
    TAPPAY = "tappay", _("TapPay")


class CardBrand(models.TextChoices):
    VISA = "visa", "Visa"
    MASTERCARD = "mastercard", "Mastercard"
    JCB = "jcb", "JCB"


class MethodStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Removed")


class PaymentMethodQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(status=MethodStatus.ACTIVE)


class PaymentMethod(models.Model):
    TRANSITIONS = {
        MethodStatus.ACTIVE: {MethodStatus.EXPIRED, MethodStatus.REVOKED},
        MethodStatus.EXPIRED: {MethodStatus.REVOKED},
        MethodStatus.REVOKED: set(),
    }

    account = models.ForeignKey(
        "accounts.OfficialAccount",
        on_delete=models.PROTECT,
        related_name="payment_methods",
        verbose_name=_("official account"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=MethodKind.choices)
    gateway = models.CharField(_("gateway"), max_length=10, choices=Gateway.choices)
    gateway_token = models.CharField(
        _("gateway token"),
        max_length=255,
        help_text=_("The gateway's card token or the LINE Pay regKey; never a card number."),
    )
    brand = models.CharField(_("card brand"), max_length=12, choices=CardBrand.choices, blank=True)
    last_four = models.CharField(_("last four digits"), max_length=4, blank=True)
    expiry_month = models.PositiveSmallIntegerField(_("expiry month"), null=True, blank=True)
    expiry_year = models.PositiveSmallIntegerField(_("expiry year"), null=True, blank=True)
    masked_card = models.CharField(
        _("masked card"), max_length=32, blank=True, help_text=_("As LINE Pay shows it, e.g. 4111-****-****-1111")
    )
    status = models.CharField(_("status"), max_length=10, choices=MethodStatus.choices, default=MethodStatus.ACTIVE)
    is_main = models.BooleanField(_("main payment method"), default=False)
    created_at = models.DateTimeField(_("added at"), default=timezone.now, editable=False)

    objects = PaymentMethodQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")
        ordering = ["-is_main", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=Q(is_main=True), name="one_main_method_per_account"),
            models.CheckConstraint(
                condition=Q(is_main=False) | Q(status=MethodStatus.ACTIVE), name="main_method_is_active"
            ),
            models.CheckConstraint(condition=Q(last_four="") | Q(last_four__regex=r"^[0-9]{4}$"), name="last_four"),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        if self.kind == MethodKind.LINEPAY:
            return f"LINE Pay {self.masked_card}".strip()
        return f"{self.get_brand_display()} •••• {self.last_four}"


class ChargePurpose(models.TextChoices):
    UPGRADE = "upgrade", _("Upgrade")
    RENEWAL = "renewal", _("Renewal")
    EXTRA_MESSAGES = "messages", _("Extra messages")


class ChargeStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")


class Charge(models.Model):
    """One attempt to collect money. Its amounts are snapshots of the quote it was made from."""

    TRANSITIONS = {
        ChargeStatus.PENDING: {ChargeStatus.SUCCEEDED, ChargeStatus.FAILED},
        ChargeStatus.SUCCEEDED: {ChargeStatus.REFUNDED},
        ChargeStatus.FAILED: set(),
        ChargeStatus.REFUNDED: set(),
    }

    account = models.ForeignKey(
        "accounts.OfficialAccount", on_delete=models.PROTECT, related_name="charges", verbose_name=_("official account")
    )
    purpose = models.CharField(_("purpose"), max_length=10, choices=ChargePurpose.choices)
    plan_code = models.CharField(
        _("plan"), max_length=10, blank=True, help_text=_("The code of the plan this charge pays for, as it was then.")
    )
    period_start = models.DateField(_("billing month"), help_text=_("The billing month this charge pays for."))
    payment_method = models.ForeignKey(
        PaymentMethod,
        on_delete=models.PROTECT,
        related_name="charges",
        null=True,
        blank=True,
        verbose_name=_("payment method"),
    )
    lines = models.JSONField(_("amount lines"), default=list)
    fee_twd = models.PositiveIntegerField(_("fee (NT$)"))
    deduction_twd = models.PositiveIntegerField(_("code deduction (NT$)"), default=0)
    forfeited_twd = models.PositiveIntegerField(_("forfeited (NT$)"), default=0)
    extra_messages_twd = models.PositiveIntegerField(_("extra messages (NT$)"), default=0)
    net_twd = models.PositiveIntegerField(_("net (NT$)"))
    tax_twd = models.PositiveIntegerField(_("tax (NT$)"))
    total_twd = models.PositiveIntegerField(_("total (NT$)"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    gateway = models.CharField(_("gateway"), max_length=10, choices=Gateway.choices, blank=True)
    gateway_reference = models.CharField(_("gateway reference"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ChargeStatus.choices, default=ChargeStatus.PENDING)
    failure_reason = models.CharField(_("failure reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False, db_index=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(net_twd=F("fee_twd") + F("extra_messages_twd") - F("deduction_twd")),
                name="charge_net_is_fee_plus_extra_less_deduction",
            ),
            models.CheckConstraint(condition=Q(total_twd=F("net_twd") + F("tax_twd")), name="charge_total_is_net_tax"),
            models.CheckConstraint(condition=Q(deduction_twd__lte=F("fee_twd")), name="charge_deduction_within_fee"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.account.basic_id} NT${self.total_twd:,} {self.get_status_display()}"

    @property
    def refunded_twd(self) -> int:
        """What the gateway gave back (refunds still pending or refused are not money given back)."""
        return sum(refund.amount_twd for refund in self.refunds.all() if refund.status == RefundStatus.SUCCEEDED)


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", _("Refused by the gateway")


class Refund(models.Model):
    """Money given back on a charge. Recorded `pending` under the charge's lock before the gateway is asked,
    so the refunds of a charge never add up to more than it, however many staff click at once."""

    TRANSITIONS = {
        RefundStatus.PENDING: {RefundStatus.SUCCEEDED, RefundStatus.FAILED},
        RefundStatus.SUCCEEDED: set(),
        RefundStatus.FAILED: set(),
    }

    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("charge"))
    amount_twd = models.PositiveIntegerField(_("amount (NT$)"))
    reason = models.CharField(_("reason"), max_length=255)
    status = models.CharField(_("status"), max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    gateway_reference = models.CharField(_("gateway reference"), max_length=64, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=255, blank=True)
    actor = actor_field()
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount_twd__gt=0), name="refund_amount_positive")]

    def __str__(self):
        return f"Refund NT${self.amount_twd:,} of charge #{self.charge_id}"


class LinePayRegistrationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval in LINE")
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")


class LinePayRegistration(models.Model):
    """An admin's trip to LINE Pay to approve a preapproved payment, until it comes back with a regKey."""

    # Confirming does not re-check `pending` under the lock, only `confirmed`: an approval LINE Pay has just
    # confirmed is kept even if the registration was cancelled meanwhile (hence cancelled → confirmed).
    TRANSITIONS = {
        LinePayRegistrationStatus.PENDING: {LinePayRegistrationStatus.CONFIRMED, LinePayRegistrationStatus.CANCELLED},
        LinePayRegistrationStatus.CANCELLED: {LinePayRegistrationStatus.CONFIRMED},
        LinePayRegistrationStatus.CONFIRMED: set(),
    }

    account = models.ForeignKey(
        "accounts.OfficialAccount",
        on_delete=models.PROTECT,
        related_name="linepay_registrations",
        verbose_name=_("official account"),
    )
    order_id = models.CharField(_("order ID"), max_length=100, unique=True)
    transaction_id = models.CharField(_("transaction ID"), max_length=19, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=10, choices=LinePayRegistrationStatus.choices, default=LinePayRegistrationStatus.PENDING
    )
    payment_method = models.OneToOneField(
        PaymentMethod, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("method")
    )
    return_to = models.CharField(_("return to"), max_length=200, blank=True)
    actor = actor_field()
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("LINE Pay registration")
        verbose_name_plural = _("LINE Pay registrations")
        ordering = ["-created_at"]

    def __str__(self):
        return self.order_id


# ---- the built-in sandbox gateway's own state (what a real gateway keeps on its side) ---------


class SandboxCard(models.Model):
    """A card the sandbox tokenised. Only what a gateway tells a merchant: never the number."""

    one_time_token = models.CharField(max_length=64, unique=True)
    saved_token = models.CharField(max_length=64, unique=True)
    brand = models.CharField(max_length=12)
    last_four = models.CharField(max_length=4)
    expiry_month = models.PositiveSmallIntegerField()
    expiry_year = models.PositiveSmallIntegerField()
    behaviour = models.CharField(max_length=20)
    used = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sandbox card")
        verbose_name_plural = _("sandbox cards")

    def __str__(self):
        return f"{self.brand} {self.last_four} ({self.behaviour})"


class SandboxLinePayTransaction(models.Model):
    """A LINE Pay v3 transaction as the sandbox keeps it: requested, approved in 'LINE', confirmed."""

    # Approved, cancelled or timed out on the approval page; an approved one confirmed by the merchant, whose
    # regKey the merchant may then expire.
    TRANSITIONS = {
        "requested": {"approved", "cancelled", "expired"},
        "approved": {"confirmed"},
        "confirmed": {"expired"},
        "cancelled": set(),
        "expired": set(),
    }

    transaction_id = models.CharField(max_length=19, unique=True)
    order_id = models.CharField(max_length=100, unique=True)
    amount = models.PositiveIntegerField()
    confirm_url = models.CharField(max_length=500)
    cancel_url = models.CharField(max_length=500)
    status = models.CharField(max_length=10, default="requested")
    card = models.CharField(max_length=32, blank=True)
    reg_key = models.CharField(max_length=15, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sandbox LINE Pay transaction")
        verbose_name_plural = _("sandbox LINE Pay transactions")

    def __str__(self):
        return self.transaction_id


class SandboxCharge(models.Model):
    """Every charge the sandbox answered, by order ID: a second request for an order gets the first answer,
    and a merchant can ask what happened to an order (as TapPay's record query and LINE Pay's payment details)."""

    order_id = models.CharField(max_length=100, unique=True)
    amount = models.PositiveIntegerField()
    succeeded = models.BooleanField()
    reference = models.CharField(max_length=64, blank=True)
    answer = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sandbox charge")
        verbose_name_plural = _("sandbox charges")

    def __str__(self):
        return self.order_id


class SandboxRefund(models.Model):
    """A refund the sandbox made, by the merchant's refund key: the same key twice is one refund."""

    refund_key = models.CharField(max_length=100, unique=True)
    charge = models.ForeignKey(SandboxCharge, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveIntegerField()
    reference = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sandbox refund")
        verbose_name_plural = _("sandbox refunds")

    def __str__(self):
        return self.refund_key
