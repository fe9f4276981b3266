"""Forms of the billing pages and admin that need more than a field read by hand."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from billing.services import EXTRA_MESSAGE_CAP_MAX, extra_message_cap_range_message


class MessageCountField(forms.IntegerField):
    """A whole number of messages as people type it: "10,000", "10 000" and full-width digits are read too."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace("，", "").replace(" ", "").replace("\u3000", "")
        return super().to_python(value)


class ExtraMessageCapForm(forms.Form):
    """The cap to set. `required=False` (the staff admin) reads an empty field as "no cap"."""

    extra_message_cap = MessageCountField(
        label=_("Extra-message cap"),
        min_value=1,
        max_value=EXTRA_MESSAGE_CAP_MAX,
        help_text=_("The most extra messages a month beyond the free quota: LINE stops sending at the cap."),
    )

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["extra_message_cap"]
        field.required = required
        out_of_range = extra_message_cap_range_message()
        field.error_messages = {
            **field.error_messages,
            "required": _("Enter the cap: a whole number of extra messages."),
            "invalid": out_of_range,
            "min_value": out_of_range,
            "max_value": out_of_range,
        }
        if not required:
            field.help_text = format_lazy("{} {}", field.help_text, _("Empty: no cap."))
