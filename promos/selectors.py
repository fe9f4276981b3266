from accounts.models import OfficialAccount
from payments.models import PaymentMethod
from payments.selectors import main_payment_method
from promos.codes import normalise_code
from promos.eligibility import Buyer, CodeTerms
from promos.models import PromoCode


def code_terms(code: PromoCode) -> CodeTerms:
    campaign = code.campaign
    return CodeTerms(
        code=code.code,
        status=code.status,
        registered_account_id=code.registered_account_id,
        face_value_twd=campaign.face_value_twd,
        valid_from=campaign.valid_from,
        valid_until=campaign.valid_until,
        regions=frozenset(campaign.regions),
        payment_method_kinds=frozenset(campaign.payment_method_kinds),
        charge_kinds=frozenset(campaign.charge_kinds),
    )


def find_code(text: str) -> PromoCode | None:
    """The code an admin typed, however they typed it; None when there is no such code."""
    normalised = normalise_code(text)
    if not normalised:
        return None
    return PromoCode.objects.select_related("campaign").filter(code=normalised).first()


def registered_code(account) -> PromoCode | None:
    return PromoCode.objects.select_related("campaign").filter(registered_account=account).first()


def buyer_for(account: OfficialAccount) -> Buyer:
    return buyer_with(account, main_payment_method(account))


def buyer_with(account: OfficialAccount, method: PaymentMethod | None) -> Buyer:
    """The buyer, given the main payment method the caller already read (None: the account has none)."""
    return Buyer(account_id=account.pk, region=account.region, main_payment_method_kind=method.kind if method else None)
