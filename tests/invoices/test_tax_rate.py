"""The business tax rate has one home, the BILLING_TAX_RATE setting: pricing, allowances and MIG all read it."""

import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal

import pytest

from accounts.periods import BILLING_TZ
from billing.pricing import Rules, tax_for
from billing.selectors import pricing_rules
from invoices.issuing import split_tax_inclusive
from invoices.mig import f0401
from tests.factories import ChargeFactory, EInvoiceProfileFactory, InvoiceNumberRangeFactory
from tests.helpers import invoice_issue


@pytest.fixture
def ten_percent(settings):
    settings.BILLING_TAX_RATE = Decimal("0.10")


def test_pricing_takes_the_rate_from_the_setting(ten_percent):
    # given a 10% rate in the settings
    # when pricing builds its rules, with or without the selector
    # then both tax a NT$1,000 net at NT$100
    assert pricing_rules().tax_rate == Decimal("0.10")
    assert Rules().tax_rate == Decimal("0.10")
    assert tax_for(1000, Rules()) == 100


def test_a_tax_inclusive_amount_is_split_at_the_setting_s_rate(ten_percent):
    # given a 10% rate
    # when NT$1,100 tax included is split
    # then it is NT$1,000 of sales and NT$100 of tax
    assert split_tax_inclusive(1100) == (1000, 100)


@pytest.mark.django_db
def test_an_f0401_states_the_setting_s_rate(ten_percent, settings):
    # given an invoice issued while the rate is 10%
    settings.SELLER_UBN, settings.SELLER_NAME = "22099131", "示範公司"
    InvoiceNumberRangeFactory(period="11502", prefix="AA", first_number=1, last_number=9)
    profile = EInvoiceProfileFactory()
    charge = ChargeFactory(account=profile.account, lines=[], net_twd=1000, fee_twd=1000, tax_twd=100, total_twd=1100)
    invoice = invoice_issue(charge=charge, at=datetime(2026, 1, 5, 10, 0, tzinfo=BILLING_TZ))
    # when its F0401 is built and read back
    message = ET.fromstring(ET.tostring(f0401(invoice)))
    # then it carries that rate
    ns = "{urn:GEINV:eInvoiceMessage:F0401:4.1}"
    assert message.find(f"{ns}Amount/{ns}TaxRate").text == "0.10"
