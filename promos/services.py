"""Everything that changes a promo code: register, unregister, redeem, void, generate."""

import csv
from collections.abc import Callable, Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.audit import audit_record, ensure_transition, snapshot
from billing.errors import ServiceError
from billing.models import OfficialAccount
from billing.periods import local_date, next_month_start, period_start_at
from billing.pricing import CodeRefusal, code_refusal
from billing.selectors import buyer_for
from promos.codes import format_code, normalise_code, random_codes
from promos.models import Campaign, CodeBatch, CodeStatus, PromoCode, Redemption
from promos.selectors import code_terms

RENEWAL_KINDS = {"renewal_medium", "renewal_high"}
CODE_FIELDS = ("status", "registered_account")


class CodeNotUsable(ServiceError):
    def __init__(self, refusal: CodeRefusal):
        super().__init__(refusal.label, code=refusal.value)
        self.refusal = refusal


def _locked_code(text: str) -> PromoCode:
    code = PromoCode.objects.select_for_update().filter(code=normalise_code(text)).first()
    if code is None:
        raise CodeNotUsable(CodeRefusal.UNKNOWN)
    return code


def _lock_account(account: OfficialAccount) -> None:
    """Serialise every billing change of one account behind its row lock."""
    OfficialAccount.objects.select_for_update().filter(pk=account.pk).first()


def promo_code_register(*, account: OfficialAccount, text: str, actor, at: datetime | None = None) -> PromoCode:
    """Reserve a code for the account's next renewal (情境四), if it could be applied then."""
    at = at or timezone.now()
    with transaction.atomic():
        _lock_account(account)
        if PromoCode.objects.filter(registered_account=account).exists():
            raise ServiceError(
                _("This account already has a code registered. Remove it first."), code="already_registered"
            )
        code = _locked_code(text)
        next_renewal = period_start_at(next_month_start(local_date(at)))
        refusal = code_refusal(code=code_terms(code), buyer=buyer_for(account), at=next_renewal, charge_kind=None)
        if refusal is None and code.status == CodeStatus.REGISTERED:
            refusal = CodeRefusal.REGISTERED_ELSEWHERE
        if refusal is None and not RENEWAL_KINDS & set(code.campaign.charge_kinds):
            refusal = CodeRefusal.WRONG_CHARGE
        if refusal is not None:
            raise CodeNotUsable(refusal)
        before = snapshot(code, *CODE_FIELDS)
        ensure_transition(code, CodeStatus.REGISTERED)
        code.status = CodeStatus.REGISTERED
        code.registered_account = account
        code.registered_at = at
        code.save(update_fields=["status", "registered_account", "registered_at"])
        audit_record(
            actor=actor, action="promo_code.register", obj=code, account=account,
            before=before, after=snapshot(code, *CODE_FIELDS),
        )  # fmt: skip
    return code


def promo_code_unregister(*, account: OfficialAccount, actor) -> PromoCode:
    """Take back the account's registered code; it becomes available again."""
    with transaction.atomic():
        _lock_account(account)
        code = PromoCode.objects.select_for_update().filter(registered_account=account).first()
        if code is None:
            raise ServiceError(_("This account has no registered code."), code="none_registered")
        before = snapshot(code, *CODE_FIELDS)
        ensure_transition(code, CodeStatus.AVAILABLE)
        code.status = CodeStatus.AVAILABLE
        code.registered_account = None
        code.registered_at = None
        code.save(update_fields=["status", "registered_account", "registered_at"])
        audit_record(
            actor=actor, action="promo_code.unregister", obj=code, account=account,
            before=before, after=snapshot(code, *CODE_FIELDS),
        )  # fmt: skip
    return code


def promo_code_redeem(*, text: str, account: OfficialAccount, charge, applied_twd: int, forfeited_twd: int,
                      actor) -> Redemption:  # fmt: skip
    """Use a code on a succeeded charge. Call inside the transaction that records that charge.

    The code row is locked, so of two charges racing for one code exactly one gets it; the
    other gets CodeNotUsable and its transaction (charge included) rolls back.
    """
    with transaction.atomic():
        code = _locked_code(text)
        if code.status == CodeStatus.VOID:
            raise CodeNotUsable(CodeRefusal.VOID)
        if code.status == CodeStatus.REDEEMED:
            raise CodeNotUsable(CodeRefusal.REDEEMED)
        if code.status == CodeStatus.REGISTERED and code.registered_account_id != account.pk:
            raise CodeNotUsable(CodeRefusal.REGISTERED_ELSEWHERE)
        before = snapshot(code, *CODE_FIELDS)
        ensure_transition(code, CodeStatus.REDEEMED)
        code.status = CodeStatus.REDEEMED
        code.registered_account = None
        code.save(update_fields=["status", "registered_account"])
        redemption = Redemption.objects.create(
            code=code, account=account, charge=charge, applied_twd=applied_twd, forfeited_twd=forfeited_twd
        )
        audit_record(
            actor=actor, action="promo_code.redeem", obj=code, account=account, before=before,
            after={**snapshot(code, *CODE_FIELDS), "charge": charge.pk, "applied_twd": applied_twd,
                   "forfeited_twd": forfeited_twd},
        )  # fmt: skip
    return redemption


def promo_codes_void(*, codes: Iterable[PromoCode], actor, reason: str = "") -> int:
    """Void the codes that are still available or registered; redeemed ones are history and stay."""
    voided = 0
    ids = [code.pk for code in codes]
    with transaction.atomic():
        for code in PromoCode.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
            if CodeStatus.VOID not in PromoCode.TRANSITIONS[code.status]:
                continue
            before = snapshot(code, *CODE_FIELDS)
            account = code.registered_account
            code.status = CodeStatus.VOID
            code.registered_account = None
            code.save(update_fields=["status", "registered_account"])
            audit_record(
                actor=actor, action="promo_code.void", obj=code, account=account, before=before,
                after={**snapshot(code, *CODE_FIELDS), "reason": reason},
            )  # fmt: skip
            voided += 1
    return voided


GENERATE_CHUNK = 20_000


def promo_codes_generate(*, campaign: Campaign, count: int, actor,
                         progress: Callable[[int], None] | None = None) -> CodeBatch:  # fmt: skip
    """Add `count` new random codes to the campaign, in chunks, as one batch.

    Each chunk is one INSERT; a code that collides with an existing one (odds about 2^-99 per
    pair) is skipped by the unique index and topped up by the next round, so the batch ends
    with exactly `count` codes.
    """
    if count < 1:
        raise ServiceError(_("Generate at least one code."), code="count")
    batch = CodeBatch.objects.create(campaign=campaign, requested=count, actor=actor)
    made = 0
    while made < count:
        size = min(GENERATE_CHUNK, count - made)
        rows = [PromoCode(campaign=campaign, batch=batch, code=code) for code in random_codes(size)]
        try:
            with transaction.atomic():
                PromoCode.objects.bulk_create(rows, batch_size=size)
            made += size
        except IntegrityError:
            made = PromoCode.objects.filter(batch=batch).count()
            continue
        if progress:
            progress(size)
    audit_record(actor=actor, action="promo_code.generate", obj=batch, after={"campaign": campaign.pk, "count": count})
    return batch


def promo_codes_write_csv(*, codes, stream) -> int:
    """Write codes as CSV (code as shown to people, campaign, status, valid until); returns rows."""
    writer = csv.writer(stream)
    writer.writerow(["code", "campaign", "status", "valid_until"])
    rows = 0
    queryset = codes.select_related("campaign").order_by("pk")
    for code in queryset.iterator(chunk_size=10_000):
        writer.writerow(
            [format_code(code.code), code.campaign.name, code.status, code.campaign.valid_until.isoformat()]
        )
        rows += 1
    return rows
