"""E-mails to an account's admins, each in the language they chose (SPEC §2: failures and downgrades)."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import Membership, Role

logger = logging.getLogger(__name__)

NOTICES = {
    "renewal_failed",
    "downgraded",
    "method_expired",
    "code_released",
}


def notify_admins(*, account, notice: str, **context) -> int:
    """Send `notice` (templates/emails/<notice>.txt, first line the subject) to every admin with an e-mail."""
    if notice not in NOTICES:
        raise ValueError(f"unknown notice {notice!r}")
    admins = (
        Membership.objects.filter(account=account, role=Role.ADMIN)
        .exclude(user__email="")
        .select_related("user__preference")
    )
    sent = 0
    for membership in admins:
        user = membership.user
        language = getattr(getattr(user, "preference", None), "language", None) or settings.LANGUAGE_CODE
        with translation.override(language):
            text = render_to_string(f"emails/{notice}.txt", {"account": account, "user": user, **context})
        subject, _blank, body = text.strip().partition("\n")
        try:
            sent += send_mail(subject.strip(), body.strip() + "\n", None, [user.email])
        except Exception:  # noqa: BLE001 - a mail server down must not undo or stop a payment
            logger.exception("notice %s to admin %s not sent", notice, user.pk)
    return sent
