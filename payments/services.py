"""Payment methods and the life of a charge. Gateway calls are made outside transactions."""

import secrets
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Protocol

from django.db import IntegrityError, transaction
from django.db.models import Sum
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
from payments.gateways import Outcome, gateway, gateway_name_for
from payments.models import (
    Charge,
    ChargeStatus,
    LinePayRegistration,
    LinePayRegistrationStatus,
    MethodKind,
    MethodStatus,
    PaymentMethod,
    Refund,
    RefundStatus,
)

METHOD_FIELDS = ("status", "is_main")
CHARGE_FIELDS = ("status", "gateway_reference", "failure_reason")


def payment_method_add(
    *,
    account: OfficialAccount,
    kind: str,
    gateway: str,
    gateway_token: str,
    actor,
    brand: str = "",
    last_four: str = "",
    expiry_month: int | None = None,
    expiry_year: int | None = None,
    masked_card: str = "",
) -> PaymentMethod:
    """Keep a tokenised method. The account's first usable method becomes its main one."""
    with transaction.atomic():
        lock_account(account.pk)
        has_main = PaymentMethod.objects.filter(account=account, is_main=True).exists()
        method = PaymentMethod.objects.create(
            account=account,
            kind=kind,
            gateway=gateway,
            gateway_token=gateway_token,
            brand=brand,
            last_four=last_four,
            expiry_month=expiry_month,
            expiry_year=expiry_year,
            masked_card=masked_card,
            is_main=not has_main,
        )
        audit_record(
            actor=actor,
            action="payment_method.add",
            obj=method,
            account=account,
            after=snapshot(method, "kind", "gateway", "brand", "last_four", *METHOD_FIELDS),
        )
    return method


def payment_method_make_main(*, method: PaymentMethod, actor) -> PaymentMethod:
    """Make `method` the account's main method; the old main stays as a spare."""
    with transaction.atomic():
        lock_account(method.account_id)
        method = PaymentMethod.objects.select_for_update().get(pk=method.pk)
        if method.status != MethodStatus.ACTIVE:
            raise ServiceError(_("Only an active payment method can be the main one."), code="not_active")
        if method.is_main:
            return method
        previous = PaymentMethod.objects.filter(account_id=method.account_id, is_main=True).first()
        if previous is not None:
            previous.is_main = False
            previous.save(update_fields=["is_main"])
        method.is_main = True
        method.save(update_fields=["is_main"])
        audit_record(
            actor=actor,
            action="payment_method.make_main",
            obj=method,
            account=method.account,
            before={"main": previous.pk if previous else None},
            after={"main": method.pk},
        )
    return method


def payment_method_remove(*, method: PaymentMethod, actor, main_required: bool = False) -> PaymentMethod:
    """Revoke a method. With `main_required` (billing's rule: a paid plan keeps a main method, SPEC §5) the main
    one stays until another is made main."""
    with transaction.atomic():
        lock_account(method.account_id)
        method = PaymentMethod.objects.select_for_update(of=("self",)).select_related("account").get(pk=method.pk)
        if method.status == MethodStatus.REVOKED:
            return method
        if method.is_main and main_required:
            raise ServiceError(
                _("This is the main payment method of a paid plan. Make another method main before removing it."),
                code="main_on_paid_plan",
            )
        _method_retire(method, MethodStatus.REVOKED, actor=actor, action="payment_method.remove")
        if method.kind == MethodKind.LINEPAY:
            # SPEC §6: removing LINE Pay also expires its regKey at the gateway. It runs on commit, so a
            # rolled-back removal keeps a working key; a failure there leaves a key nobody will use.
            transaction.on_commit(partial(gateway().linepay_expire, reg_key=method.gateway_token))
    return method


def payment_method_mark_expired(*, method: PaymentMethod, actor=None) -> PaymentMethod:
    """The gateway says the card or regKey is gone: keep it out of renewals until replaced."""
    with transaction.atomic():
        lock_account(method.account_id)
        method = PaymentMethod.objects.select_for_update().get(pk=method.pk)
        if method.status != MethodStatus.ACTIVE:
            return method
        _method_retire(method, MethodStatus.EXPIRED, actor=actor, action="payment_method.expire")
    return method


def _method_retire(method: PaymentMethod, new_status: str, *, actor, action: str) -> None:
    """Move a locked method out of use (expired or removed): it is no longer main. Call in a transaction."""
    before = snapshot(method, *METHOD_FIELDS)
    move_status(method, new_status)
    method.is_main = False
    method.save(update_fields=["status", "is_main"])
    audit_record(
        actor=actor,
        action=action,
        obj=method,
        account=method.account,
        before=before,
        after=snapshot(method, *METHOD_FIELDS),
    )


class ChargeAmounts(Protocol):
    """What a charge keeps of the price it was made from (billing's Quote is one): its amounts, as they were."""

    purpose: str
    period_start: date
    lines: tuple[dict, ...]
    fee_twd: int
    deduction_twd: int
    forfeited_twd: int
    extra_messages_twd: int
    net_twd: int
    tax_twd: int
    total_twd: int


def charge_create(
    *,
    account: OfficialAccount,
    amounts: ChargeAmounts,
    plan_code: str,
    payment_method: PaymentMethod | None,
    idempotency_key: str,
    actor,
) -> tuple[Charge, bool]:
    """Record a pending charge for these amounts. The same key twice returns the first charge, not a second."""
    existing = Charge.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return charges_create(
                [ChargeOrder(account, amounts, plan_code, payment_method, idempotency_key)], actor=actor
            )[0], True
    except IntegrityError:
        return Charge.objects.get(idempotency_key=idempotency_key), False


@dataclass(frozen=True)
class ChargeOrder:
    account: OfficialAccount
    amounts: ChargeAmounts
    plan_code: str
    payment_method: PaymentMethod | None
    idempotency_key: str


def charges_create(orders: list[ChargeOrder], *, actor) -> list[Charge]:
    """Record pending charges at once (call in a transaction). A key used before is an IntegrityError."""
    charges = create_rows(
        [
            Charge(
                account=order.account,
                purpose=order.amounts.purpose,
                plan_code=order.plan_code,
                period_start=order.amounts.period_start,
                payment_method=order.payment_method,
                lines=list(order.amounts.lines),
                fee_twd=order.amounts.fee_twd,
                deduction_twd=order.amounts.deduction_twd,
                forfeited_twd=order.amounts.forfeited_twd,
                extra_messages_twd=order.amounts.extra_messages_twd,
                net_twd=order.amounts.net_twd,
                tax_twd=order.amounts.tax_twd,
                total_twd=order.amounts.total_twd,
                idempotency_key=order.idempotency_key,
                gateway=order.payment_method.gateway if order.payment_method else "",
            )
            for order in orders
        ]
    )
    audit_records_save(
        [
            audit_entry(
                actor=actor,
                action="charge.create",
                obj=charge,
                account=charge.account,
                after=snapshot(charge, "purpose", "total_twd", "deduction_twd", "forfeited_twd", *CHARGE_FIELDS),
            )
            for charge in charges
        ]
    )
    return charges


def _charge_transition(charge: Charge, new_status: str, *, actor, action: str, **changes) -> Charge:
    return _charges_transition([(charge, changes)], new_status, actor=actor, action=action)[0]


def _charges_transition(items: list[tuple[Charge, dict]], new_status: str, *, actor, action: str) -> list[Charge]:
    """Move each charge (locked and read again here) to `new_status` with its own field changes.

    Returns the locked charges in the order given; the whole lot is refused if any move is not allowed.
    """
    ids = [charge.pk for charge, _changes in items]
    # The accounts the caller holds already are not read again (a charge's account never changes).
    accounts = {given.account_id: given.account for given, _changes in items if Charge.account.is_cached(given)}
    locked = Charge.objects.select_for_update(of=("self",)).filter(pk__in=ids)
    if len(accounts) < len({given.account_id for given, _changes in items}):
        locked = locked.select_related("account")
    by_pk = {charge.pk: charge for charge in locked.order_by("pk")}
    charges, records, fields = [], [], {"status"}
    for given, changes in items:
        charge = by_pk[given.pk]
        if not Charge.account.is_cached(charge):
            Charge.account.field.set_cached_value(charge, accounts[charge.account_id])
        before = snapshot(charge, *CHARGE_FIELDS)
        move_status(charge, new_status)
        for name, value in changes.items():
            setattr(charge, name, value)
        fields.update(changes)
        charges.append(charge)
        records.append(
            audit_entry(
                actor=actor,
                action=action,
                obj=charge,
                account=charge.account,
                before=before,
                after=snapshot(charge, *CHARGE_FIELDS),
            )
        )
    update_rows(charges, sorted(fields))
    audit_records_save(records)
    return charges


def charge_mark_succeeded(*, charge: Charge, gateway_reference: str, actor) -> Charge:
    """Settle a pending charge as paid. Callers add the redemption and plan change in the same transaction."""
    return charges_mark_succeeded([(charge, gateway_reference)], actor=actor)[0]


def charges_mark_succeeded(settlements: list[tuple[Charge, str]], *, actor) -> list[Charge]:
    """Settle pending charges as paid, each with its gateway reference, in one transaction."""
    at = timezone.now()
    with transaction.atomic():
        return _charges_transition(
            [(charge, {"gateway_reference": reference, "settled_at": at}) for charge, reference in settlements],
            ChargeStatus.SUCCEEDED,
            actor=actor,
            action="charge.succeed",
        )


def charge_mark_failed(*, charge: Charge, reason: str, actor) -> Charge:
    return charges_mark_failed([(charge, reason)], actor=actor)[0]


def charges_mark_failed(failures: list[tuple[Charge, str]], *, actor) -> list[Charge]:
    """Settle pending charges as failed, each with the gateway's reason, in one transaction."""
    at = timezone.now()
    with transaction.atomic():
        return _charges_transition(
            [(charge, {"failure_reason": reason[:255], "settled_at": at}) for charge, reason in failures],
            ChargeStatus.FAILED,
            actor=actor,
            action="charge.fail",
        )


REFUND_FIELDS = ("status", "amount_twd", "gateway_reference", "failure_reason")


def refund_start(*, charge: Charge, amount_twd: int | None, reason: str, actor) -> Refund:
    """Record a refund as pending, before the gateway is asked, under the account's and the charge's locks.

    What is left to refund counts the pending refunds too, so refunds started at once never add up to more
    than the charge. `amount_twd=None` refunds all that is left. The refund's key goes to the gateway.
    Every check a refund must pass is here, the reason given included.
    """
    if not reason.strip():
        raise ServiceError(_("Give the reason for the refund."), code="reason")
    with transaction.atomic():
        lock_account(charge.account_id)
        charge = Charge.objects.select_for_update(of=("self",)).select_related("account").get(pk=charge.pk)
        if charge.status != ChargeStatus.SUCCEEDED:
            raise ServiceError(_("Only a succeeded charge can be refunded."), code="not_refundable")
        refunds = charge.refunds.exclude(status=RefundStatus.FAILED)
        remaining = charge.total_twd - (refunds.aggregate(total=Sum("amount_twd"))["total"] or 0)
        amount_twd = remaining if amount_twd is None else amount_twd
        if not 0 < amount_twd <= remaining:
            raise ServiceError(
                _("A refund must be between NT$1 and the NT$%(remaining)s not yet refunded or being refunded.")
                % {"remaining": f"{remaining:,}"},
                code="refund_amount",
            )
        refund = Refund.objects.create(
            charge=charge,
            amount_twd=amount_twd,
            reason=reason,
            actor=actor if actor and actor.pk else None,
            idempotency_key=f"refund:{charge.pk}:{charge.refunds.count() + 1}",
        )
        audit_record(
            actor=actor,
            action="refund.start",
            obj=refund,
            account=charge.account,
            after=snapshot(refund, *REFUND_FIELDS),
        )
    return refund


def refund_settle(*, refund: Refund, outcome: str, reference: str = "", reason: str = "", actor) -> Refund:
    """The gateway's answer to a pending refund: made (a fully refunded charge becomes refunded), refused, or
    not known (left pending for reconciliation). Settling a settled refund changes nothing."""
    with transaction.atomic():
        lock_account(refund.charge.account_id)
        charge = Charge.objects.select_for_update(of=("self",)).select_related("account").get(pk=refund.charge_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != RefundStatus.PENDING or outcome not in (Outcome.SUCCEEDED, Outcome.DECLINED):
            return refund
        before = snapshot(refund, *REFUND_FIELDS)
        new_status = RefundStatus.SUCCEEDED if outcome == Outcome.SUCCEEDED else RefundStatus.FAILED
        move_status(refund, new_status)
        refund.settled_at = timezone.now()
        refund.gateway_reference, refund.failure_reason = reference, reason[:255]
        refund.save(update_fields=["status", "settled_at", "gateway_reference", "failure_reason"])
        audit_record(
            actor=actor,
            action=f"refund.{new_status}",
            obj=refund,
            account=charge.account,
            before=before,
            after=snapshot(refund, *REFUND_FIELDS),
        )
        if new_status == RefundStatus.SUCCEEDED and charge.refunded_twd == charge.total_twd:
            _charge_transition(charge, ChargeStatus.REFUNDED, actor=actor, action="charge.refunded")
    return refund


# ---- adding methods through the gateway -----------------------------------------------------


def card_add(*, account: OfficialAccount, one_time_token: str, actor, cardholder: dict | None = None) -> PaymentMethod:
    """Keep the card the hosted fields tokenised; our side only ever sees the token.

    `cardholder` is who holds the card as a gateway asks (TapPay: name, e-mail, phone); the account's name by default.
    """
    cardholder = cardholder or {"name": account.name, "email": "", "phone_number": ""}
    saved = gateway().save_card(one_time_token=one_time_token, cardholder=cardholder)
    return payment_method_add(
        account=account,
        kind=MethodKind.CARD,
        gateway=gateway_name_for(MethodKind.CARD),
        gateway_token=saved.token,
        brand=saved.brand,
        last_four=saved.last_four,
        expiry_month=saved.expiry_month,
        expiry_year=saved.expiry_year,
        actor=actor,
    )


# LINE Pay needs an amount to approve a preapproved payment: NT$1, authorised only (capture=false).
LINEPAY_REGISTRATION_AMOUNT_TWD = 1


def linepay_registration_start(
    *, account: OfficialAccount, actor, confirm_url, cancel_url, return_to: str = ""
) -> tuple[LinePayRegistration, str]:
    """Ask LINE Pay for an approval page. `confirm_url` and `cancel_url` take the order ID."""
    registration = LinePayRegistration.objects.create(
        account=account, order_id=f"reg-{account.pk}-{secrets.token_hex(8)}", actor=actor, return_to=return_to
    )
    request = gateway().linepay_request(
        order_id=registration.order_id,
        amount_twd=LINEPAY_REGISTRATION_AMOUNT_TWD,
        product_name=str(_("LINE Official Account payment method")),
        confirm_url=confirm_url(registration.order_id),
        cancel_url=cancel_url(registration.order_id),
    )
    registration.transaction_id = request.transaction_id
    registration.save(update_fields=["transaction_id"])
    return registration, request.payment_url


def linepay_registration_confirm(*, registration: LinePayRegistration, transaction_id: str, actor) -> PaymentMethod:
    """LINE Pay sent the admin back approved: confirm, keep the regKey and masked card. Safe to repeat."""
    if registration.status == LinePayRegistrationStatus.CONFIRMED:
        return registration.payment_method
    if registration.status != LinePayRegistrationStatus.PENDING or transaction_id != registration.transaction_id:
        raise ServiceError(_("This LINE Pay approval is no longer valid. Add LINE Pay again."), code="stale")
    approval = gateway().linepay_confirm(transaction_id=transaction_id, amount_twd=LINEPAY_REGISTRATION_AMOUNT_TWD)
    with transaction.atomic():
        registration = LinePayRegistration.objects.select_for_update().get(pk=registration.pk)
        if registration.status == LinePayRegistrationStatus.CONFIRMED:
            return registration.payment_method
        method = payment_method_add(
            account=registration.account,
            kind=MethodKind.LINEPAY,
            gateway=gateway_name_for(MethodKind.LINEPAY),
            gateway_token=approval.reg_key,
            masked_card=approval.masked_card,
            actor=actor,
        )
        move_status(registration, LinePayRegistrationStatus.CONFIRMED)
        registration.payment_method = method
        registration.save(update_fields=["status", "payment_method"])
    return method


def linepay_registration_cancel(*, registration: LinePayRegistration) -> None:
    move_statuses(
        LinePayRegistration.objects.filter(pk=registration.pk),
        from_statuses=[LinePayRegistrationStatus.PENDING],
        to_status=LinePayRegistrationStatus.CANCELLED,
    )
