"""Wrong guesses of codes are limited per account and per client, across every process (SPEC §3).

Only codes that do not exist count: a real code refused for a reason (expired, other region) is not
a guess. The counts live in the database so that every gunicorn worker and host shares them.
"""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.errors import ServiceError
from promos.models import CodeGuess

WINDOW = timedelta(minutes=15)
MAX_PER_ACCOUNT = 10
MAX_PER_CLIENT = 20


def code_entry_guard(*, account, client: str, at: datetime | None = None) -> None:
    """Refuse to look up any more codes for a while after too many wrong ones."""
    since = (at or timezone.now()) - WINDOW
    recent = CodeGuess.objects.filter(created_at__gte=since)
    by_account = recent.filter(account=account).count()
    by_client = recent.filter(client=client).count() if client else 0
    if by_account >= MAX_PER_ACCOUNT or by_client >= MAX_PER_CLIENT:
        raise ServiceError(
            _("Too many codes that do not exist were entered. Wait 15 minutes and try again."), code="throttled"
        )


def code_guess_record(*, account, client: str, at: datetime | None = None) -> None:
    CodeGuess.objects.create(account=account, client=client[:45], created_at=at or timezone.now())


def code_guesses_forget(*, before: datetime) -> int:
    """Drop counts older than the window (for a periodic clean-up)."""
    deleted, _detail = CodeGuess.objects.filter(Q(created_at__lt=before)).delete()
    return deleted
