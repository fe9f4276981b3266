"""Wrong guesses of codes are limited per account and per client, across every process (SPEC §3).

Only codes that do not exist count: a real code refused for a reason (expired, other region) is not
a guess. The counts live in the database so that every gunicorn worker and host shares them.

Counting and recording are one step: `code_guess_claim` serialises the guesses of one account and of one
client, counts the recent ones and records a slot for this look-up before it runs, all in one transaction.
Forty wrong codes sent at once therefore make exactly MAX_PER_ACCOUNT look-ups, never more. When the code
turns out to exist, `code_guess_withdraw` gives the slot back.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import advisory_xact_lock, lock_account
from accounts.errors import ServiceError
from promos.models import CodeGuess

WINDOW = timedelta(minutes=15)
MAX_PER_ACCOUNT = 10
MAX_PER_CLIENT = 20
# First key of pg_advisory_xact_lock(int, int) for a client's guesses ("CG"); invoices use other namespaces.
CLIENT_LOCK_NAMESPACE = 0x4347


def code_guess_claim(*, account, client: str, at: datetime | None = None) -> CodeGuess:
    """Take a guess slot before looking a code up, or refuse for a while after too many wrong ones.

    Lock order: the account's row, then the client's advisory lock (so two claims never wait on each other
    in a cycle). The slot is committed before the look-up; the caller withdraws it when the code exists.
    """
    at = at or timezone.now()
    client = client[:45]
    with transaction.atomic():
        lock_account(account.pk)
        if client:  # no row to lock for a client: an advisory lock on its address
            advisory_xact_lock(CLIENT_LOCK_NAMESPACE, client)
        recent = CodeGuess.objects.filter(created_at__gte=at - WINDOW)
        by_account = recent.filter(account=account).count()
        by_client = recent.filter(client=client).count() if client else 0
        if by_account >= MAX_PER_ACCOUNT or by_client >= MAX_PER_CLIENT:
            raise ServiceError(
                _("Too many codes that do not exist were entered. Wait 15 minutes and try again."), code="throttled"
            )
        return CodeGuess.objects.create(account=account, client=client, created_at=at)


def code_guess_withdraw(*, guess: CodeGuess) -> None:
    """The code looked up exists (or nothing was looked up): the slot was not a guess."""
    CodeGuess.objects.filter(pk=guess.pk).delete()


def code_guesses_forget(*, as_of: datetime, dry_run: bool = False) -> int:
    """Drop the guesses that no longer count (older than the window as of `as_of`); returns how many.

    Run from cron (`forget_code_guesses`), so the table holds at most one window of guesses.
    """
    stale = CodeGuess.objects.filter(created_at__lt=as_of - WINDOW)
    if dry_run:
        return stale.count()
    deleted, _detail = stale.delete()
    return deleted
