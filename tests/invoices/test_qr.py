"""The QR pair of the B2C 電子發票證明聯 (SPEC §4; einvoice-compliance.md §2): MOF's public vectors, the layout,
the split between the two codes, and the codes as a reader decodes them."""

import base64
import re
from datetime import date, datetime

import pytest
import zxingcpp
from django.db import DataError, IntegrityError, transaction
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.periods import BILLING_TZ
from config.debug import AlwaysSafeExceptionReporterFilter
from invoices.qr import (
    BYTES_AT_L,
    aes_key_from_seed,
    encrypted_check,
    fixed_part,
    invoice_qr_pair,
    invoice_qr_texts,
    qr_symbols,
    qr_texts,
)
from tests.factories import InvoiceFactory, MembershipFactory

# §2.5 A and §2.4: MOF's key tool gives this key for the seed 24634102, and the key encrypts XF00001234 + 9876.
SEED = "24634102"
KEY = bytes.fromhex("FE05F029154F6AA67A78B338ED2F6601")
# §2.5 E: a complete left code built from those parts.
EXAMPLE_E_LEFT = "XF0000123411501159876000003e80000041a0000000024634102CamotDNRUN8bVyY5S1BhFQ==:**********:1:1:1:中用量方案月費:1:1050"  # noqa: E501 (as the reference prints it)
FIXED = re.compile(
    r"\A(?P<number>[A-Z]{2}\d{8})(?P<date>\d{7})(?P<random>\d{4})(?P<sales>[0-9a-f]{8})(?P<total>[0-9a-f]{8})"
    r"(?P<buyer>\d{8})(?P<seller>\d{8})(?P<check>[A-Za-z0-9+/]{22}==)\Z"
)


def example_e_fixed(key=KEY) -> str:
    return fixed_part(
        number="XF00001234",
        issued_on=date(2026, 1, 15),
        random_code="9876",
        sales_twd=1000,
        total_twd=1050,
        buyer_ubn="00000000",
        seller_ubn="24634102",
        key=key,
    )


def decoded(symbol) -> str:
    """What a reader gets from the drawn code: the symbol's pixels (4 per module, a 4-module quiet zone) through
    zxing-cpp, read as UTF-8 (the codes' encoding parameter says 1)."""
    rows = list(symbol.matrix_iter(scale=4, border=4))
    pixels = bytearray(0 if dark else 255 for row in rows for dark in row)
    results = zxingcpp.read_barcodes(memoryview(pixels).cast("B", (len(rows), len(rows[0]))))
    assert [result.format.name for result in results] == ["QRCode"]
    return results[0].bytes.decode("utf-8")


def item_part(left: str, right: str) -> list[str]:
    """The `:`-separated fields after the fixed part, the two codes joined as a reader joins them."""
    assert right.startswith("**")
    return (left[77:] + right[2:]).split(":")[1:]


# ---- MOF's vectors --------------------------------------------------------------------------------


def test_the_seed_password_gives_the_key_of_mofs_key_tool():
    assert aes_key_from_seed(SEED) == KEY
    assert aes_key_from_seed("changeit").hex().upper() == "7DE1747AA8613314C0C95ACCC5568911"  # §2.4's second pair


def test_the_key_encrypts_the_number_and_random_code_as_the_public_vector():
    assert encrypted_check(number="XF00001234", random_code="9876", key=KEY) == "CamotDNRUN8bVyY5S1BhFQ=="


def test_the_check_field_is_aes_128_cbc_with_the_platforms_iv_and_decrypts_back():
    # given the check field of the vector
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    ciphertext = base64.b64decode(encrypted_check(number="XF00001234", random_code="9876", key=KEY))
    # when it is decrypted with the IV the spec publishes
    iv = bytes.fromhex("0edf25c93a28d7b5ff5e45da42f8a1b8")
    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plaintext = unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    # then it is the number and the random code
    assert plaintext == b"XF000012349876"


def test_the_fixed_part_and_the_single_item_left_code_of_example_e():
    # when the left code of §2.5 E is built from its parts
    left, right = qr_texts(fixed=example_e_fixed(), items=[("中用量方案月費", 1, 1050)])
    # then it is the reference's string, 77 characters before the items, and the right code holds only **
    assert left == EXAMPLE_E_LEFT
    assert len(left.split(":")[0]) == 77
    assert FIXED.match(left[:77]).groupdict() == {
        "number": "XF00001234",
        "date": "1150115",
        "random": "9876",
        "sales": "000003e8",
        "total": "0000041a",
        "buyer": "00000000",
        "seller": "24634102",
        "check": "CamotDNRUN8bVyY5S1BhFQ==",
    }
    assert right == "**"


def test_the_items_of_the_specs_example_b_read_as_the_spec_writes_them():
    # given the three items of the spec's own example (its UTF-8 variant)
    items = [("乾電池", 1, 105), ("口罩", 1, 210), ("牛奶", 1, 25)]
    # when they are laid out
    left, right = qr_texts(fixed=example_e_fixed(), items=items)
    # then the counts, the encoding and name:quantity:unit price follow the fixed part as in the spec; what a
    # version-6 left code cannot hold goes on in the right one after its **
    assert left[77:] == ":**********:3:3:1:乾電池:1:105:口罩:1:210:"
    assert right == "**牛奶:1:25"
    assert len(left.encode()) <= BYTES_AT_L[6]


def test_items_that_overflow_the_left_go_on_in_the_right_after_a_trailing_colon():
    # given items too many for one version-6 code
    items = [(f"品目{n}", 1, 100 + n) for n in range(8)]
    # when they are laid out
    left, right = qr_texts(fixed=example_e_fixed(), items=items)
    # then the left ends in ':' as the spec's example does, the right starts with **, and joined they list all
    assert left.endswith(":")
    assert right.startswith("**品目")
    fields = item_part(left, right)
    assert fields[:4] == ["**********", "8", "8", "1"]
    assert fields[4:] == [value for n in range(8) for value in (f"品目{n}", "1", str(100 + n))]
    assert qr_symbols(left, right)[0].version == 6


def test_an_item_too_long_for_either_code_is_passed_over_and_counted_as_not_recorded():
    # given a name of 400 characters between two short items
    items = [("月費", 1, 800), ("長" * 400, 1, 20), ("加購訊息", 1, 20)]
    # when they are laid out
    left, right = qr_texts(fixed=example_e_fixed(), items=items)
    # then the codes record the two that fit, and say 2 of 3
    fields = item_part(left, right)
    assert fields[1:3] == ["2", "3"]
    assert fields[4:] == ["月費", "1", "800", "加購訊息", "1", "20"]
    assert qr_symbols(left, right)[0].version <= max(BYTES_AT_L)


def test_a_colon_in_a_name_is_not_a_separator():
    # the spec: 「品名請勿使用冒號」; a full-width colon stands in, and runs of white space become one space
    left, _right = qr_texts(fixed=example_e_fixed(), items=[("方案:中用量\n月費", 1, 840)])
    assert left[77:] == ":**********:1:1:1:方案：中用量 月費:1:840"


def test_a_wrong_field_is_refused_rather_than_encoded():
    for wrong in ({"number": "XF0000123"}, {"random_code": "98a6"}, {"buyer_ubn": "0000000000"}, {"sales_twd": -1}):
        arguments = {
            "number": "XF00001234",
            "issued_on": date(2026, 1, 15),
            "random_code": "9876",
            "sales_twd": 1000,
            "total_twd": 1050,
            "buyer_ubn": "00000000",
            "seller_ubn": "24634102",
            "key": KEY,
        } | wrong
        with pytest.raises(ValueError):
            fixed_part(**arguments)


# ---- the drawn codes --------------------------------------------------------------------------------


def test_both_codes_decode_to_their_text_at_one_version_of_at_least_6_with_error_correction_l():
    # given the left and right texts of a three-line invoice
    items = [("LINE官方帳號 中用量 月費 2026-01", 1, 840), ("優惠活動代碼折抵", 1, -840), ("加購訊息", 1, 315)]
    left_text, right_text = qr_texts(fixed=example_e_fixed(), items=items)
    # when they are drawn
    left, right = qr_symbols(left_text, right_text)
    # then a reader gets each text back, both codes have one version, at least 6, and level L
    assert (decoded(left), decoded(right)) == (left_text, right_text)
    assert left.version == right.version >= 6
    assert (left.error, right.error) == ("L", "L")
    assert left.symbol_size(border=0) == right.symbol_size(border=0) == (4 * left.version + 17,) * 2


names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from([":", "：", "中", "用", "量", " ", "*"]),
    min_size=0,
    max_size=120,
)


@settings(max_examples=60, deadline=None)
@given(items=st.lists(st.tuples(names, st.integers(-99_999, 999_999)), min_size=0, max_size=12))
def test_any_item_names_keep_the_format(items):
    # given items with any names (Chinese, colons, long ones) and amounts, one unit each
    lines = [(name, 1, amount) for name, amount in items]
    # when they are laid out and drawn
    left, right = qr_texts(fixed=example_e_fixed(), items=lines)
    left_symbol, right_symbol = qr_symbols(left, right)
    # then the fixed part is intact, the right starts with **, and the fields parse back: the seller's area,
    # the counts (recorded ≤ total), the encoding, and recorded × name:quantity:unit price, each name free of ':'
    assert FIXED.match(left[:77]) and left[77] == ":"
    fields = item_part(left, right)
    recorded, total = int(fields[1]), int(fields[2])
    assert (fields[0], total, fields[3]) == ("**********", len(lines), "1")
    assert recorded <= total
    assert len(fields) == 4 + 3 * recorded
    recorded_items = [tuple(fields[index : index + 3]) for index in range(4, len(fields), 3)]
    expected = iter((" ".join(name.replace(":", "：").split()), "1", str(amount)) for name, _quantity, amount in lines)
    assert all(item in expected for item in recorded_items)  # the invoice's items, in its order
    # and both codes stay within version 10 and one size
    assert 6 <= left_symbol.version == right_symbol.version <= max(BYTES_AT_L)
    if all(len(f"{name}:1:{amount}".encode()) < 60 for name, _quantity, amount in lines) and len(lines) <= 4:
        assert recorded == total  # short items all fit


# ---- an invoice's codes -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_invoices_codes_carry_its_untaxed_sales_its_total_and_its_tax_inclusive_lines(settings):
    # given an issued B2C invoice of NT$800 + 40 and the seller's 種子密碼
    settings.EINVOICE_QR_SEED_PASSWORD = SEED
    invoice = InvoiceFactory(
        number="XF00001234",
        random_code="9876",
        issued_at=datetime(2026, 1, 15, 23, 30, tzinfo=BILLING_TZ),
        seller={"ubn": "24634102", "name": "示範公司"},
    )
    # when its codes are made
    pair = invoice_qr_pair(invoice)
    # then the fixed part has the Taipei date, the untaxed sales (800 = 0x320), the total (840 = 0x348), 8 zeros
    # for the consumer and the vector's check field; the item is the tax-inclusive line
    fixed = [
        "XF00001234",
        "1150115",
        "9876",
        "00000320",
        "00000348",
        "00000000",
        "24634102",
        "CamotDNRUN8bVyY5S1BhFQ==",
    ]
    assert pair.left_text == "".join(fixed) + ":**********:1:1:1:中用量 2026-01:1:840"
    assert pair.right_text == "**"
    assert 'class="qr"' in pair.left_svg and "<title>QR code (left)</title>" in pair.left_svg


@pytest.mark.django_db
def test_without_a_seed_there_are_no_codes(settings):
    settings.EINVOICE_QR_SEED_PASSWORD = ""
    assert invoice_qr_pair(InvoiceFactory()) is None


@pytest.mark.django_db
def test_a_b2b_invoice_gets_no_consumer_codes():
    invoice = InvoiceFactory(buyer={"kind": "company", "identifier": "04595252", "ubn": "04595252", "name": "小店"})
    with pytest.raises(ValueError):
        invoice_qr_texts(invoice, key=KEY)


def test_the_seed_password_is_hidden_from_error_reports(settings):
    settings.EINVOICE_QR_SEED_PASSWORD = SEED
    shown = AlwaysSafeExceptionReporterFilter().get_safe_settings()["EINVOICE_QR_SEED_PASSWORD"]
    assert SEED not in str(shown)


# ---- the proof page --------------------------------------------------------------------------------------


def proof_page(client, invoice) -> str:
    membership = MembershipFactory(account=invoice.charge.account)
    client.force_login(membership.user)
    response = client.get(reverse("invoices:proof", args=[invoice.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_the_b2c_proof_shows_both_codes_side_by_side_at_the_specs_size(client, settings):
    # given an issued B2C invoice and the seller's 種子密碼
    settings.EINVOICE_QR_SEED_PASSWORD = SEED
    invoice = InvoiceFactory()
    # when its proof is shown
    page = proof_page(client, invoice)
    # then the page draws the two codes made for it, 2.1 cm each (at least 1.5) with 0.2 cm of white round each
    pair = invoice_qr_pair(invoice)
    assert f'<figure data-testid="proof-qr-left">{pair.left_svg}</figure>' in page
    assert f'<figure data-testid="proof-qr-right">{pair.right_svg}</figure>' in page
    assert f'data-qr-version="{pair.version}"' in page
    assert "svg.qr { width: 2.1cm; height: 2.1cm;" in page
    assert "figure { margin: 0; padding: .2cm; background: #fff;" in page
    assert 'data-testid="proof-qr-missing"' not in page
    assert SEED not in page


@pytest.mark.django_db
def test_without_a_seed_the_proof_says_the_codes_are_not_available(client, settings):
    settings.EINVOICE_QR_SEED_PASSWORD = ""
    page = proof_page(client, InvoiceFactory())
    assert 'data-testid="proof-qr-missing"' in page
    assert "種子密碼" in page or "seed" in page
    assert 'class="qr"' not in page


@pytest.mark.django_db
def test_an_invoice_that_cannot_make_a_valid_code_gets_none_and_staff_a_log_line(client, settings, caplog):
    # given an invoice whose seller snapshot lost its UBN's last digit
    settings.EINVOICE_QR_SEED_PASSWORD = SEED
    invoice = InvoiceFactory(seller={"ubn": "1234567", "name": "示範公司"})
    # when its proof is shown
    page = proof_page(client, invoice)
    # then no code is drawn, the page says so, and the log says why (not the seed)
    assert 'class="qr"' not in page
    assert 'data-testid="proof-qr-missing"' in page
    assert f"The QR codes of invoice {invoice.pk} cannot be made" in caplog.text
    assert SEED not in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "invoice_fields",
    [
        {"buyer": {"kind": "company", "identifier": "04595252", "ubn": "04595252", "name": "小店"}},
        {"status": "pending", "number": None, "issued_at": None},
        {"status": "voided", "void_reason": "重複扣款"},
    ],
    ids=["B2B", "number pending", "voided"],
)
def test_only_an_issued_b2c_invoice_carries_the_codes(client, settings, invoice_fields):
    settings.EINVOICE_QR_SEED_PASSWORD = SEED
    page = proof_page(client, InvoiceFactory(**invoice_fields))
    assert 'data-testid="proof-qr' not in page


@pytest.mark.django_db
@pytest.mark.parametrize("random_code", ["123", "12a4", "", "12345"])
def test_the_database_keeps_the_random_code_four_digits(random_code):
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        InvoiceFactory(random_code=random_code)
