"""Taiwan e-invoice identifiers (SPEC §4; vectors from shared/reference/domain-facts.md §4.4–4.5). No database."""

import string

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given
from hypothesis import strategies as st

from invoices.validators import (
    ubn_is_valid,
    validate_citizen_certificate,
    validate_donation_code,
    validate_invoice_period,
    validate_mobile_barcode,
    validate_ubn,
)

pytestmark = pytest.mark.usefixtures("english_messages")


def refusal(check, value) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        check(value)
    return caught.value


# The reference table: valid under the 2023 rule; the last four fail the old "% 10" rule.
UBN_VECTORS = ["00501503", "12345675", "22099131", "04595252", "10000004", "10000026", "10000073"]


@pytest.mark.parametrize("ubn", UBN_VECTORS)
def test_every_reference_ubn_is_valid(ubn):
    # given a number from the reference table
    # when / then
    assert ubn_is_valid(ubn) is True
    assert validate_ubn(ubn) is None


@pytest.mark.parametrize("ubn", ["04595252", "10000004", "10000026", "10000073"])
def test_numbers_only_the_2023_rule_accepts_are_valid(ubn):
    # given a number whose digit sum is divisible by 5 but not by 10 (or one short of it, 7th digit 7)
    # when / then: we use the rule in force since 2023-04-01, not the old one python-stdnum ≤ 2.2 has
    assert ubn_is_valid(ubn) is True


@pytest.mark.parametrize("ubn", ["04595253", "10000070", "12345678", "22099132"])
def test_a_ubn_with_a_wrong_check_digit_is_refused(ubn):
    # given 8 digits whose sum is not divisible by 5 (and no 7th-digit-7 rescue)
    # when
    error = refusal(validate_ubn, ubn)
    # then
    assert ubn_is_valid(ubn) is False
    assert error.code == "ubn_checksum"
    assert error.messages == ["This 統一編號 fails the check-digit test; please check it."]


@pytest.mark.parametrize("ubn", ["0459525", "045952520", "0459525A", "ABCDEFGH", "", "０４５９５２５２", " 04595252"])
def test_a_ubn_that_is_not_eight_ascii_digits_is_refused(ubn):
    # given 7 digits, 9 digits, letters, nothing, full-width digits, a space (forms fold those first)
    # when
    error = refusal(validate_ubn, ubn)
    # then
    assert ubn_is_valid(ubn) is False
    assert error.code == "ubn_format"
    assert error.messages == ["A 統一編號 is exactly 8 digits."]


@pytest.mark.parametrize("barcode", ["/ABC1234", "/1234567", "/A.B+C-1", "/-------"])
def test_good_mobile_barcodes_pass(barcode):
    # given / when / then
    assert validate_mobile_barcode(barcode) is None


@pytest.mark.parametrize(
    "barcode",
    ["/abc1234", "ABC12345", "ABC1234", "//ABC1234", "/ABC123", "/ABC12345", "/ABC 123", "/ABC*123", "", "/ABC1234\n"],
)
def test_bad_mobile_barcodes_are_refused(barcode):
    # given lower case, no slash (8 characters, or the 7 alone), two slashes, 6 or 8 characters, a space, a character
    # outside 0-9 A-Z . + -, nothing, a trailing newline (which `$` alone would let through)
    # when
    error = refusal(validate_mobile_barcode, barcode)
    # then
    assert error.code == "mobile_barcode"
    assert error.messages == ["A mobile barcode is / followed by 7 characters: digits, capital letters, . + or -."]


def test_a_good_citizen_certificate_number_passes():
    # given / when / then
    assert validate_citizen_certificate("AB12345678901234") is None


@pytest.mark.parametrize(
    "number",
    [
        "ab12345678901234",
        "A123456789012345",
        "A12345678901234",
        "ABC12345678901234",
        "1212345678901234",
        "AB1234567890123",
        "AB123456789012345",
        "AB1234567890123A",
        "",
        "AB12345678901234\n",
    ],
)
def test_bad_citizen_certificate_numbers_are_refused(number):
    # given lower case, one letter before 15 digits or before 14, three letters, digits for letters, 13 or 15
    # digits, a letter among the digits, nothing, a trailing newline
    # when
    error = refusal(validate_citizen_certificate, number)
    # then
    assert error.code == "citizen_certificate"
    assert error.messages == ["A citizen digital certificate number is 2 capital letters followed by 14 digits."]


@pytest.mark.parametrize("code", ["168", "5299", "8585", "1234567"])
def test_good_donation_codes_pass(code):
    # given / when / then
    assert validate_donation_code(code) is None


@pytest.mark.parametrize("code", ["12", "12345678", "12a4", "", "１６８", "168\n"])
def test_bad_donation_codes_are_refused(code):
    # given 2 digits, 8 digits, a letter, nothing, full-width digits, a trailing newline
    # when
    error = refusal(validate_donation_code, code)
    # then
    assert error.code == "donation_code"
    assert error.messages == ["A donation code (愛心碼) is 3 to 7 digits."]


def test_each_identifier_is_refused_with_its_own_code_and_message():
    # given one bad value for each identifier
    errors = [
        refusal(validate_ubn, "12345678"),
        refusal(validate_ubn, "1234567"),
        refusal(validate_mobile_barcode, "/abc"),
        refusal(validate_citizen_certificate, "AB1"),
        refusal(validate_donation_code, "1"),
        refusal(validate_invoice_period, "11501"),
    ]
    # when
    codes = [error.code for error in errors]
    messages = [error.messages[0] for error in errors]
    # then
    assert len(set(codes)) == len(errors)
    assert len(set(messages)) == len(errors)


@pytest.mark.parametrize("period", ["11502", "11504", "11506", "11508", "11510", "11512", "09912"])
def test_periods_are_roc_year_and_even_month(period):
    # given / when / then
    assert validate_invoice_period(period) is None


@pytest.mark.parametrize(
    "period",
    [
        "11501",
        "11511",
        "11500",
        "11514",
        "1150",
        "1502",
        "502",
        "115020",
        "2026-02",
        "",
        "１１５０２",
        "11502\n",
        "1150a",
    ],
)
def test_bad_periods_are_refused(period):
    # given an odd month, month 00 or 14, 4 characters (1502 would read as month 2 if 4 digits passed), 3, 6, a
    # Gregorian date, nothing, full-width digits, a trailing newline, a letter
    # when
    error = refusal(validate_invoice_period, period)
    # then
    assert error.code == "invoice_period"
    assert error.messages == ["A period is the ROC year and an even month, e.g. 11502 for January–February 2026."]


# ---- the patterns against an oracle written without regular expressions ----------------------------
# Hypothesis draws strings near each shape (the right alphabet and length, then one thing wrong) and checks
# the validator agrees with a plain reading of the rule, so a pattern that drifts either way is caught.

MOBILE_ALPHABET = string.digits + string.ascii_uppercase + ".+-"
NEAR_ALPHABET = MOBILE_ALPHABET + "/ abz*\n０"


def accepts(check, value) -> bool:
    try:
        check(value)
    except ValidationError:
        return False
    return True


def is_mobile_barcode(value: str) -> bool:
    return len(value) == 8 and value[0] == "/" and all(char in MOBILE_ALPHABET for char in value[1:])


def is_citizen_certificate(value: str) -> bool:
    letters, digits = value[:2], value[2:]
    return (
        len(value) == 16
        and all(char in string.ascii_uppercase for char in letters)
        and all(char in string.digits for char in digits)
    )


def is_donation_code(value: str) -> bool:
    return 3 <= len(value) <= 7 and all(char in string.digits for char in value)


def is_period(value: str) -> bool:
    return len(value) == 5 and all(char in string.digits for char in value) and value[3:] in PERIOD_MONTHS


PERIOD_MONTHS = {"02", "04", "06", "08", "10", "12"}


@given(st.text(alphabet=NEAR_ALPHABET, min_size=0, max_size=10))
@example("ABC1234")
@example("/ABC1234")
@example("/ABC1234\n")
def test_mobile_barcode_pattern_agrees_with_the_rule(value):
    assert accepts(validate_mobile_barcode, value) is is_mobile_barcode(value)


@given(
    st.sampled_from(["/", "", "A"]).flatmap(
        lambda head: st.text(MOBILE_ALPHABET, min_size=6, max_size=8).map(lambda rest: head + rest)
    )
)
def test_mobile_barcode_with_or_without_its_slash(value):
    assert accepts(validate_mobile_barcode, value) is is_mobile_barcode(value)


@given(
    st.text(string.ascii_uppercase + "a1", min_size=0, max_size=3),
    st.text(string.digits + "A ", min_size=12, max_size=16),
)
@example("A", "12345678901234")
@example("AB", "12345678901234")
def test_citizen_certificate_pattern_agrees_with_the_rule(letters, digits):
    value = letters + digits
    assert accepts(validate_citizen_certificate, value) is is_citizen_certificate(value)


@given(st.text(string.digits + "a ", min_size=0, max_size=9))
def test_donation_code_pattern_agrees_with_the_rule(value):
    assert accepts(validate_donation_code, value) is is_donation_code(value)


@given(st.text(string.digits, min_size=3, max_size=6) | st.text(string.digits + "-a", min_size=5, max_size=5))
@example("1502")
@example("11502")
@example("11501")
def test_period_pattern_agrees_with_the_rule(value):
    assert accepts(validate_invoice_period, value) is is_period(value)
