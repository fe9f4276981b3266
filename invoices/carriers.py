"""Carriers (載具): which ones the seller may offer, and the MIG carrier type of each.

The common carriers, 手機條碼 (3J0002) and 自然人憑證 (CQ0001), are open to every seller. Any other carrier type
is assigned by MOF to an approved carrier platform (einvoice-compliance.md §4.2: "填入平台配發的載具類別號碼"),
so a seller cannot invent one: the 會員載具 is offered only when `EINVOICE_MEMBER_CARRIER_TYPE` holds the code
MOF assigned to this seller. Without it an invoice to a member carrier falls back to what the rules allow for
a buyer with no carrier, no donation and no 統編: a printed 證明聯 (PrintMark Y; §4.4 "無載具、無捐贈、無統編的電子發票
一定要列印").
"""

import re

from django.conf import settings

MOBILE_BARCODE_TYPE = "3J0002"
CITIZEN_CERTIFICATE_TYPE = "CQ0001"
COMMON_CARRIER_TYPES = (MOBILE_BARCODE_TYPE, CITIZEN_CERTIFICATE_TYPE)
# "AA0000": an industry character, a carrier-category character, a 4-digit serial. Published codes start
# with a digit as often as with a letter (1K0001 悠遊卡, EJ0113), so both are taken.
CARRIER_TYPE_RE = re.compile(r"[0-9A-Z]{2}[0-9]{4}")


def member_carrier_type() -> str:
    """The CarrierType MOF assigned to this seller as a carrier platform, or "" when it is not one."""
    return getattr(settings, "EINVOICE_MEMBER_CARRIER_TYPE", "")


def carrier_type_problem(code: str) -> str:
    """Why `code` cannot be the seller's member-carrier type ("" when it can): used to check the setting."""
    if not CARRIER_TYPE_RE.fullmatch(code):
        return "a carrier type is 6 characters: 2 letters or digits, then 4 digits (e.g. EJ0113)"
    if code in COMMON_CARRIER_TYPES:
        return f"{code} is a common carrier (手機條碼 or 自然人憑證), not a member carrier"
    return ""
