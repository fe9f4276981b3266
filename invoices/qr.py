"""The two QR codes of the 電子發票證明聯 (MOF 「電子發票證明聯一維及二維條碼規格說明」 v1.8).

Facts and sources: shared/reference/einvoice-compliance.md §2. The left code starts with a 77-character fixed
part: invoice number (10), ROC date (7), random code (4), untaxed sales and tax-inclusive total as 8-digit
lowercase hexadecimal, buyer UBN (8 zeros for a consumer), seller UBN, and 24 characters of AES-128-CBC over
the number and random code. Then come `:`-separated fields: the seller's own area, the item counts, the text
encoding and the items as name:quantity:unit price. What does not fit goes on in the right code, which starts
with `**`.

The AES key is derived from the seller's 種子密碼 (EINVOICE_QR_SEED_PASSWORD) the way MOF's own key tool does
(§2.4), so staff configure the same password they set on the platform. The password and the key are secrets:
nothing here logs them, and the functions holding them hide them from error reports.
"""

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import date

import segno
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.debug import sensitive_variables

from accounts.periods import BILLING_TZ
from invoices.amounts import invoice_lines

# The platform's fixed IV (the spec's sample code) and the salt MOF's key tool adds to the seed password.
PLATFORM_IV = base64.b64decode("Dt8lyToo17X/XkXaQvihuA==")
KEY_TOOL_SALT = base64.b64decode("Nd8NUYIxHIBxlzExqGM9gA==")

FIXED_LENGTH = 77
CONSUMER_BUYER = "00000000"
SELLER_AREA_UNUSED = "**********"
UTF8 = "1"  # 中文編碼參數: 0 Big5, 1 UTF-8, 2 Base64
RIGHT_MARKER = "**"
# The spec asks for version 6 or above with error correction L or above. Both codes are drawn at one version,
# so they print the same size with modules of one size. The bytes each version holds at L in byte mode (ISO/IEC
# 18004 table 7); no more than version 10: 2.1 cm wide on the 5.7 cm roll, its modules are still 0.37 mm.
BYTES_AT_L = {6: 134, 7: 154, 8: 192, 9: 230, 10: 271}
MIN_VERSION = min(BYTES_AT_L)
NAME_SEPARATOR_STANDIN = "："  # the spec forbids ':' in a name; the full-width colon reads the same

NUMBER = re.compile(r"\A[A-Z]{2}[0-9]{8}\Z")
RANDOM_CODE = re.compile(r"\A[0-9]{4}\Z")
UBN = re.compile(r"\A[0-9]{8}\Z")


@sensitive_variables("seed_password", "seed", "state")
def aes_key_from_seed(seed_password: str) -> bytes:
    """The 128-bit key MOF's 「AES 金鑰產生工具」 derives from a 種子密碼 (§2.4): 24634102 → FE05F029….

    The tool seeds Java's SHA1PRNG with SHA-1(password ‖ salt) and takes the key's 16 bytes from its first
    output block. Seeded before first use, SHA1PRNG's state is SHA-1(seed) and its first block SHA-1(state); the
    state update after a block only matters for a 21st byte, which a 16-byte key never asks for.
    """
    seed = hashlib.sha1(seed_password.encode() + KEY_TOOL_SALT).digest()  # noqa: S324 (MOF's algorithm)
    state = hashlib.sha1(seed).digest()  # noqa: S324
    return hashlib.sha1(state).digest()[:16]  # noqa: S324


@sensitive_variables("key")
def encrypted_check(*, number: str, random_code: str, key: bytes) -> str:
    """加密驗證資訊: AES-128-CBC of number + random code (14 bytes, PKCS7-padded to one block) with the
    platform's IV, in Base64: always 24 characters."""
    padder = padding.PKCS7(128).padder()
    plaintext = padder.update(f"{number}{random_code}".encode("ascii")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(PLATFORM_IV)).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode("ascii")


def roc_date(day: date) -> str:
    """2026-01-15 → 1150115 (ROC year, month, day)."""
    return f"{day.year - 1911:03d}{day.month:02d}{day.day:02d}"


def hex8(amount_twd: int) -> str:
    if not 0 <= amount_twd <= 0xFFFFFFFF:
        raise ValueError(f"NT${amount_twd} does not fit the QR code's 8 hexadecimal digits")
    return f"{amount_twd:08x}"


@sensitive_variables("key")
def fixed_part(
    *,
    number: str,
    issued_on: date,
    random_code: str,
    sales_twd: int,
    total_twd: int,
    buyer_ubn: str,
    seller_ubn: str,
    key: bytes,
) -> str:
    """The left code's first 77 characters; a ValueError rather than a wrong one."""
    for name, value, pattern in (
        ("invoice number", number, NUMBER),
        ("random code", random_code, RANDOM_CODE),
        ("buyer UBN", buyer_ubn, UBN),
        ("seller UBN", seller_ubn, UBN),
    ):
        if not pattern.match(value or ""):
            raise ValueError(f"the {name} {value!r} cannot go in the QR code")
    text = (
        f"{number}{roc_date(issued_on)}{random_code}{hex8(sales_twd)}{hex8(total_twd)}{buyer_ubn}{seller_ubn}"
        f"{encrypted_check(number=number, random_code=random_code, key=key)}"
    )
    if len(text) != FIXED_LENGTH:
        raise ValueError(f"the fixed part came out {len(text)} characters long, not {FIXED_LENGTH}")
    return text


def item_name(description: str) -> str:
    """A name the `:`-separated item part can hold: no ':' (the spec forbids it in a name), one line."""
    return " ".join(str(description).replace(":", NAME_SEPARATOR_STANDIN).split())


def item_fields(items: list[tuple[str, int, int]]) -> list[str]:
    """name:quantity:unit price of each item, in decimal."""
    return [f"{item_name(name)}:{quantity}:{unit_price}" for name, quantity, unit_price in items]


def qr_texts(*, fixed: str, items: list[tuple[str, int, int]]) -> tuple[str, str]:
    """The left and right codes' text: the fixed part, the seller's area, the item counts, UTF-8, then whole
    items in order, on the left while it has room, then on the right; at the smallest version (6 to 10) at
    which every item fits, so the codes stay as coarse as they can. An item too long for any room left is
    passed over and the next ones tried, so the codes record as many items as they can hold (the spec's
    「以記載最多可放置於左右兩個二維條碼內容之品目為原則」); field 10 then counts fewer than field 11.
    The left ends in ':' when items go on in the right, as the spec's example does, so the left's text and the
    right's after `**` make the whole."""
    fields = item_fields(items)
    for budget in BYTES_AT_L.values():
        left, right, recorded = _placed(fixed, fields, budget)
        if recorded == len(fields):
            break
    return left, right


def _placed(fixed: str, fields: list[str], budget: int) -> tuple[str, str, int]:
    def fits(text: str) -> bool:
        return len(text.encode()) <= budget

    header = _header(fixed, len(fields), len(fields))  # the longest the counts can be
    left_fields, right_fields = [], []
    for field in fields:
        # The left's room keeps a byte for the ':' it ends with when the items go on in the right.
        if not right_fields and fits(header + _joined([*left_fields, field]) + ":"):
            left_fields.append(field)
        elif fits(RIGHT_MARKER + ":".join([*right_fields, field])):
            right_fields.append(field)
    recorded = len(left_fields) + len(right_fields)
    left = _header(fixed, recorded, len(fields)) + _joined(left_fields) + (":" if right_fields else "")
    return left, RIGHT_MARKER + ":".join(right_fields), recorded


def _joined(fields: list[str]) -> str:
    return "".join(f":{field}" for field in fields)


def _header(fixed: str, recorded: int, total: int) -> str:
    return f"{fixed}:{SELLER_AREA_UNUSED}:{recorded}:{total}:{UTF8}"


def qr_symbols(left: str, right: str) -> tuple[segno.QRCode, segno.QRCode]:
    """The two codes at one version (6 or above), error correction L, UTF-8 in byte mode."""

    def make(text, version=None):
        return segno.make_qr(text, error="L", version=version, mode="byte", encoding="utf-8", boost_error=False)

    version = max(MIN_VERSION, make(left).version, make(right).version)
    return make(left, version), make(right, version)


def configured_key() -> bytes | None:
    """The AES key of the configured 種子密碼, or None when there is none."""
    seed_password = settings.EINVOICE_QR_SEED_PASSWORD
    return aes_key_from_seed(seed_password) if seed_password else None


@dataclass(frozen=True)
class QrPair:
    left_text: str
    right_text: str
    left_svg: SafeString
    right_svg: SafeString
    version: int


@sensitive_variables("key")
def invoice_qr_texts(invoice, *, key: bytes) -> tuple[str, str]:
    """The left and right codes of an issued B2C invoice: the untaxed sales and the total in the fixed part, its
    tax-inclusive lines in the item part. (The proof of a B2B invoice prints its lines; its QR codes, with 4
    spaces for a random code, are not made here.)"""
    if invoice.is_b2b:
        raise ValueError("the QR codes are made for a B2C invoice only")
    fixed = fixed_part(
        number=invoice.number or "",
        issued_on=timezone.localtime(invoice.issued_at, BILLING_TZ).date(),
        random_code=invoice.random_code,
        sales_twd=invoice.sales_twd,
        total_twd=invoice.total_twd,
        buyer_ubn=CONSUMER_BUYER,
        seller_ubn=invoice.seller.get("ubn", ""),
        key=key,
    )
    items = [(line["description"], line["quantity"], line["unit_price_twd"]) for line in invoice_lines(invoice)]
    return qr_texts(fixed=fixed, items=items)


@sensitive_variables("key")
def invoice_qr_pair(invoice) -> QrPair | None:
    """The invoice's two codes drawn as inline SVG, or None when no 種子密碼 is configured (never a code
    encrypted with a wrong key). A ValueError when the invoice's own fields cannot make a valid code."""
    key = configured_key()
    if key is None:
        return None
    left_text, right_text = invoice_qr_texts(invoice, key=key)
    left, right = qr_symbols(left_text, right_text)
    return QrPair(
        left_text=left_text,
        right_text=right_text,
        left_svg=_svg(left, "QR code (left)"),
        right_svg=_svg(right, "QR code (right)"),
        version=left.version,
    )


def _svg(symbol: segno.QRCode, title: str) -> SafeString:
    # No quiet zone in the drawing: the template pads each code with 0.2 cm of white, as the spec asks, whatever
    # the version. Sized by the template's CSS, so no width or height here.
    svg = symbol.svg_inline(border=0, omitsize=True, svgclass="qr", title=title)
    return mark_safe(svg)  # noqa: S308 (segno's own SVG, the title ours)
