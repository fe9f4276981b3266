"""Reads of the e-invoice information that other apps use."""


def has_einvoice_profile(account) -> bool:
    """Whether the account registered its e-invoice information, which comes before its first payment method
    and before any purchase (SPEC §4). Reads the profile the account was selected with, when it was."""
    return hasattr(account, "einvoice_profile")


def einvoice_profile_ready(account) -> bool:
    """Whether the account's e-invoice information can be used for its next invoice as it stands: registered,
    and of a kind this seller still offers (a 會員載具 kept from before is not, where the seller is no carrier
    platform: the checkout asks its admin to choose again). Renewals do not ask: invoices/issuing.py prints."""
    profile = getattr(account, "einvoice_profile", None)
    return profile is not None and not profile.needs_another_carrier


def cardholder_of(account) -> dict:
    """Who holds the card, as a gateway asks (TapPay): the account's e-invoice name and e-mail, which come first."""
    profile = getattr(account, "einvoice_profile", None)
    if profile is None:
        return {"name": account.name, "email": "", "phone_number": ""}
    return {"name": profile.company_title or profile.name or account.name, "email": profile.email, "phone_number": ""}
