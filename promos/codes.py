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


# Bulk drawing: each random byte below 248 (= 8 × 31) stands for one symbol, 8 byte values to each, so every
# symbol is equally likely; the 8 bytes above are dropped (no modulo bias). bytes.translate does the mapping and
# the dropping in C, a buffer at a time, rather than one Python step a symbol.
_UNBIASED = 256 - 256 % len(ALPHABET)
_BYTE_TO_SYMBOL = bytes(ALPHABET.encode("ascii")[b % len(ALPHABET)] for b in range(256))
_DROPPED = bytes(range(_UNBIASED, 256))


def random_codes(count: int) -> list[str]:
    """`count` fresh codes from big buffers of OS randomness: the same alphabet, length and odds as random_code."""
    need = count * CODE_LENGTH
    parts, have = [], 0
    while have < need:
        # 248 of 256 bytes are kept: ask for what that share needs and a little more, so one draw nearly always does.
        symbols = secrets.token_bytes((need - have) * 260 // _UNBIASED + 64).translate(_BYTE_TO_SYMBOL, _DROPPED)
        parts.append(symbols)
        have += len(symbols)
    text = b"".join(parts)[:need].decode("ascii")
    return [text[start : start + CODE_LENGTH] for start in range(0, need, CODE_LENGTH)]


def looks_like_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code)
