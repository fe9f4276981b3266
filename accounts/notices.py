"""E-mails to people of an account, each in the language they chose (SPEC §2: failures and downgrades; §4: invoices).

The one home of two rules: which language a person reads (their preference, else the site's), and how a notice
is sent (a template whose first line is the subject; a mail server that fails is logged, never raised).
"""

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
    "usage_threshold",
    "channel_disconnected",
    "extra_messages_failed",
    "reminder_code",
    "reminder_card",
    "reminder_linepay",
}


def chosen_language(user) -> str | None:
    """The language the user chose for pages and e-mails; None when they chose none."""
    return getattr(getattr(user, "preference", None), "language", None) or None


def account_admins(account_id: int):
    """The account's admins' memberships, with what chosen_language reads."""
    return Membership.objects.filter(account_id=account_id, role=Role.ADMIN).select_related("user__preference")


def language_for_address(*, account_id: int, email: str) -> str:
    """The language of mail to an address of the account that need not be a person's login (an e-invoice
    address): that of the admin with this e-mail, else of the account's first admin who chose one, else the
    site's."""
    admins = sorted(account_admins(account_id), key=lambda membership: (membership.user.email != email, membership.pk))
    for membership in admins:
        language = chosen_language(membership.user)
        if language:
            return language
    return settings.LANGUAGE_CODE


def send_in_language(*, to: str, language: str, template: str, context: dict, log_as: str) -> int:
    """Render `template` (its first line the subject) in `language` and mail it to `to`; returns the number sent.

    A mail server that fails is logged (as "`log_as` not sent": no address in the log) and counts 0: a notice
    must never undo or stop what it reports.
    """
    with translation.override(language):
        text = render_to_string(template, context)
    subject, _blank, body = text.strip().partition("\n")
    try:
        return send_mail(subject.strip(), body.strip() + "\n", None, [to])
    except Exception:  # noqa: BLE001 - a mail server down must not undo or stop a payment
        logger.exception("%s not sent", log_as)
        return 0


def notify_admins(*, account, notice: str, **context) -> int:
    """Send `notice` (templates/emails/<notice>.txt, first line the subject) to every admin with an e-mail."""
    if notice not in NOTICES:
        raise ValueError(f"unknown notice {notice!r}")
    sent = 0
    for membership in account_admins(account.pk).exclude(user__email=""):
        user = membership.user
        sent += send_in_language(
            to=user.email,
            language=chosen_language(user) or settings.LANGUAGE_CODE,
            template=f"emails/{notice}.txt",
            context={"account": account, "user": user, **context},
            log_as=f"notice {notice} to admin {user.pk}",
        )
    return sent
