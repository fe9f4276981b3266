"""Every link in every e-mail is absolute (SITE_URL and a path of ours): a mail client cannot open /invoices/1/proof/.

Each notice is sent the way its sender sends it (accounts.notices.notify_admins with the context the sender
passes; the invoice notice by invoices.issuing's own function), in both languages, and each body is scanned.
"""

import re
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import resolve

from accounts.models import UserPreference
from accounts.notices import NOTICES, notify_admins
from accounts.periods import BILLING_TZ
from billing.renewals import next_charge
from invoices.issuing import invoice_notice_send
from tests.factories import (
    ChargeFactory,
    EInvoiceProfileFactory,
    ExtraMessagesBillFactory,
    InvoiceNumberRangeFactory,
    MembershipFactory,
    PaymentMethodFactory,
    PromoCodeFactory,
    RenewalFactory,
    SubscriptionFactory,
)
from tests.helpers import invoice_issue

pytestmark = pytest.mark.django_db

SITE = "https://billing.example.tw"
EMAIL_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "emails"
ABSOLUTE = re.compile(r"https?://[^\s<>\"')）]+")
# A path of ours with nothing before it: /invoices/1/proof/ (a carrier number such as /ABC1234. is no path)
RELATIVE = re.compile(r"(?<![\w.:/])/[\w-]+/")


def links_of(body: str) -> tuple[list[str], list[str]]:
    """(absolute links, relative paths) in an e-mail's text."""
    absolute = ABSOLUTE.findall(body)
    return absolute, RELATIVE.findall(ABSOLUTE.sub("", body))


def notice_contexts(account) -> dict[str, dict]:
    """For each admin notice, the context its sender passes (billing.renewals, promos.services, usage...)."""
    renewal = RenewalFactory(subscription=account.subscription, failed=True)
    code = PromoCodeFactory(registered=True, registered_account=account)
    method = PaymentMethodFactory(account=account)
    return {
        "renewal_failed": {"renewal": renewal, "reason": "declined", "retry_on": renewal.next_retry_on},
        "downgraded": {"renewal": renewal},
        "method_expired": {"method": method},
        "code_released": {"code": PromoCodeFactory()},
        "usage_threshold": {
            "threshold": "quota_100",
            "billed": 3000,
            "quota": 3000,
            "cap": None,
            "stops": True,
            "carrying_plan": "high",
        },
        "channel_disconnected": {},
        "extra_messages_failed": {
            "bill": ExtraMessagesBillFactory(account=account, extra_messages=1000, amount_twd=200),
            "reason": "declined",
            "last": False,
        },
        "reminder_code": {"preview": next_charge(account.subscription), "code": code, "expires": True},
        "reminder_card": {"method": method, "renewal_on": date(2026, 7, 1)},
        "reminder_linepay": {"method": method, "renewal_on": date(2026, 7, 1)},
    }


def test_the_scan_tells_a_relative_link_from_an_absolute_one():
    body = "Print proof: /invoices/7/proof/\nSaved to your carrier /ABC1234.\nSee https://x.tw/accounts/1/plans/"
    assert links_of(body) == (["https://x.tw/accounts/1/plans/"], ["/invoices/"])


def test_every_e_mail_template_is_one_a_test_below_sends():
    # einvoice_deadline goes to staff: tests/invoices/test_deadlines.py checks its link is whole
    sent_here = NOTICES | {"invoice_issued", "einvoice_deadline"}
    assert {path.stem for path in EMAIL_TEMPLATES.glob("*.txt")} == sent_here


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_every_admin_notice_links_only_to_absolute_addresses_of_the_site(settings, language):
    # given the site's address, and an admin reading `language`
    settings.SITE_URL = SITE
    membership = MembershipFactory(user__email="owner@example.tw")
    UserPreference.objects.create(user=membership.user, language=language)
    account = SubscriptionFactory(account=membership.account, medium=True).account
    # when each notice is sent
    for notice, context in notice_contexts(account).items():
        mail.outbox.clear()
        assert notify_admins(account=account, notice=notice, **context) == 1
        # then its links start with the site's address and lead to one of our pages; none is relative
        absolute, relative = links_of(mail.outbox[0].body)
        assert relative == [], notice
        assert absolute, f"{notice} links to no page"
        for link in absolute:
            assert link.startswith(f"{SITE}/"), (notice, link)
            resolve(urlsplit(link).path)


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_the_invoice_notice_links_to_its_proof_with_the_site_s_address(settings, language):
    # given an issued invoice whose account's admin reads `language`
    settings.SITE_URL = SITE
    profile = EInvoiceProfileFactory(email="books@example.tw")
    admin = MembershipFactory(account=profile.account, user__email="books@example.tw").user
    UserPreference.objects.create(user=admin, language=language)
    InvoiceNumberRangeFactory(period="11502", prefix="AB", first_number=1, last_number=10)
    invoice = invoice_issue(
        charge=ChargeFactory(account=profile.account), at=datetime(2026, 1, 5, 10, tzinfo=BILLING_TZ)
    )
    mail.outbox.clear()
    # when its notice is sent
    assert invoice_notice_send(invoice=invoice) == 1
    # then the proof's link is absolute, and nothing is relative
    absolute, relative = links_of(mail.outbox[0].body)
    assert relative == []
    assert absolute == [f"{SITE}/invoices/{invoice.pk}/proof/"]
