"""Carriers (issue 15 §5): the 會員載具 only where MOF approved the seller as a carrier platform, what an account
whose profile still says 會員載具 is asked and what its invoices become, and 手機條碼 on a company invoice."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditRecord
from accounts.periods import BILLING_TZ
from invoices.carriers import carrier_type_problem
from invoices.forms import EInvoiceProfileForm
from invoices.mig import f0401
from invoices.models import REQUIRED_FIELDS, EInvoiceProfile
from invoices.selectors import einvoice_profile_ready
from invoices.services import einvoice_profile_save
from tests.factories import AccountFactory, ChargeFactory, EInvoiceProfileFactory, InvoiceNumberRangeFactory
from tests.helpers import invoice_issue, new_admin, ready_admin, start_checkout

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]

MARCH = datetime(2026, 3, 2, 14, 30, tzinfo=BILLING_TZ)  # period 11504
EMAIL = "owner@example.tw"
NOT_OFFERED = (
    "The member carrier (會員載具) is not offered: choose a mobile barcode, a citizen digital certificate, "
    "a printed proof, a donation or a company invoice."
)
COMPANY = {
    "kind": "company", "email": EMAIL, "company_title": "小店有限公司", "ubn": "04595252", "address": "臺北市",
}  # fmt: skip


def main_of(root: ET.Element) -> dict:
    main = root.find("{*}Main")
    return {child.tag.rsplit("}", 1)[-1]: child.text for child in main if len(child) == 0}


def issued_for(profile):
    InvoiceNumberRangeFactory(period="11504", prefix="AB", first_number=1, last_number=99)
    return invoice_issue(charge=ChargeFactory(account=profile.account), at=MARCH)


# ---- a seller that is not a carrier platform (the default) ------------------------------------------


def test_by_default_the_member_carrier_is_not_offered_and_a_new_one_is_refused(settings):
    # given a seller with no member-carrier type (the default)
    assert settings.EINVOICE_MEMBER_CARRIER_TYPE == ""
    account = AccountFactory()
    # when the form is shown, and when an admin posts the member carrier anyway
    offered = [value for value, _label in EInvoiceProfileForm().fields["kind"].widget.choices]
    form = EInvoiceProfileForm(data={"kind": "member", "name": "王小明", "email": EMAIL})
    with pytest.raises(ValidationError) as caught:
        einvoice_profile_save(account=account, data={"kind": "member", "name": "王小明", "email": EMAIL}, actor=None)
    # then the radio buttons leave it out, and both refusals say why; nothing is saved
    assert offered == ["mobile", "citizen", "printed", "donation", "company"]
    assert form.is_valid() is False
    assert form.errors == {"kind": [NOT_OFFERED]}
    assert caught.value.message_dict == {"kind": [NOT_OFFERED]}
    assert EInvoiceProfile.objects.count() == 0
    assert AuditRecord.objects.count() == 0


@pytest.mark.parametrize(("carrier_type", "first"), [("", "printed"), ("EJ0113", "member")])
def test_a_first_visit_starts_on_the_member_carrier_only_where_it_is_offered_else_on_a_printed_proof(
    client, settings, carrier_type, first
):
    # given an admin with no e-invoice information, and a seller that is (or is not) a carrier platform
    settings.EINVOICE_MEMBER_CARRIER_TYPE = carrier_type
    membership = new_admin()
    client.force_login(membership.user)
    # when they open 電子發票資訊
    html = client.get(reverse("billing:einvoice", args=[membership.account.pk])).content.decode()
    # then the kind checked is the first one offered, and it asks only a name and an e-mail address
    radios = [part for part in html.split("<input")[1:] if 'name="kind"' in part.split(">", 1)[0]]
    checked = [part.split('value="', 1)[1].split('"', 1)[0] for part in radios if "checked" in part.split(">", 1)[0]]
    assert checked == [first]
    assert any('value="member"' in part for part in radios) == bool(carrier_type)
    assert REQUIRED_FIELDS[first] == ("name", "email")


def test_a_member_carrier_profile_kept_from_before_is_asked_on_the_einvoice_page(client):
    # given an admin whose account's profile still says 會員載具 (saved while the seller was a carrier platform)
    membership = ready_admin()
    EInvoiceProfile.objects.filter(account=membership.account).update(kind="member", name="王小明")
    client.force_login(membership.user)
    # when they open 電子發票資訊
    page = client.get(reverse("billing:einvoice", args=[membership.account.pk]), HTTP_ACCEPT_LANGUAGE="en")
    # then the page says the member carrier is no longer offered and none of the offered kinds is chosen
    html = page.content.decode()
    assert 'data-testid="choose-another-carrier"' in html
    assert "Your invoices can no longer go to the member carrier" in html
    assert 'value="member"' not in html
    assert "checked" not in html.split('name="kind"', 1)[1].split("</fieldset>", 1)[0]


def test_the_checkout_asks_for_another_carrier_before_the_next_invoice_then_goes_on(client):
    # given an admin ready to pay, whose profile still says 會員載具
    membership = ready_admin()
    account = membership.account
    EInvoiceProfile.objects.filter(account=account).update(kind="member", name="王小明")
    checkout = start_checkout(membership)
    client.force_login(membership.user)
    here = reverse("billing:checkout", args=[checkout.token])
    # when they open the checkout
    response = client.get(here, HTTP_ACCEPT_LANGUAGE="en")
    # then it sends them to the e-invoice step, saying why
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("billing:einvoice", args=[account.pk]))
    followed = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your invoices can no longer go to the member carrier" in followed
    # and once they choose a printed proof, the checkout goes on to the summary
    data = {"kind": "printed", "name": "王小明", "email": EMAIL, "next": here}
    saved = client.post(reverse("billing:einvoice", args=[account.pk]), data)
    assert saved["Location"] == here
    assert client.get(here).status_code == 200
    assert EInvoiceProfile.objects.get(account=account).kind == "printed"


def test_until_then_its_invoices_are_printed_with_no_carrier(settings):
    # given a profile kept from before with the member carrier, and a seller that is no carrier platform
    profile = EInvoiceProfileFactory(kind="member", name="王小明", email=EMAIL)
    assert einvoice_profile_ready(profile.account) is False
    # when an invoice is issued for it (a renewal does not ask anyone)
    invoice = issued_for(profile)
    # then it has no carrier and its F0401 says the 證明聯 is printed (no carrier, no donation, no 統編)
    assert (invoice.buyer["kind"], invoice.buyer["carrier_type"], invoice.buyer["carrier_number"]) == ("member", "", "")
    main = main_of(f0401(invoice))
    assert "CarrierType" not in main and "CarrierId1" not in main
    assert (main["PrintMark"], main["DonateMark"]) == ("Y", "0")


# ---- a seller MOF approved as a carrier platform ----------------------------------------------------


def test_a_carrier_platform_offers_the_member_carrier_under_its_own_type(settings):
    # given a seller whose member-carrier type MOF assigned
    settings.EINVOICE_MEMBER_CARRIER_TYPE = "EJ0113"
    account = AccountFactory()
    offered = [value for value, _label in EInvoiceProfileForm().fields["kind"].widget.choices]
    # when a member-carrier profile is saved and an invoice issued for it
    profile = einvoice_profile_save(
        account=account, data={"kind": "member", "name": "王小明", "email": EMAIL}, actor=None
    )
    invoice = issued_for(profile)
    # then the kind is offered, and the invoice goes to the member carrier, not printed
    assert offered[0] == "member"
    assert einvoice_profile_ready(account) is True
    main = main_of(f0401(invoice))
    assert (main["CarrierType"], main["CarrierId1"], main["CarrierId2"], main["PrintMark"]) == (
        "EJ0113",
        EMAIL,
        EMAIL,
        "N",
    )


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("EJ0113", ""),
        ("1K0001", ""),
        ("ej0113", "a carrier type is 6 characters: 2 letters or digits, then 4 digits (e.g. EJ0113)"),
        ("EJ011", "a carrier type is 6 characters: 2 letters or digits, then 4 digits (e.g. EJ0113)"),
        ("EJ01134", "a carrier type is 6 characters: 2 letters or digits, then 4 digits (e.g. EJ0113)"),
        ("EJA113", "a carrier type is 6 characters: 2 letters or digits, then 4 digits (e.g. EJ0113)"),
        ("3J0002", "3J0002 is a common carrier (手機條碼 or 自然人憑證), not a member carrier"),
        ("CQ0001", "CQ0001 is a common carrier (手機條碼 or 自然人憑證), not a member carrier"),
    ],
)
def test_the_member_carrier_type_must_look_like_one_mof_assigns(code, problem):
    assert carrier_type_problem(code) == problem


def test_the_site_does_not_start_with_a_malformed_member_carrier_type():
    # given the settings loaded with a common carrier's code as the member-carrier type
    environment = {"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x", "DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": "/usr/bin:/bin", **environment, "EINVOICE_MEMBER_CARRIER_TYPE": "3J0002"},
        capture_output=True,
        text=True,
        check=False,
    )
    # then they refuse, naming the setting
    assert result.returncode != 0
    assert "EINVOICE_MEMBER_CARRIER_TYPE='3J0002': 3J0002 is a common carrier" in result.stderr


# ---- 手機條碼 on a company invoice -----------------------------------------------------------------------


def test_a_company_may_add_a_mobile_barcode_and_its_f0401_carries_the_carrier_with_the_ubn():
    # given a company profile with a 手機條碼 typed in lower case
    account = AccountFactory()
    form = EInvoiceProfileForm(data={**COMPANY, "carrier_number": "/abc+123"})
    assert form.is_valid(), form.errors
    profile = einvoice_profile_save(account=account, data=form.cleaned_data, actor=None)
    # when an invoice is issued for it
    invoice = issued_for(profile)
    # then the profile keeps the barcode, and the F0401 carries the 統編 and every carrier field (the MIG requires
    # them when a 手機條碼 claims an invoice with the buyer's 統編, printed or not)
    assert profile.carrier_number == "/ABC+123"
    main = main_of(f0401(invoice))
    assert (main["CarrierType"], main["CarrierId1"], main["CarrierId2"]) == ("3J0002", "/ABC+123", "/ABC+123")
    assert root_buyer(f0401(invoice)) == "04595252"
    assert (main["PrintMark"], main["DonateMark"]) == ("Y", "0")


def root_buyer(root: ET.Element) -> str:
    return root.find("{*}Main/{*}Buyer/{*}Identifier").text


def test_a_company_without_a_barcode_has_no_carrier_fields():
    profile = einvoice_profile_save(account=AccountFactory(), data=COMPANY, actor=None)
    main = main_of(f0401(issued_for(profile)))
    assert {"CarrierType", "CarrierId1", "CarrierId2"} & set(main) == set()


def test_a_malformed_barcode_on_a_company_profile_is_refused_with_its_message():
    # given an account without a profile
    account = AccountFactory()
    # when a company profile arrives with a barcode missing its slash
    with pytest.raises(ValidationError) as caught:
        einvoice_profile_save(account=account, data={**COMPANY, "carrier_number": "ABC1234"}, actor=None)
    # then
    assert caught.value.message_dict == {
        "carrier_number": ["A mobile barcode is / followed by 7 characters: digits, capital letters, . + or -."]
    }
    assert EInvoiceProfile.objects.count() == 0


def test_a_company_may_not_keep_a_citizen_certificate_as_its_carrier():
    # given a certificate number where a company's barcode goes
    with pytest.raises(ValidationError) as caught:
        einvoice_profile_save(
            account=AccountFactory(), data={**COMPANY, "carrier_number": "AB12345678901234"}, actor=None
        )
    # then only a 手機條碼 is taken with a 統編
    assert list(caught.value.message_dict) == ["carrier_number"]
