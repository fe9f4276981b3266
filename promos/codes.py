"""What a promo code looks like: its alphabet, length, normal form and display form."""

import secrets
import unicodedata

# No 0/O, 1/I/L: nothing a person could misread when typing a code off a card.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# 20 symbols of 31 carry 99 bits of randomness; 16 would carry 79.3, under the 80-bit floor.
CODE_LENGTH = 20
GROUP = 4

_IGNORED = {" ", "-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\u3000", "\t"}


def normalise_code(text: str) -> str:
    """Fold a typed code to its stored form: full-width to ASCII, upper case, no dashes or spaces."""
    folded = unicodedata.normalize("NFKC", text or "").upper()
    return "".join(ch for ch in folded if ch not in _IGNORED)


def format_code(code: str) -> str:
    """Show a stored code in groups of four: ABCD-EFGH-…"""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def random_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def random_codes(count: int) -> list[str]:
    """`count` fresh codes, drawn from one buffer of OS randomness (much faster than secrets.choice)."""
    # 31 symbols: take bytes below 248 (= 8 × 31) so every symbol is equally likely.
    codes = []
    need = count * CODE_LENGTH
    symbols: list[str] = []
    while len(symbols) < need:
        chunk = secrets.token_bytes(int((need - len(symbols)) * 1.05) + 64)
        symbols.extend(ALPHABET[b % 31] for b in chunk if b < 248)
    for i in range(count):
        codes.append("".join(symbols[i * CODE_LENGTH : (i + 1) * CODE_LENGTH]))
    return codes


def looks_like_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code)
