"""E-invoice profiles (SPEC §4): the five kinds, their required fields and formats, the audit trail, the form."""

import pytest
from django.core.exceptions import ValidationError

from accounts.audit import snapshot
from accounts.models import AuditRecord
from invoices.forms import EInvoiceProfileForm
from invoices.models import PROFILE_FIELDS, EInvoiceProfile
from invoices.services import einvoice_profile_save
from tests.concurrency import run_at_once
from tests.factories import AccountFactory, EInvoiceProfileFactory, InvoiceFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages", "carrier_platform")]


@pytest.fixture
def carrier_platform(settings):
    """These tests speak of a seller that MOF approved as a carrier platform, so every kind is offered; a seller
    that is not one (the default) is tried in test_carriers.py."""
    settings.EINVOICE_MEMBER_CARRIER_TYPE = "EJ0113"


EMAIL = "owner@example.tw"
GOOD = {
    "member": {"kind": "member", "name": "王小明", "email": EMAIL},
    "mobile": {"kind": "mobile", "name": "王小明", "email": EMAIL, "carrier_number": "/ABC1234"},
    "citizen": {"kind": "citizen", "name": "王小明", "email": EMAIL, "carrier_number": "AB12345678901234"},
    "printed": {"kind": "printed", "name": "王小明", "email": EMAIL},
    "donation": {"kind": "donation", "email": EMAIL, "donation_code": "168"},
    "company": {
        "kind": "company", "email": EMAIL, "company_title": "小店有限公司", "ubn": "04595252",
        "address": "臺北市信義區市府路1號",
    },
}  # fmt: skip
# Every field filled in, as a form would send it after the user switched kinds back and forth.
EVERYTHING = {
    "name": "王小明",
    "email": EMAIL,
    "carrier_number": "/ABC1234",
    "donation_code": "168",
    "company_title": "小店有限公司",
    "ubn": "04595252",
    "address": "臺北市信義區市府路1號",
}
EMPTY = dict.fromkeys(EVERYTHING, "")
# What a kind keeps of EVERYTHING besides its own required fields: a company its optional 手機條碼.
KEPT_BESIDES = {"company": {"carrier_number": "/ABC1234"}}


def stored(profile: EInvoiceProfile) -> dict:
    return snapshot(EInvoiceProfile.objects.get(pk=profile.pk), *PROFILE_FIELDS)


def refusal(**kwargs) -> dict:
    with pytest.raises(ValidationError) as caught:
        einvoice_profile_save(**kwargs)
    return caught.value.message_dict


@pytest.mark.parametrize("kind", GOOD)
def test_each_kind_saves_its_fields_and_clears_the_others(kind):
    # given an account without a profile, and every field filled in
    account = AccountFactory()
    actor = UserFactory()
    # when
    profile = einvoice_profile_save(account=account, data={**EVERYTHING, **GOOD[kind]}, actor=actor)
    # then: only the fields of the kind are kept
    assert stored(profile) == {**EMPTY, **GOOD[kind], **KEPT_BESIDES.get(kind, {})}
    assert profile.account == account


def test_creating_a_profile_writes_one_create_audit_record():
    # given
    account = AccountFactory()
    actor = UserFactory()
    # when
    profile = einvoice_profile_save(account=account, data=GOOD["mobile"], actor=actor)
    # then
    record = AuditRecord.objects.get()
    assert record.action == "einvoice_profile.create"
    assert (record.actor, record.account, record.object_type) == (actor, account, "invoices.einvoiceprofile")
    assert record.object_id == str(profile.pk)
    assert record.before is None
    assert record.after == {**EMPTY, **GOOD["mobile"]}


def test_changing_the_profile_updates_the_one_row_and_writes_one_audit_record_with_before_and_after():
    # given a member-carrier profile
    profile = EInvoiceProfileFactory(kind="member")
    actor = UserFactory()
    # when the account switches to a company invoice
    saved = einvoice_profile_save(account=profile.account, data=GOOD["company"], actor=actor)
    # then
    assert saved.pk == profile.pk
    assert EInvoiceProfile.objects.count() == 1
    assert stored(profile) == {**EMPTY, **GOOD["company"]}
    record = AuditRecord.objects.get()
    assert (record.action, record.actor, record.account) == ("einvoice_profile.update", actor, profile.account)
    assert record.before == {**EMPTY, "kind": "member", "name": "王小明", "email": EMAIL}
    assert record.after == {**EMPTY, **GOOD["company"]}


def test_keys_left_out_keep_their_stored_values():
    # given a mobile-barcode profile
    account = AccountFactory()
    einvoice_profile_save(account=account, data=GOOD["mobile"], actor=None)
    # when only the e-mail changes
    profile = einvoice_profile_save(account=account, data={"email": "new@example.tw"}, actor=None)
    # then
    assert stored(profile) == {**EMPTY, **GOOD["mobile"], "email": "new@example.tw"}
    assert AuditRecord.objects.filter(action="einvoice_profile.update").count() == 1


def test_saving_the_same_data_again_writes_nothing():
    # given
    profile = EInvoiceProfileFactory(kind="member")
    updated_at = profile.updated_at
    # when
    einvoice_profile_save(account=profile.account, data=GOOD["member"], actor=None)
    # then
    assert EInvoiceProfile.objects.get().updated_at == updated_at
    assert AuditRecord.objects.count() == 0


BAD = [
    ("member", {"name": ""}, "name", "Enter the buyer's name."),
    ("member", {"name": "   "}, "name", "Enter the buyer's name."),
    ("member", {"email": ""}, "email", "Enter the e-mail address the invoice is sent to."),
    ("member", {"email": "owner-at-example.tw"}, "email", "Enter a valid email address."),
    ("mobile", {"carrier_number": ""}, "carrier_number", "Enter the mobile barcode (手機條碼)."),
    ("mobile", {"carrier_number": "/ABC123"}, "carrier_number",
     "A mobile barcode is / followed by 7 characters: digits, capital letters, . + or -."),
    ("citizen", {"carrier_number": ""}, "carrier_number",
     "Enter the citizen digital certificate number (自然人憑證)."),
    ("citizen", {"carrier_number": "/ABC1234"}, "carrier_number",
     "A citizen digital certificate number is 2 capital letters followed by 14 digits."),
    ("donation", {"donation_code": ""}, "donation_code", "Enter the donation code (愛心碼)."),
    ("donation", {"donation_code": "12"}, "donation_code", "A donation code (愛心碼) is 3 to 7 digits."),
    ("company", {"company_title": ""}, "company_title", "Enter the company title (公司抬頭)."),
    ("company", {"ubn": ""}, "ubn", "Enter the company's 統一編號."),
    ("company", {"ubn": "04595253"}, "ubn", "This 統一編號 fails the check-digit test; please check it."),
    ("company", {"ubn": "0459525"}, "ubn", "A 統一編號 is exactly 8 digits."),
    ("company", {"address": ""}, "address", "Enter the company's address."),
    ("paper", {}, "kind", "Value 'paper' is not a valid choice."),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "changes", "field", "message"), BAD)
def test_each_bad_input_is_refused_with_its_message_and_changes_nothing(kind, changes, field, message):
    # given a member-carrier profile
    profile = EInvoiceProfileFactory(kind="member")
    before = stored(profile)
    data = {**GOOD.get(kind, {"kind": kind}), **changes}
    # when
    errors = refusal(account=profile.account, data=data, actor=UserFactory())
    # then
    assert errors == {field: [message]}
    assert stored(profile) == before
    assert AuditRecord.objects.count() == 0


def test_a_company_profile_without_a_title_is_refused_and_none_is_created():
    # given an account without a profile
    account = AccountFactory()
    # when
    errors = refusal(account=account, data={**GOOD["company"], "company_title": ""}, actor=None)
    # then
    assert errors == {"company_title": ["Enter the company title (公司抬頭)."]}
    assert EInvoiceProfile.objects.count() == 0
    assert AuditRecord.objects.count() == 0


def test_every_missing_field_gets_its_own_message():
    # given an account without a profile
    account = AccountFactory()
    # when a company profile arrives empty
    errors = refusal(account=account, data={"kind": "company", **EMPTY}, actor=None)
    # then
    assert errors == {
        "company_title": ["Enter the company title (公司抬頭)."],
        "ubn": ["Enter the company's 統一編號."],
        "email": ["Enter the e-mail address the invoice is sent to."],
        "address": ["Enter the company's address."],
    }
    assert EInvoiceProfile.objects.count() == 0


def test_a_key_that_is_not_a_profile_field_is_a_programming_error():
    # given
    profile = EInvoiceProfileFactory()
    # when / then
    with pytest.raises(TypeError):
        einvoice_profile_save(account=profile.account, data={"account": AccountFactory()}, actor=None)
    assert AuditRecord.objects.count() == 0


def test_changing_the_profile_leaves_issued_invoices_alone():
    # given an issued invoice whose buyer is a snapshot of the member-carrier profile
    profile = EInvoiceProfileFactory()
    buyer = {"kind": "member", "name": "王小明", "email": EMAIL}
    invoice = InvoiceFactory(
        charge__account=profile.account,
        period="11506",
        number="AB00000001",
        buyer=buyer,
        seller={"ubn": "22099131"},
        lines=[],
    )
    # when
    einvoice_profile_save(account=profile.account, data=GOOD["company"], actor=None)
    # then
    invoice.refresh_from_db()
    assert invoice.buyer == buyer
    assert invoice.number == "AB00000001"


# The form: normalisation, then the model's messages.


def form_for(data: dict) -> EInvoiceProfileForm:
    return EInvoiceProfileForm(data={**EMPTY, **data})


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        ({"kind": "mobile", "carrier_number": "/abc1234"}, {"carrier_number": "/ABC1234"}),
        ({"kind": "mobile", "carrier_number": " ／ａｂｃ１２３４ "}, {"carrier_number": "/ABC1234"}),
        ({"kind": "mobile", "carrier_number": "/ab.c+-1"}, {"carrier_number": "/AB.C+-1"}),
        ({"kind": "citizen", "carrier_number": "ab12345678901234"}, {"carrier_number": "AB12345678901234"}),
        (
            {"kind": "citizen", "carrier_number": "ＡＢ１２３４５６７８９０１２３４"},
            {"carrier_number": "AB12345678901234"},
        ),
        ({"kind": "donation", "donation_code": " １６８ "}, {"donation_code": "168"}),
        (
            {"kind": "company", "ubn": "０４５９５２５２ ", "company_title": " 小店有限公司 "},
            {"ubn": "04595252", "company_title": "小店有限公司"},
        ),
        ({"kind": "member", "email": "ｏｗｎｅｒ＠ｅｘａｍｐｌｅ．ｔｗ"}, {"email": EMAIL}),
        ({"kind": "member", "name": "  王小明  "}, {"name": "王小明"}),
    ],
)
def test_the_form_folds_what_a_taiwanese_keyboard_types(typed, cleaned):
    # given what the user typed over otherwise good data
    form = form_for({**GOOD[typed["kind"]], **typed})
    # when
    valid = form.is_valid()
    # then
    assert form.errors == {}
    assert valid is True
    assert {field: form.cleaned_data[field] for field in cleaned} == cleaned


def test_the_form_shows_one_message_per_missing_field_of_the_chosen_kind():
    # given a company chosen and nothing filled in
    form = form_for({"kind": "company"})
    # when
    valid = form.is_valid()
    # then
    assert valid is False
    assert form.errors == {
        "company_title": ["Enter the company title (公司抬頭)."],
        "ubn": ["Enter the company's 統一編號."],
        "email": ["Enter the e-mail address the invoice is sent to."],
        "address": ["Enter the company's address."],
    }


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"kind": "mobile", "carrier_number": "/abc12"},
            "carrier_number",
            "A mobile barcode is / followed by 7 characters: digits, capital letters, . + or -.",
        ),
        (
            {"kind": "citizen", "carrier_number": "A1"},
            "carrier_number",
            "A citizen digital certificate number is 2 capital letters followed by 14 digits.",
        ),
        ({"kind": "donation", "donation_code": "12"}, "donation_code", "A donation code (愛心碼) is 3 to 7 digits."),
        ({"kind": "company", "ubn": "12345678"}, "ubn", "This 統一編號 fails the check-digit test; please check it."),
        ({"kind": "company", "ubn": "1234567X"}, "ubn", "A 統一編號 is exactly 8 digits."),
        ({"kind": "member", "email": "owner"}, "email", "Enter a valid email address."),
    ],
)
def test_the_form_refuses_a_malformed_identifier_with_its_message(data, field, message):
    # given
    form = form_for({**GOOD[data["kind"]], **data})
    # when
    valid = form.is_valid()
    # then
    assert valid is False
    assert form.errors == {field: [message]}


def test_the_form_requires_a_kind_and_offers_the_six_as_radio_buttons():
    # given a seller that is a carrier platform
    form = form_for({"name": "王小明", "email": EMAIL})
    # when
    valid = form.is_valid()
    # then
    assert valid is False
    assert form.errors == {"kind": ["This field is required."]}
    assert [value for value, _label in form.fields["kind"].widget.choices] == [
        "member",
        "mobile",
        "citizen",
        "printed",
        "donation",
        "company",
    ]
    assert form.fields["kind"].widget.input_type == "radio"
    assert "account" not in form.fields


def test_what_the_form_cleans_saves_through_the_service():
    # given an account with a member-carrier profile, and the user's typing for a company
    profile = EInvoiceProfileFactory()
    form = form_for({**GOOD["company"], "ubn": "０４５９５２５２", "name": "王小明"})
    assert form.is_valid()
    # when
    einvoice_profile_save(account=profile.account, data=form.cleaned_data, actor=None)
    # then
    assert stored(profile) == {**EMPTY, **GOOD["company"]}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_first_saves_racing_for_one_account_create_one_profile():
    # given an account without a profile
    account = AccountFactory()

    # when ten saves with different e-mails arrive together
    def save(i):
        return einvoice_profile_save(account=account, data={**GOOD["member"], "email": f"o{i}@example.tw"}, actor=None)

    results = run_at_once(save, 10)
    # then: one creation, every other save an update of that row, none failed on the one-profile constraint
    assert all(isinstance(result, EInvoiceProfile) for result in results)
    assert EInvoiceProfile.objects.count() == 1
    actions = sorted(AuditRecord.objects.values_list("action", flat=True))
    assert actions == ["einvoice_profile.create"] + ["einvoice_profile.update"] * 9
