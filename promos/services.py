"""Everything that changes a promo code: register, unregister, redeem, void, generate."""

import csv
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import (
    audit_entry,
    audit_record,
    audit_records_save,
    lock_account,
    move_status,
    move_statuses,
    snapshot,
)
from accounts.bulk import create_rows, update_rows
from accounts.errors import ServiceError
from accounts.models import OfficialAccount
from accounts.periods import local_date, next_month_start, period_start_at
from promos.codes import format_code, normalise_code, random_codes
from promos.eligibility import CodeRefusal, registration_refusal, state_refusal, window_closed
from promos.models import Campaign, CodeBatch, CodeBatchStatus, CodeStatus, PromoCode, Redemption
from promos.selectors import buyer_for, code_terms
from promos.throttle import code_guess_claim, code_guess_withdraw

CODE_FIELDS = ("status", "registered_account")


class CodeNotUsable(ServiceError):
    """`message` is the refusal's label unless a more precise sentence (one with a date, say) is given."""

    def __init__(self, refusal: CodeRefusal, message=None):
        super().__init__(message or refusal.label, code=refusal.value)
        self.refusal = refusal


def _locked_code(text: str) -> PromoCode:
    code = PromoCode.objects.select_for_update().filter(code=normalise_code(text)).first()
    if code is None:
        raise CodeNotUsable(CodeRefusal.UNKNOWN)
    return code


@contextmanager
def code_look_up(*, account: OfficialAccount, text: str, client: str, at: datetime | None):
    """Around the look-up of a code someone typed: a wrong guess is counted before it, and refused after too
    many (promos.throttle). Empty text is refused without counting; the slot is given back unless the block
    ends with the code unknown, the only refusal that is a guess."""
    if not normalise_code(text):
        raise CodeNotUsable(CodeRefusal.UNKNOWN)  # nothing to look up: not a guess
    guess = code_guess_claim(account=account, client=client, at=at)
    wrong_guess = False
    try:
        yield
    except CodeNotUsable as error:
        wrong_guess = error.refusal == CodeRefusal.UNKNOWN
        raise
    finally:
        if not wrong_guess:
            code_guess_withdraw(guess=guess)


def promo_code_register(
    *, account: OfficialAccount, text: str, actor, at: datetime | None = None, client: str = ""
) -> PromoCode:
    """Reserve a code for the account's next renewal (情境四), if it could be applied then."""
    at = at or timezone.now()
    with code_look_up(account=account, text=text, client=client, at=at):
        return _register(account=account, text=text, actor=actor, at=at)


def _register(*, account: OfficialAccount, text: str, actor, at: datetime) -> PromoCode:
    with transaction.atomic():
        lock_account(account.pk)
        if PromoCode.objects.filter(registered_account=account).exists():
            raise ServiceError(
                _("This account already has a code registered. Remove it first."), code="already_registered"
            )
        code = _locked_code(text)
        renewal_day = next_month_start(local_date(at))
        refusal = registration_refusal(
            code=code_terms(code), buyer=buyer_for(account), at=at, renewal_at=period_start_at(renewal_day)
        )
        if refusal == CodeRefusal.ENDS_BEFORE_RENEWAL:  # say which day the renewal is
            raise CodeNotUsable(refusal, _ends_before_renewal(renewal_day))
        if refusal is not None:
            raise CodeNotUsable(refusal)
        before = snapshot(code, *CODE_FIELDS)
        move_status(code, CodeStatus.REGISTERED)
        code.registered_account = account
        code.registered_at = at
        code.save(update_fields=["status", "registered_account", "registered_at"])
        audit_record(
            actor=actor,
            action="promo_code.register",
            obj=code,
            account=account,
            before=before,
            after=snapshot(code, *CODE_FIELDS),
        )
    return code


def _ends_before_renewal(renewal_day):
    return _(
        "This code's validity period ends before the next renewal (%(date)s), so it cannot be registered for "
        "the renewal."
    ) % {"date": renewal_day.isoformat()}


def promo_code_unregister(*, account: OfficialAccount, actor) -> PromoCode:
    """Take back the account's registered code; it becomes available again."""
    with transaction.atomic():
        lock_account(account.pk)
        code = PromoCode.objects.select_for_update().filter(registered_account=account).first()
        if code is None:
            raise ServiceError(_("This account has no registered code."), code="none_registered")
        if code.status == CodeStatus.HELD:  # a renewal is paying with it right now
            raise CodeNotUsable(CodeRefusal.IN_USE)
        before = snapshot(code, *CODE_FIELDS)
        move_status(code, CodeStatus.AVAILABLE)
        code.registered_account = None
        code.registered_at = None
        code.save(update_fields=["status", "registered_account", "registered_at"])
        audit_record(
            actor=actor,
            action="promo_code.unregister",
            obj=code,
            account=account,
            before=before,
            after=snapshot(code, *CODE_FIELDS),
        )
    return code


def _refuse_unless_usable(code: PromoCode, *, account: OfficialAccount, charge) -> None:
    """A locked code may be held or redeemed for this account's `charge`: not spent, not someone else's."""
    refusal = state_refusal(
        status=code.status,
        registered_account_id=code.registered_account_id,
        account_id=account.pk,
        held_for_this_charge=code.held_for_id == charge.pk,
    )
    if refusal is not None:
        raise CodeNotUsable(refusal)


def promo_code_hold(*, text: str, account: OfficialAccount, charge, actor) -> PromoCode:
    """Reserve a code for a charge about to go to the gateway (call in the transaction that records it).

    Of two payments racing for one code exactly one holds it; the other gets CodeNotUsable before
    any money moves. A code registered to this account keeps that registration while held.
    """
    with transaction.atomic():
        code = _locked_code(text)
        record = _hold(code, account=account, charge=charge, actor=actor)
        code.save(update_fields=["status", "held_for"])
        record.save(force_insert=True)
    return code


def promo_codes_hold(holds: list[tuple[PromoCode, OfficialAccount, object]], *, actor) -> None:
    """Hold many codes, each for its account's charge, at once. The caller has locked the code rows."""
    records = [_hold(code, account=account, charge=charge, actor=actor) for code, account, charge in holds]
    update_rows([code for code, _account, _charge in holds], ["status", "held_for"])
    audit_records_save(records)


def _hold(code: PromoCode, *, account, charge, actor):
    """The locked code, held in memory; returns its unsaved audit record."""
    _refuse_unless_usable(code, account=account, charge=charge)
    before = snapshot(code, *CODE_FIELDS)
    move_status(code, CodeStatus.HELD)
    code.held_for = charge
    return audit_entry(
        actor=actor,
        action="promo_code.hold",
        obj=code,
        account=account,
        before=before,
        after={**snapshot(code, *CODE_FIELDS), "charge": charge.pk},
    )


def promo_code_release(*, charge, actor) -> PromoCode | None:
    """The charge failed: give its held code back, to the renewal it was registered for or to anyone."""
    released = promo_codes_release([charge], actor=actor)
    return released[0] if released else None


def promo_codes_release(charges: list, *, actor) -> list[PromoCode]:
    """The charges failed: give back the codes held for them (charges holding none are passed over)."""
    accounts = {charge.pk: charge.account for charge in charges}
    with transaction.atomic():
        codes = list(PromoCode.objects.select_for_update().filter(held_for__in=list(accounts)).order_by("pk"))
        records = []
        for code in codes:
            before = snapshot(code, *CODE_FIELDS)
            account = accounts[code.held_for_id]
            move_status(code, CodeStatus.REGISTERED if code.registered_account_id else CodeStatus.AVAILABLE)
            code.held_for = None
            records.append(
                audit_entry(
                    actor=actor,
                    action="promo_code.release",
                    obj=code,
                    account=account,
                    before=before,
                    after=snapshot(code, *CODE_FIELDS),
                )
            )
        update_rows(codes, ["status", "held_for"])
        audit_records_save(records)
    return codes


def promo_code_redeem(
    *, text: str, account: OfficialAccount, charge, applied_twd: int, forfeited_twd: int, actor
) -> Redemption:
    """Use a code on a succeeded charge. Call inside the transaction that records that charge.

    The code row is locked, so of two charges racing for one code exactly one gets it; the
    other gets CodeNotUsable and its transaction (charge included) rolls back. A code held for
    this very charge is what a checkout redeems once the gateway said yes.
    """
    with transaction.atomic():
        code = _locked_code(text)
        redemption, record = _redeem(
            code, account=account, charge=charge, applied_twd=applied_twd, forfeited_twd=forfeited_twd, actor=actor
        )
        code.save(update_fields=["status", "registered_account", "held_for"])
        redemption.save(force_insert=True)
        record.save(force_insert=True)
    return redemption


def promo_codes_redeem_held(charges: list, *, actor) -> list[Redemption]:
    """Redeem the codes held for these succeeded charges (each for its charge's deduction), at once."""
    by_pk = {charge.pk: charge for charge in charges}
    with transaction.atomic():
        codes = list(PromoCode.objects.select_for_update().filter(held_for__in=list(by_pk)).order_by("pk"))
        redeemed = []
        for code in codes:
            charge = by_pk[code.held_for_id]
            redeemed.append(
                _redeem(
                    code,
                    account=charge.account,
                    charge=charge,
                    applied_twd=charge.deduction_twd,
                    forfeited_twd=charge.forfeited_twd,
                    actor=actor,
                )
            )
        update_rows(codes, ["status", "registered_account", "held_for"])
        redemptions = create_rows([redemption for redemption, _record in redeemed])
        audit_records_save([record for _redemption, record in redeemed])
    return redemptions


def _redeem(code: PromoCode, *, account, charge, applied_twd: int, forfeited_twd: int, actor):
    """The locked code, redeemed in memory: (unsaved redemption, unsaved audit record)."""
    _refuse_unless_usable(code, account=account, charge=charge)
    before = snapshot(code, *CODE_FIELDS)
    move_status(code, CodeStatus.REDEEMED)
    code.registered_account = None
    code.held_for = None
    redemption = Redemption(
        code=code, account=account, charge=charge, applied_twd=applied_twd, forfeited_twd=forfeited_twd
    )
    record = audit_entry(
        actor=actor,
        action="promo_code.redeem",
        obj=code,
        account=account,
        before=before,
        after={
            **snapshot(code, *CODE_FIELDS),
            "charge": charge.pk,
            "applied_twd": applied_twd,
            "forfeited_twd": forfeited_twd,
        },
    )
    return redemption, record


def promo_codes_void(*, codes: Iterable[PromoCode], actor, reason: str = "") -> int:
    """Void the codes that are still available or registered; redeemed ones are history and stay."""
    ids = [code.pk for code in codes]
    with transaction.atomic():
        locked = (
            PromoCode.objects.select_for_update(of=("self",))
            .select_related("registered_account")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        voided, records = [], []
        for code in locked:
            if CodeStatus.VOID not in PromoCode.TRANSITIONS[code.status]:
                continue
            before = snapshot(code, *CODE_FIELDS)
            account = code.registered_account
            move_status(code, CodeStatus.VOID)
            code.registered_account = None
            voided.append(code)
            records.append(
                audit_entry(
                    actor=actor,
                    action="promo_code.void",
                    obj=code,
                    account=account,
                    before=before,
                    after={**snapshot(code, *CODE_FIELDS), "reason": reason},
                )
            )
        update_rows(voided, ["status", "registered_account"])
        audit_records_save(records)
    return len(voided)


# Codes per COPY. Each chunk goes in sorted, so the unique indexes are filled page by page rather than at
# random; the bigger the chunk, the better (a million codes on PostgreSQL: 50,000 → 25 s, 200,000 → 19 s)
# while a chunk's strings stay some 50 MB.
GENERATE_CHUNK = 200_000
# A chunk is refused only when a code is already taken (about 2^-99 a pair); refused this often, it is
# something else (a constraint, a deleted campaign) and the error is raised.
GENERATE_ATTEMPTS = 3


def _insert_codes(codes: list[str], *, campaign: Campaign, batch: CodeBatch) -> None:
    """One chunk of new available codes: COPY on PostgreSQL (several times faster), bulk_create elsewhere."""
    connection = transaction.get_connection(PromoCode.objects.db)
    if connection.vendor != "postgresql":
        # A model instance weighs far more than its code: build them a slice at a time.
        for start in range(0, len(codes), 10_000):
            PromoCode.objects.bulk_create(
                [PromoCode(campaign=campaign, batch=batch, code=code) for code in codes[start : start + 10_000]]
            )
        return
    fields = [PromoCode._meta.get_field(name) for name in ("campaign", "batch", "code", "status")]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(PromoCode._meta.db_table)
    # COPY's text format: codes are letters and digits only, so nothing needs escaping.
    prefix, suffix = f"{campaign.pk}\t{batch.pk}\t", f"\t{CodeStatus.AVAILABLE.value}\n"
    data = "".join(prefix + code + suffix for code in sorted(codes))
    copy_sql = f"COPY {table} ({columns}) FROM STDIN"
    # The psycopg cursor's copy() bypasses Django's error wrapping: wrap it, so a taken code is an IntegrityError.
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        copy.write(data)


def _add_fresh_codes(*, size: int, campaign: Campaign, batch: CodeBatch) -> None:
    """Insert `size` new codes under a savepoint; when the unique index refuses one, draw the chunk again."""
    for attempt in range(1, GENERATE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                _insert_codes(random_codes(size), campaign=campaign, batch=batch)
            return
        except IntegrityError:
            if attempt == GENERATE_ATTEMPTS:
                raise


def promo_codes_generate(
    *, campaign: Campaign, count: int, actor, name: str = "", progress: Callable[[int], None] | None = None
) -> CodeBatch:
    """Add `count` new random codes to the campaign as one batch; `progress(n)` after each chunk of n made.

    The codes go in by chunks. The unique index decides whether a code is new: a chunk holding a
    taken code is rolled back to its savepoint and drawn afresh, so the batch ends with exactly
    `count` codes.

    A named batch is resumable: each chunk commits with the batch's count of codes made, so running
    it again with the same name and count makes only the codes still missing, and a batch already
    complete is returned as it is (no `progress` call). Another count for the same name is refused.
    An unnamed batch is made all or nothing, in one transaction.
    """
    if count < 1:
        raise ServiceError(_("Generate at least one code."), code="count")
    name = name.strip()
    if not name:
        with transaction.atomic():
            batch = CodeBatch.objects.create(campaign=campaign, requested=count, actor=actor)
            return _fill_batch(batch.pk, actor=actor, progress=progress)
    batch = _named_batch(campaign=campaign, name=name, count=count, actor=actor)
    return _fill_batch(batch.pk, actor=actor, progress=progress)


def _named_batch(*, campaign: Campaign, name: str, count: int, actor) -> CodeBatch:
    """The campaign's batch of this name, created (and committed) if new; refused if it was for another count."""
    if len(name) > CodeBatch._meta.get_field("name").max_length:
        raise ServiceError(_("A batch name is at most 100 characters."), code="batch_name")
    # get_or_create rides out a parallel run creating the same name: the unique constraint picks one.
    batch, _created = CodeBatch.objects.get_or_create(
        campaign=campaign, name=name, defaults={"requested": count, "actor": actor}
    )
    if batch.requested != count:
        raise ServiceError(
            _(
                "Batch “%(name)s” was started for %(requested)s codes, not %(count)s. To finish it, run it again with "
                "the same count; for more codes, use another batch name."
            )
            % {"name": name, "requested": f"{batch.requested:,}", "count": f"{count:,}"},
            code="batch_count",
        )
    return batch


def _fill_batch(batch_pk: int, *, actor, progress: Callable[[int], None] | None) -> CodeBatch:
    """Make the batch's missing codes a chunk at a time; each chunk commits with the batch's new count.

    The batch row is locked for each chunk, so two runs of one batch take turns and never overfill it.
    The chunk that fills the batch also marks it complete and writes the audit record.
    """
    while True:
        with transaction.atomic():
            batch = CodeBatch.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=batch_pk)
            if batch.status == CodeBatchStatus.COMPLETE:
                return batch
            size = min(GENERATE_CHUNK, batch.requested - batch.made)
            _add_fresh_codes(size=size, campaign=batch.campaign, batch=batch)
            batch.made += size
            if batch.made == batch.requested:
                move_status(batch, CodeBatchStatus.COMPLETE)
                after = {"campaign": batch.campaign_id, "count": batch.requested}
                audit_record(
                    actor=actor,
                    action="promo_code.generate",
                    obj=batch,
                    after=after | ({"batch": batch.name} if batch.name else {}),
                )
            batch.save(update_fields=["made", "status"])
        if progress:
            progress(size)


def promo_codes_write_csv(*, codes, stream) -> int:
    """Write codes as CSV (code as shown to people, campaign, status, valid until in Taipei time); returns rows.

    Rows come from the database in chunks as plain tuples, so a million codes never sit in memory.
    """
    campaigns = {
        campaign.pk: (campaign.name, timezone.localtime(campaign.valid_until).isoformat())
        for campaign in Campaign.objects.filter(pk__in=codes.values("campaign_id"))
    }
    writer = csv.writer(stream)
    writer.writerow(["code", "campaign", "status", "valid_until"])
    rows = 0
    values = codes.order_by("pk").values_list("code", "campaign_id", "status")
    for code, campaign_id, status in values.iterator(chunk_size=20_000):
        name, valid_until = campaigns[campaign_id]
        writer.writerow([format_code(code), name, status, valid_until])
        rows += 1
    return rows


def promo_codes_export_record(*, sources, actor, scope: str) -> None:
    """Codes are money: who exported which campaign's or batch's codes is kept in the audit trail."""
    audit_records_save(
        [audit_entry(actor=actor, action="promo_code.export", obj=source, after={"scope": scope}) for source in sources]
    )


def promo_codes_expire(*, as_of: datetime, dry_run: bool = False) -> dict:
    """Codes still available or registered after their campaign's window: expired, in chunks, idempotent.

    Registered ones are taken back one by one (audited, admins told); available ones in bulk, with one
    audit record per campaign and run.
    """
    stale = PromoCode.objects.window_closed(as_of).filter(status__in=[CodeStatus.AVAILABLE, CodeStatus.REGISTERED])
    counts = {
        "registered": stale.filter(status=CodeStatus.REGISTERED).count(),
        "available": stale.filter(status=CodeStatus.AVAILABLE).count(),
    }
    if dry_run:
        return counts
    for pk in stale.filter(status=CodeStatus.REGISTERED).values_list("pk", flat=True):
        promo_code_expire_registered(code_id=pk, as_of=as_of)
    for campaign in Campaign.objects.filter(pk__in=stale.values("campaign_id")):
        _expire_available(campaign)
    return counts


def promo_code_expire_registered(*, code_id: int, as_of: datetime) -> PromoCode | None:
    """A registered code whose window has closed by `as_of` is expired, never available again (SPEC §3), whoever
    finds it: the expiry command, or the renewal it was registered for. The account's admins are told
    (code_released) once that commits.

    Locks the account, then the code, as registering does (the lock order). Changes nothing and returns None
    when the code is no longer registered (its admin removed it meanwhile, say) or its window is still open.
    """
    from accounts.notices import notify_admins

    registered = PromoCode.objects.filter(pk=code_id, status=CodeStatus.REGISTERED)
    account_id = registered.values_list("registered_account_id", flat=True).first()
    if account_id is None:
        return None
    with transaction.atomic():
        lock_account(account_id)
        code = (
            PromoCode.objects.select_for_update(of=("self",))
            .select_related("registered_account", "campaign")
            .get(pk=code_id)
        )
        if code.status != CodeStatus.REGISTERED or code.registered_account_id != account_id:
            return None
        if not window_closed(code.campaign, as_of):
            return None
        account, before = code.registered_account, snapshot(code, *CODE_FIELDS)
        move_status(code, CodeStatus.EXPIRED)
        code.registered_account = None
        code.save(update_fields=["status", "registered_account"])
        audit_record(
            actor=None,
            action="promo_code.expire",
            obj=code,
            account=account,
            before=before,
            after=snapshot(code, *CODE_FIELDS),
        )
        transaction.on_commit(lambda: notify_admins(account=account, notice="code_released", code=code))
    return code


def _expire_available(campaign: Campaign) -> None:
    expired = 0
    while True:
        with transaction.atomic():
            ids = list(
                PromoCode.objects.filter(campaign=campaign, status=CodeStatus.AVAILABLE).values_list("pk", flat=True)[
                    :GENERATE_CHUNK
                ]
            )
            if not ids:
                break
            expired += move_statuses(
                PromoCode.objects.filter(pk__in=ids), from_statuses=[CodeStatus.AVAILABLE], to_status=CodeStatus.EXPIRED
            )
    if expired:
        audit_record(actor=None, action="promo_code.expire", obj=campaign, after={"expired_codes": expired})
