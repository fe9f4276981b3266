"""The B2C 電子發票證明聯 in Chromium: after a purchase, its proof draws MOF's two QR codes side by side, at
least 1.5 cm each, and a reader decodes them into the invoice's own fixed part and tax-inclusive items."""

import base64
import io

import pytest
import zxingcpp
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from accounts.periods import BILLING_TZ
from invoices.issuing import invoice_period
from invoices.models import InvoiceNumberRange
from invoices.qr import aes_key_from_seed
from payments.models import Charge
from tests.e2e.pages import agree_and_purchase, choose_account, log_in, settings_nav, upgrade
from tests.helpers import ready_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED = "24634102"
PLATFORM_IV = bytes.fromhex("0edf25c93a28d7b5ff5e45da42f8a1b8")  # the spec's, written out here on purpose
CSS_PX_PER_CM = 96 / 2.54


def read_code(figure) -> str:
    """The code in a figure of the page, from Chromium's own pixels (a screenshot), through zxing-cpp."""
    image = Image.open(io.BytesIO(figure.screenshot())).convert("L")
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1
    return results[0].bytes.decode("utf-8")


def test_the_proof_of_a_b2c_purchase_shows_two_qr_codes_that_decode_to_the_invoice(desktop, settings, screenshot):
    # given a returning admin with a personal (B2C) e-invoice profile, the period's 字軌, the seller's 種子密碼
    settings.EINVOICE_QR_SEED_PASSWORD = SEED
    membership = ready_admin(medium=True)
    InvoiceNumberRange.objects.create(
        period=invoice_period(timezone.localdate()), prefix="ZX", first_number=100, last_number=199
    )
    page = desktop
    log_in(page, membership.user)
    choose_account(page, membership.account)
    settings_nav(page, "plans")
    upgrade(page, "high")
    # when they buy the upgrade (NT$400 + 20) and open the invoice's proof from the receipt
    agree_and_purchase(page)
    page.get_by_test_id("receipt-invoice").get_by_role("link").click()
    expect(page.get_by_test_id("proof-number")).to_have_text("ZX-00000100")
    left, right = page.get_by_test_id("proof-qr-left"), page.get_by_test_id("proof-qr-right")
    expect(left.locator("svg")).to_be_visible()
    screenshot(page)
    invoice = Charge.objects.get(account=membership.account).invoice
    # then the two codes are side by side, tops level, one size, each at least 1.5 cm with white round it
    left_box, right_box = left.locator("svg").bounding_box(), right.locator("svg").bounding_box()
    assert left_box["y"] == right_box["y"]
    assert left_box["x"] + left_box["width"] < right_box["x"]
    assert (left_box["width"], left_box["height"]) == (right_box["width"], right_box["height"])
    assert left_box["width"] >= 1.5 * CSS_PX_PER_CM
    assert left.bounding_box()["width"] - left_box["width"] >= 2 * 0.2 * CSS_PX_PER_CM - 1
    # and the left decodes to the invoice's 77-character fixed part, then its items
    left_text, right_text = read_code(left), read_code(right)
    issued = timezone.localtime(invoice.issued_at, BILLING_TZ)
    fixed = left_text[:77]
    assert fixed[:10] == "ZX00000100"
    assert fixed[10:17] == f"{issued.year - 1911:03d}{issued:%m%d}"
    assert fixed[17:21] == invoice.random_code
    assert (int(fixed[21:29], 16), int(fixed[29:37], 16)) == (400, 420)  # untaxed sales, tax-inclusive total
    assert fixed[21:37] == fixed[21:37].lower()
    assert fixed[37:45] == "00000000"
    assert fixed[45:53] == settings.SELLER_UBN
    decryptor = Cipher(algorithms.AES(aes_key_from_seed(SEED)), modes.CBC(PLATFORM_IV)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = decryptor.update(base64.b64decode(fixed[53:77])) + decryptor.finalize()
    assert unpadder.update(plain) + unpadder.finalize() == f"ZX00000100{invoice.random_code}".encode()
    # and the items, both codes read together, are the proof's tax-inclusive lines, adding up to the total
    assert right_text.startswith("**")
    fields = (left_text[77:] + right_text[2:]).split(":")[1:]
    assert fields[:4] == ["**********", "1", "1", "1"]
    shown = [int(amount) for amount in page.get_by_test_id("proof-line-amount").all_inner_texts()]
    assert [int(fields[6])] == shown == [420]
    assert fields[4] == page.get_by_test_id("proof-line").locator("dt").inner_text()
