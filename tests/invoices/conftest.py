"""The invoices tests' shared fixture: one period with each kind of MIG message."""

from datetime import datetime

import pytest

from accounts.periods import BILLING_TZ
from invoices.issuing import invoice_allowance, invoice_void
from tests.factories import ChargeFactory, EInvoiceProfileFactory, InvoiceNumberRangeFactory
from tests.helpers import invoice_issue

JAN = datetime(2026, 1, 5, 10, 0, tzinfo=BILLING_TZ)  # 11502
MAR = datetime(2026, 3, 2, 14, 30, 5, tzinfo=BILLING_TZ)  # 11504


def issue(profile, at, **charge):
    return invoice_issue(charge=ChargeFactory(account=profile.account, **charge), at=at)


@pytest.fixture
def period_11504(settings):
    """11504: a B2C carrier issue, a B2B issue, a donation issued then voided, an allowance of a 11502 invoice."""
    settings.SELLER_UBN, settings.SELLER_NAME, settings.SELLER_ADDRESS = "22099131", "示範公司", "臺北市"
    InvoiceNumberRangeFactory(period="11502", prefix="AA", first_number=1, last_number=9)
    InvoiceNumberRangeFactory(period="11504", prefix="AB", first_number=100, last_number=199)
    january = issue(EInvoiceProfileFactory(), JAN)
    mobile = issue(EInvoiceProfileFactory(kind="mobile", carrier_number="/ABC1234", name="陳小華"), MAR)
    company = EInvoiceProfileFactory(
        kind="company", name="", company_title="小店有限公司", ubn="04595252", address="台中"
    )
    b2b = issue(company, MAR, lines=[], fee_twd=5238, net_twd=5238, tax_twd=262, total_twd=5500)
    donated = issue(EInvoiceProfileFactory(kind="donation", name="", donation_code="168"), MAR)
    invoice_void(invoice=donated, reason="重複扣款", actor=None, at=MAR)
    allowance = invoice_allowance(invoice=january, amount_twd=210, reason="部分退款", actor=None, at=MAR)
    donated.refresh_from_db()
    return {"mobile": mobile, "b2b": b2b, "donated": donated, "allowance": allowance}
