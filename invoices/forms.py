"""E-invoice forms. They parse and show errors; views save through invoices.services.

The rules (required fields per kind, formats, overlaps) live in the models so the services enforce
them too; a form adds only input normalisation and presentation.
"""

import re
import unicodedata

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Field, Layout, Row, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from invoices.models import (
    OPTIONAL_FIELDS,
    OPTIONAL_KIND_FIELDS,
    PROFILE_FIELDS,
    REQUIRED_FIELDS,
    EInvoiceProfile,
    InvoiceNumberRange,
    ProfileKind,
    offered_kinds,
)


def fold(value: str) -> str:
    """Full-width digits and letters (as Chinese input methods type them) to ASCII, without surrounding spaces."""
    return unicodedata.normalize("NFKC", value or "").strip()


class FoldedEmailField(forms.EmailField):
    """Folds before the e-mail check runs: ｏｗｎｅｒ＠ｅｘａｍｐｌｅ．ｔｗ is a valid address once folded."""

    def to_python(self, value):
        return fold(super().to_python(value))


class EInvoiceProfileForm(forms.ModelForm):
    class Meta:
        model = EInvoiceProfile
        fields = PROFILE_FIELDS
        field_classes = {"email": FoldedEmailField}
        widgets = {"kind": forms.RadioSelect}
        help_texts = {
            "carrier_number": _(
                "Mobile barcode: / and 7 characters, e.g. /ABC1234. Certificate: e.g. AB12345678901234. "
                "Company: optional, a mobile barcode to collect the invoice in."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Radio buttons, without a "---------" one, for the kinds this seller may offer: a profile kept from before
        # with a kind no longer offered (the 會員載具) shows none chosen, so its admin chooses again. The field
        # still knows every kind, so a posted one that is not offered gets the model's message saying why.
        self.fields["kind"].choices = ProfileKind.choices
        self.fields["kind"].widget.choices = offered_kinds()
        # Which fields are required depends on the kind: the model says so, once, with a message per field.
        for name in OPTIONAL_FIELDS:
            self.fields[name].required = False
        self.helper = FormHelper()
        self.helper.form_tag = False  # the page owns the <form>, its CSRF token, `next` and the button
        self.helper.layout = Layout(
            Field("kind"),
            *(
                Div(name, css_class="einvoice-kind-field", data_kinds=" ".join(kinds_using(name)))
                for name in OPTIONAL_FIELDS
            ),
        )

    def _update_errors(self, errors):
        # A field the form refused reaches the model empty, and its clean() would add "Enter the …" to the
        # form's own message; one message per field is enough.
        if hasattr(errors, "error_dict"):
            errors = ValidationError({name: e for name, e in errors.error_dict.items() if name not in self._errors})
        super()._update_errors(errors)

    def clean_carrier_number(self):
        return fold(self.cleaned_data["carrier_number"]).upper()

    def clean_donation_code(self):
        return fold(self.cleaned_data["donation_code"])

    def clean_ubn(self):
        return fold(self.cleaned_data["ubn"])


def kinds_using(field: str) -> list[str]:
    """The profile kinds that keep `field`; the page shows the field only for them."""
    return [
        kind.value
        for kind, fields in REQUIRED_FIELDS.items()
        if field in fields or field in OPTIONAL_KIND_FIELDS.get(kind, ())
    ]


class InvoiceNumberField(forms.CharField):
    """An 8-digit invoice number, typed and shown zero-padded (00000050) as on the MOF allocation file."""

    default_error_messages = {"invalid": _("An invoice number is exactly 8 digits, e.g. 00000050.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "00000000"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return f"{value:08d}" if isinstance(value, int) else value

    def to_python(self, value):
        value = fold(super().to_python(value))
        if value in self.empty_values:
            return None
        if not re.fullmatch(r"[0-9]{8}", value):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return int(value)


class InvoiceNumberRangeForm(forms.ModelForm):
    """For staff registering the 字軌 blocks MOF allocated for a period; overlaps are refused by the model."""

    first_number = InvoiceNumberField(label=capfirst(InvoiceNumberRange._meta.get_field("first_number").verbose_name))
    last_number = InvoiceNumberField(label=capfirst(InvoiceNumberRange._meta.get_field("last_number").verbose_name))

    class Meta:
        model = InvoiceNumberRange
        fields = ("period", "prefix", "first_number", "last_number")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Row(*(Column(name) for name in self._meta.fields)),
            Submit("save", _("Register")),
        )

    def clean_period(self):
        return fold(self.cleaned_data["period"])

    def clean_prefix(self):
        return fold(self.cleaned_data["prefix"]).upper()
