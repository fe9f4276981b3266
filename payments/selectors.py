"""Reads of payment methods used in more than one place."""

from accounts.models import OfficialAccount
from payments.models import PaymentMethod


def main_payment_method(account: OfficialAccount) -> PaymentMethod | None:
    return PaymentMethod.objects.usable().filter(account=account, is_main=True).first()
