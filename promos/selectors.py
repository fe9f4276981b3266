from billing.pricing import CodeTerms
from promos.codes import normalise_code
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
