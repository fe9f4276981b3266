"""E-invoice profiles (電子發票資訊), number ranges (字軌), invoices and allowances (折讓).

Issuing and corrections: invoices/issuing.py.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from invoices.carriers import member_carrier_type
from invoices.validators import (
    validate_citizen_certificate,
    validate_donation_code,
    validate_invoice_period,
    validate_mobile_barcode,
    validate_ubn,
)


class ProfileKind(models.TextChoices):
    MEMBER_CARRIER = "member", _("Personal: member carrier")
    MOBILE_BARCODE = "mobile", _("Personal: mobile barcode")
    CITIZEN_CERTIFICATE = "citizen", _("Personal: citizen digital certificate")
    PRINTED = "printed", _("Personal: printed proof (電子發票證明聯)")
    DONATION = "donation", _("Donation")
    COMPANY = "company", _("Company")


# Which fields each kind needs (SPEC §4), and which it may keep besides. Everything else is cleared on save.
REQUIRED_FIELDS = {
    ProfileKind.MEMBER_CARRIER: ("name", "email"),
    ProfileKind.MOBILE_BARCODE: ("name", "email", "carrier_number"),
    ProfileKind.CITIZEN_CERTIFICATE: ("name", "email", "carrier_number"),
    ProfileKind.PRINTED: ("name", "email"),
    ProfileKind.DONATION: ("email", "donation_code"),
    ProfileKind.COMPANY: ("company_title", "ubn", "email", "address"),
}
# A company may give a 手機條碼 to collect its invoice (with the 統編) in that carrier (手機條碼報核: MOF's
# self-test scenario 10; the MIG then requires the carrier fields even on a printed invoice,
# einvoice-compliance.md §4.3).
OPTIONAL_KIND_FIELDS = {ProfileKind.COMPANY: ("carrier_number",)}
OPTIONAL_FIELDS = ("name", "email", "carrier_number", "donation_code", "company_title", "ubn", "address")
PROFILE_FIELDS = ("kind", *OPTIONAL_FIELDS)

# One message per missing field, so the user knows which box to fill; the carrier depends on the kind.
REQUIRED_MESSAGES = {
    "name": _("Enter the buyer's name."),
    "email": _("Enter the e-mail address the invoice is sent to."),
    "donation_code": _("Enter the donation code (愛心碼)."),
    "company_title": _("Enter the company title (公司抬頭)."),
    "ubn": _("Enter the company's 統一編號."),
    "address": _("Enter the company's address."),
}
MEMBER_CARRIER_NOT_OFFERED = _(
    "The member carrier (會員載具) is not offered: choose a mobile barcode, a citizen digital certificate, "
    "a printed proof, a donation or a company invoice."
)
# What an account whose profile still says 會員載具 is told, on the 電子發票資訊 page and at the checkout.
CHOOSE_ANOTHER_CARRIER = _(
    "Your invoices can no longer go to the member carrier (會員載具): this seller is not an approved carrier "
    "platform. Choose a mobile barcode, a citizen digital certificate, a printed proof, a donation or a company "
    "invoice before your next invoice. Until you do, each invoice is issued with a printed proof "
    "(電子發票證明聯), linked from 付款紀錄; invoices already issued stay as they are."
)
CARRIER_REQUIRED_MESSAGES = {
    ProfileKind.MOBILE_BARCODE: _("Enter the mobile barcode (手機條碼)."),
    ProfileKind.CITIZEN_CERTIFICATE: _("Enter the citizen digital certificate number (自然人憑證)."),
}
FORMAT_CHECKS = {
    ProfileKind.MOBILE_BARCODE: [("carrier_number", validate_mobile_barcode)],
    ProfileKind.CITIZEN_CERTIFICATE: [("carrier_number", validate_citizen_certificate)],
    ProfileKind.DONATION: [("donation_code", validate_donation_code)],
    ProfileKind.COMPANY: [("ubn", validate_ubn), ("carrier_number", validate_mobile_barcode)],
}


def kind_is_offered(kind: str) -> bool:
    """Whether a profile may be saved with this kind: the 會員載具 only where the seller is a carrier platform."""
    return kind != ProfileKind.MEMBER_CARRIER or bool(member_carrier_type())


def offered_kinds() -> list[tuple[str, str]]:
    """The kinds a buyer may choose, as (value, label)."""
    return [(kind, label) for kind, label in ProfileKind.choices if kind_is_offered(kind)]


def first_kind() -> str:
    """The kind a first visit to 電子發票資訊 starts on: the 會員載具 where the seller is a carrier platform, else a
    printed proof. Both ask only a name and an e-mail address."""
    return ProfileKind.MEMBER_CARRIER if kind_is_offered(ProfileKind.MEMBER_CARRIER) else ProfileKind.PRINTED


class EInvoiceProfile(models.Model):
    account = models.OneToOneField(
        "accounts.OfficialAccount",
        on_delete=models.PROTECT,
        related_name="einvoice_profile",
        verbose_name=_("official account"),
    )
    kind = models.CharField(_("invoice type"), max_length=10, choices=ProfileKind.choices)
    name = models.CharField(_("name"), max_length=60, blank=True)
    email = models.EmailField(_("e-mail"))
    carrier_number = models.CharField(_("carrier number"), max_length=16, blank=True)
    donation_code = models.CharField(_("donation code (愛心碼)"), max_length=7, blank=True)
    company_title = models.CharField(_("company title (公司抬頭)"), max_length=100, blank=True)
    ubn = models.CharField(_("統一編號"), max_length=8, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("e-invoice profile")
        verbose_name_plural = _("e-invoice profiles")

    def __str__(self):
        return f"{self.account.basic_id}: {self.get_kind_display()}"

    def clean_fields(self, exclude=None):
        # A missing kind-required field is reported once, by clean(), with its own message.
        super().clean_fields(exclude={*(exclude or ()), *self._missing_fields()})

    def clean(self):
        if self.kind not in REQUIRED_FIELDS:
            return  # clean_fields() already refused the kind; keep the other fields as typed
        if not kind_is_offered(self.kind):
            raise ValidationError({"kind": ValidationError(MEMBER_CARRIER_NOT_OFFERED, code="kind_not_offered")})
        errors = {field: self._required_error(field) for field in self._missing_fields()}
        for field, check in FORMAT_CHECKS.get(self.kind, ()):
            value = getattr(self, field)
            if field not in errors and (value or field in REQUIRED_FIELDS[self.kind]):
                try:
                    check(value)
                except ValidationError as error:
                    errors[field] = error
        if errors:
            raise ValidationError(errors)
        kept = (*REQUIRED_FIELDS[self.kind], *OPTIONAL_KIND_FIELDS.get(self.kind, ()))
        for field in OPTIONAL_FIELDS:
            if field not in kept:
                setattr(self, field, "")

    def _missing_fields(self) -> list[str]:
        return [field for field in REQUIRED_FIELDS.get(self.kind, ()) if not (getattr(self, field) or "").strip()]

    def _required_error(self, field: str) -> ValidationError:
        message = CARRIER_REQUIRED_MESSAGES.get(self.kind) if field == "carrier_number" else REQUIRED_MESSAGES[field]
        return ValidationError(message, code=f"{field}_required")

    @property
    def is_b2b(self) -> bool:
        return self.kind == ProfileKind.COMPANY

    @property
    def needs_another_carrier(self) -> bool:
        """A profile kept from before, whose kind is no longer offered: its admin is asked to choose again."""
        return not kind_is_offered(self.kind)


MAX_INVOICE_NUMBER = 99999999


class InvoiceNumberRange(models.Model):
    """A 字軌 staff received for a two-month period: two letters and a block of 8-digit numbers."""

    period = models.CharField(
        _("period"), max_length=5, validators=[validate_invoice_period], help_text=_("e.g. 11502 for Jan–Feb 2026")
    )
    prefix = models.CharField(
        _("track letters (字軌)"), max_length=2, validators=[RegexValidator(r"\A[A-Z]{2}\Z", _("Two capital letters."))]
    )
    first_number = models.PositiveIntegerField(_("first number"))
    last_number = models.PositiveIntegerField(_("last number"))
    next_number = models.PositiveIntegerField(_("next number to issue"), editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    # Set when the period is closed and its blank numbers reported (E0402): the cursor then stays past the end.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("invoice number range")
        verbose_name_plural = _("invoice number ranges")
        ordering = ["-period", "prefix", "first_number"]
        constraints = [
            models.CheckConstraint(condition=Q(first_number__lte=F("last_number")), name="range_first_le_last"),
            models.CheckConstraint(condition=Q(last_number__lte=99999999), name="range_eight_digits"),
            models.CheckConstraint(
                condition=Q(next_number__gte=F("first_number")) & Q(next_number__lte=F("last_number") + 1),
                name="range_cursor_inside",
            ),
            # The database's guard that a number reported blank is never issued: numbers are only ever taken
            # at the cursor (invoices.issuing._take_numbers), and a closed range's cursor is held past its end.
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(next_number=F("last_number") + 1),
                name="range_closed_cursor_past_end",
            ),
        ]

    def __str__(self):
        return f"{self.period} {self.prefix}{self.first_number:08d}–{self.prefix}{self.last_number:08d}"

    def save(self, *args, **kwargs):
        if self.next_number is None:
            self.next_number = self.first_number
        super().save(*args, **kwargs)

    def clean(self):
        errors = {
            field: ValidationError(_("Invoice numbers have 8 digits."), code="number_too_long")
            for field in ("first_number", "last_number")
            if (getattr(self, field) or 0) > MAX_INVOICE_NUMBER
        }
        if errors:
            raise ValidationError(errors)
        if self.first_number is None or self.last_number is None:
            return
        if self.first_number > self.last_number:
            raise ValidationError(
                {
                    "last_number": ValidationError(
                        _("The last number must not be below the first."), code="range_reversed"
                    )
                }
            )
        overlapping = self.overlapping_ranges().first()
        if overlapping:
            raise ValidationError(
                _("This range overlaps %(other)s of the same period."),
                code="range_overlap",
                params={"other": overlapping},
            )

    def overlapping_ranges(self):
        return InvoiceNumberRange.objects.filter(
            period=self.period,
            prefix=self.prefix,
            first_number__lte=self.last_number,
            last_number__gte=self.first_number,
        ).exclude(pk=self.pk)

    @property
    def remaining(self) -> int | None:
        """Numbers not yet issued; for a range being typed in, the numbers it will hold (None until both ends are)."""
        if self.first_number is None or self.last_number is None:
            return None
        next_number = self.first_number if self.next_number is None else self.next_number
        return self.last_number - next_number + 1


class InvoiceStatus(models.TextChoices):
    NUMBER_PENDING = "pending", _("Number pending")
    ISSUED = "issued", _("Issued")
    VOIDED = "voided", _("Voided")


class Invoice(models.Model):
    """A charge's e-invoice. Buyer, seller and amounts are snapshots taken when it is issued."""

    # Issued at once when the period's ranges have a number left, else numbered later; voided (作廢) either
    # way, an issued one only within its period (invoices.issuing says when).
    TRANSITIONS = {
        InvoiceStatus.NUMBER_PENDING: {InvoiceStatus.ISSUED, InvoiceStatus.VOIDED},
        InvoiceStatus.ISSUED: {InvoiceStatus.VOIDED},
        InvoiceStatus.VOIDED: set(),
    }

    charge = models.OneToOneField(
        "payments.Charge", on_delete=models.PROTECT, related_name="invoice", verbose_name=_("charge")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.NUMBER_PENDING
    )
    period = models.CharField(_("period"), max_length=5, validators=[validate_invoice_period])
    number = models.CharField(_("invoice number"), max_length=10, null=True, blank=True, unique=True)
    # 隨機碼: four digits on every invoice, printed on the proof and encrypted into its QR code.
    random_code = models.CharField(
        _("random code"), max_length=4, validators=[RegexValidator(r"\A[0-9]{4}\Z", _("Four digits."))]
    )
    buyer = models.JSONField(_("buyer"))
    seller = models.JSONField(_("seller"))
    lines = models.JSONField(_("lines"))
    sales_twd = models.PositiveIntegerField(_("sales amount (NT$)"))
    tax_twd = models.PositiveIntegerField(_("tax (NT$)"))
    total_twd = models.PositiveIntegerField(_("total (NT$)"))
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    void_reason = models.CharField(_("void reason"), max_length=200, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total_twd=F("sales_twd") + F("tax_twd")), name="invoice_total"),
            models.CheckConstraint(
                condition=Q(status=InvoiceStatus.ISSUED, number__isnull=False) | ~Q(status=InvoiceStatus.ISSUED),
                name="issued_invoice_has_number",
            ),
            models.CheckConstraint(condition=Q(random_code__regex=r"^[0-9]{4}$"), name="invoice_random_code_4_digits"),
        ]

    def __str__(self):
        return self.number or f"({self.get_status_display()}) #{self.pk}"

    @property
    def is_b2b(self) -> bool:
        return self.buyer.get("kind") == ProfileKind.COMPANY


class Allowance(models.Model):
    """An allowance (折讓證明單) giving back part or all of an issued invoice, usually in a later period."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allowances", verbose_name=_("invoice"))
    refund = models.OneToOneField(
        "payments.Refund",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="allowance",
        verbose_name=_("refund"),
    )
    number = models.CharField(_("allowance number"), max_length=16, unique=True)
    period = models.CharField(_("period"), max_length=5, validators=[validate_invoice_period])
    reason = models.CharField(_("reason"), max_length=200)
    sales_twd = models.PositiveIntegerField(_("sales amount (NT$)"))
    tax_twd = models.PositiveIntegerField(_("tax (NT$)"))
    total_twd = models.PositiveIntegerField(_("total (NT$)"))
    created_at = models.DateTimeField(_("allowance date"), default=timezone.now, editable=False)
    # 作廢折讓 (G0501): a voided allowance no longer counts against its invoice.
    void_reason = models.CharField(_("void reason"), max_length=200, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("allowance")
        verbose_name_plural = _("allowances")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total_twd=F("sales_twd") + F("tax_twd")), name="allowance_total"),
            models.CheckConstraint(condition=Q(total_twd__gt=0), name="allowance_positive"),
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True) | ~Q(void_reason=""), name="allowance_void_has_reason"
            ),
        ]

    def __str__(self):
        return self.number


def live_allowances(invoice: Invoice):
    """The invoice's allowances that were not voided."""
    return invoice.allowances.filter(voided_at__isnull=True)


INVOICE_TYPE_GENERAL = "07"  # 一般稅額計算之電子發票, the only kind this seller issues


class PeriodClosing(models.Model):
    """A two-month period closed: its blank numbers fixed and reported (E0402), its ranges closed for good."""

    period = models.CharField(_("period"), max_length=5, unique=True, validators=[validate_invoice_period])
    seller_ubn = models.CharField(_("seller 統一編號"), max_length=8)
    closed_at = models.DateTimeField(_("closed at"), default=timezone.now, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )

    class Meta:
        verbose_name = _("closed period (E0402)")
        verbose_name_plural = _("closed periods (E0402)")
        ordering = ["-period"]

    def __str__(self):
        return self.period


class BlankRun(models.Model):
    """A run of consecutive numbers of one range left unused when its period was closed (BranchTrackBlankItem)."""

    closing = models.ForeignKey(
        PeriodClosing, on_delete=models.PROTECT, related_name="blank_runs", verbose_name=_("closed period")
    )
    number_range = models.ForeignKey(
        InvoiceNumberRange, on_delete=models.PROTECT, related_name="blank_runs", verbose_name=_("number range")
    )
    invoice_type = models.CharField(_("invoice type"), max_length=2, default=INVOICE_TYPE_GENERAL)
    prefix = models.CharField(_("track letters (字軌)"), max_length=2)
    first_number = models.PositiveIntegerField(_("first blank number"))
    last_number = models.PositiveIntegerField(_("last blank number"))

    class Meta:
        verbose_name = _("blank numbers")
        verbose_name_plural = _("blank numbers")
        ordering = ["prefix", "first_number"]
        constraints = [
            models.CheckConstraint(condition=Q(first_number__lte=F("last_number")), name="blank_run_first_le_last"),
            models.UniqueConstraint(fields=["number_range", "first_number"], name="blank_run_once"),
        ]

    def __str__(self):
        return f"{self.prefix}{self.first_number:08d}–{self.prefix}{self.last_number:08d}"

    @property
    def count(self) -> int:
        return self.last_number - self.first_number + 1

    def as_tuple(self) -> tuple:
        return (self.number_range_id, self.invoice_type, self.prefix, self.first_number, self.last_number)


class MessageKind(models.TextChoices):
    F0401 = "F0401", _("F0401 issue")
    F0501 = "F0501", _("F0501 void")
    G0401 = "G0401", _("G0401 allowance")
    G0501 = "G0501", _("G0501 allowance void")
    E0402 = "E0402", _("E0402 blank numbers")


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("Not yet exported")
    WRITTEN = "written", _("Written (exported)")
    UPLOADED = "uploaded", _("Uploaded")
    REJECTED = "rejected", _("Refused by Turnkey")


class EInvoiceMessage(models.Model):
    """One MIG message owed to the platform: its deadline, its export, Turnkey's result, its upload.

    Recorded with the event it reports (issue, void, allowance, allowance void, period closed), in the same
    transaction, as pending. Its first export (a plain folder or Turnkey's) makes it written; staff confirming
    the upload, or Turnkey's BAK folder (invoices.turnkey), make it uploaded, the same state either way; Turnkey's
    ERR folder makes it rejected, and a rejected one may be written again once fixed, or confirmed uploaded by
    staff who sent it another way. Whether it is due, late or uploaded in time is read from its deadline and its
    upload time (invoices.uploads.upload_state).
    """

    # An uploaded message is never written again: the platform would get it twice.
    TRANSITIONS = {
        MessageStatus.PENDING: {MessageStatus.WRITTEN},
        MessageStatus.WRITTEN: {MessageStatus.UPLOADED, MessageStatus.REJECTED},
        MessageStatus.REJECTED: {MessageStatus.WRITTEN, MessageStatus.UPLOADED},
        MessageStatus.UPLOADED: set(),
    }

    kind = models.CharField(_("message"), max_length=5, choices=MessageKind.choices)
    period = models.CharField(_("period"), max_length=5)
    # The invoice or allowance number; for an E0402 the invoice type and the 字軌 (07AB).
    subject = models.CharField(_("subject"), max_length=16)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="messages", verbose_name=_("invoice")
    )
    allowance = models.ForeignKey(
        Allowance,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("allowance"),
    )
    closing = models.ForeignKey(
        PeriodClosing,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("closed period"),
    )
    event_at = models.DateTimeField(_("event at"))
    due_on = models.DateField(_("upload due on"))
    exported_at = models.DateTimeField(_("exported at"), null=True, blank=True)
    uploaded_at = models.DateTimeField(_("confirmed uploaded at"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    reminded_at = models.DateTimeField(_("staff reminded at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    # Turnkey: the file written into its SRC folder (empty until then), when it was last written there, the
    # result file Turnkey left (BAK or ERR, relative to its folder) and when that was read.
    file_name = models.CharField(_("Turnkey file name"), max_length=100, blank=True)
    written_at = models.DateTimeField(_("written for Turnkey at"), null=True, blank=True)
    detail = models.CharField(_("Turnkey result"), max_length=500, blank=True)
    result_at = models.DateTimeField(_("Turnkey result read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("e-invoice message")
        verbose_name_plural = _("e-invoice messages")
        ordering = ["due_on", "kind", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "period", "subject"], name="einvoice_message_once"),
            models.CheckConstraint(
                condition=Q(uploaded_at__isnull=True) | Q(exported_at__isnull=False),
                name="einvoice_message_uploaded_after_export",
            ),
            # The status and the times say the same: pending until exported, uploaded exactly when confirmed.
            models.CheckConstraint(
                condition=Q(status=MessageStatus.PENDING, exported_at__isnull=True)
                | (~Q(status=MessageStatus.PENDING) & Q(exported_at__isnull=False)),
                name="einvoice_message_pending_until_exported",
            ),
            models.CheckConstraint(
                condition=Q(status=MessageStatus.UPLOADED, uploaded_at__isnull=False)
                | (~Q(status=MessageStatus.UPLOADED) & Q(uploaded_at__isnull=True)),
                name="einvoice_message_uploaded_has_time",
            ),
            # Only Turnkey refuses a message, so a rejected one was written for it.
            models.CheckConstraint(
                condition=~Q(status=MessageStatus.REJECTED) | ~Q(file_name=""),
                name="einvoice_message_rejected_by_turnkey",
            ),
            # One file in Turnkey's folders is one message.
            models.UniqueConstraint(
                fields=["file_name"], condition=~Q(file_name=""), name="einvoice_message_one_turnkey_file"
            ),
        ]
        indexes = [models.Index(fields=["uploaded_at", "due_on"], name="einvoice_message_due")]

    def __str__(self):
        return f"{self.kind} {self.subject}"
