"""Channel access tokens at rest: encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`).

The keys come from MESSAGING_TOKEN_KEY (config/settings.py reads it through `token_keys`): one Fernet key, or
several separated by commas to rotate them: the first encrypts, any of them decrypts.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def token_keys(value: str, *, debug: bool, secret_key: str) -> list[str]:
    """The Fernet keys the setting names; with DEBUG on and none set, one derived from SECRET_KEY (a laptop
    needs no extra secret; production must have its own, so that a leaked SECRET_KEY alone opens no token)."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        if not debug:
            raise ImproperlyConfigured(
                "Set MESSAGING_TOKEN_KEY in the environment or in .env: the key that encrypts the Messaging API "
                "channel tokens (make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`). Only with DEBUG on is one derived from SECRET_KEY."
            )
        digest = hashlib.sha256(b"oa-billing messaging token key\x00" + secret_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                "MESSAGING_TOKEN_KEY is not a Fernet key (32 bytes in URL-safe base64, 44 characters)."
            ) from None
    return keys


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.MESSAGING_TOKEN_KEYS])


def token_encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def token_decrypt(encrypted: str) -> str:
    """The token in clear, for the one call that sends it; raises TokenUnreadable if no key opens it."""
    try:
        return _fernet().decrypt(encrypted.encode()).decode()
    except InvalidToken:
        raise TokenUnreadable("no MESSAGING_TOKEN_KEY opens this channel's token") from None


class TokenUnreadable(Exception):
    """The stored token was encrypted with a key that is no longer configured."""
