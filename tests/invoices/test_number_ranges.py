"""Invoice number ranges (字軌, SPEC §4): staff register them per two-month period; they never overlap."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditRecord
from invoices.forms import InvoiceNumberRangeForm
from invoices.models import InvoiceNumberRange
from invoices.services import invoice_number_range_create
from tests.concurrency import run_at_once
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("english_messages")

PERIOD_MESSAGE = "A period is the ROC year and an even month, e.g. 11502 for January–February 2026."
EIGHT_DIGITS = "Invoice numbers have 8 digits."
FORM_EIGHT_DIGITS = "An invoice number is exactly 8 digits, e.g. 00000050."


def create(period="11502", prefix="AB", first_number=1, last_number=50, actor=None) -> InvoiceNumberRange:
    return invoice_number_range_create(
        period=period, prefix=prefix, first_number=first_number, last_number=last_number, actor=actor
    )


def refusal(**kwargs) -> dict:
    with pytest.raises(ValidationError) as caught:
        create(**kwargs)
    return caught.value.message_dict


def ranges() -> list[tuple]:
    return list(
        InvoiceNumberRange.objects.order_by("pk").values_list("period", "prefix", "first_number", "last_number")
    )


@pytest.mark.django_db
def test_a_range_is_registered_with_its_cursor_at_the_first_number_and_audited():
    # given
    actor = UserFactory()
    # when
    number_range = create(first_number=12345650, last_number=12345699, actor=actor)
    # then
    number_range.refresh_from_db()
    assert (number_range.next_number, number_range.remaining) == (12345650, 50)
    assert str(number_range) == "11502 AB12345650–AB12345699"
    record = AuditRecord.objects.get()
    assert (record.action, record.actor, record.object_id) == (
        "invoice_number_range.create",
        actor,
        str(number_range.pk),
    )
    assert record.before is None
    assert record.after == {
        "period": "11502",
        "prefix": "AB",
        "first_number": 12345650,
        "last_number": 12345699,
        "next_number": 12345650,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first_number", "last_number"),
    [(1, 100), (51, 150), (150, 200), (100, 100), (120, 130), (50, 201), (101, 250)],
)
def test_an_overlapping_range_of_the_same_period_and_prefix_is_refused(first_number, last_number):
    # given AB00000100–AB00000200 in 11502
    create(first_number=100, last_number=200)
    before = ranges()
    # when
    errors = refusal(first_number=first_number, last_number=last_number, actor=UserFactory())
    # then
    assert errors == {"__all__": ["This range overlaps 11502 AB00000100–AB00000200 of the same period."]}
    assert ranges() == before
    assert AuditRecord.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("first_number", "last_number"), [(1, 99), (201, 300), (99, 99), (201, 201)])
def test_an_adjacent_range_is_accepted(first_number, last_number):
    # given AB00000100–AB00000200 in 11502
    create(first_number=100, last_number=200)
    # when
    create(first_number=first_number, last_number=last_number)
    # then
    assert ranges() == [("11502", "AB", 100, 200), ("11502", "AB", first_number, last_number)]


@pytest.mark.django_db
@pytest.mark.parametrize(("period", "prefix"), [("11504", "AB"), ("11402", "AB"), ("11502", "AC"), ("11504", "ZZ")])
def test_the_same_numbers_in_another_period_or_prefix_are_accepted(period, prefix):
    # given AB00000100–AB00000200 in 11502
    create(first_number=100, last_number=200)
    # when
    create(period=period, prefix=prefix, first_number=100, last_number=200)
    # then
    assert ranges() == [("11502", "AB", 100, 200), (period, prefix, 100, 200)]


BAD = [
    ({"first_number": 51, "last_number": 50}, {"last_number": ["The last number must not be below the first."]}),
    ({"last_number": 100000000}, {"last_number": [EIGHT_DIGITS]}),
    ({"first_number": 100000000, "last_number": 100000050},
     {"first_number": [EIGHT_DIGITS], "last_number": [EIGHT_DIGITS]}),
    ({"first_number": 100000000, "last_number": 50}, {"first_number": [EIGHT_DIGITS]}),
    ({"period": "11501"}, {"period": [PERIOD_MESSAGE]}),
    ({"period": "1150"}, {"period": [PERIOD_MESSAGE]}),
    ({"prefix": "ab"}, {"prefix": ["Two capital letters."]}),
    ({"prefix": "A1"}, {"prefix": ["Two capital letters."]}),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("arguments", "message_dict"), BAD)
def test_a_malformed_range_is_refused_and_nothing_is_written(arguments, message_dict):
    # given
    # when
    errors = refusal(**arguments)
    # then
    assert errors == message_dict
    assert ranges() == []
    assert AuditRecord.objects.count() == 0


# The staff form.


def form_for(**data) -> InvoiceNumberRangeForm:
    return InvoiceNumberRangeForm(
        data={"period": "11502", "prefix": "AB", "first_number": "00000001", "last_number": "00000050", **data}
    )


@pytest.mark.django_db
def test_the_form_reads_zero_padded_numbers_and_folds_what_was_typed():
    # given full-width digits, a lower-case 字軌 and stray spaces
    form = form_for(period=" １１５０２", prefix="ab ", first_number="００００００５１", last_number=" 00000100 ")
    # when
    valid = form.is_valid()
    # then
    assert form.errors == {}
    assert valid is True
    assert form.cleaned_data == {"period": "11502", "prefix": "AB", "first_number": 51, "last_number": 100}


@pytest.mark.django_db
def test_the_form_shows_stored_numbers_zero_padded():
    # given
    number_range = create(first_number=51, last_number=100)
    # when
    form = InvoiceNumberRangeForm(instance=number_range)
    # then
    assert form["first_number"].value() == "00000051"
    assert form["last_number"].value() == "00000100"
    assert 'value="00000051"' in str(form["first_number"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"last_number": "100000000"}, {"last_number": [FORM_EIGHT_DIGITS]}),
        ({"first_number": "50"}, {"first_number": [FORM_EIGHT_DIGITS]}),
        ({"first_number": "0000005A"}, {"first_number": [FORM_EIGHT_DIGITS]}),
        ({"first_number": "00000051"}, {"last_number": ["The last number must not be below the first."]}),
        ({"period": "11501"}, {"period": [PERIOD_MESSAGE]}),
        ({"period": "1150"}, {"period": [PERIOD_MESSAGE]}),
        ({"prefix": "A1"}, {"prefix": ["Two capital letters."]}),
        ({"last_number": ""}, {"last_number": ["This field is required."]}),
    ],
)
def test_the_form_refuses_a_malformed_range_with_a_clear_message(data, errors):
    # given
    form = form_for(**data)
    # when
    valid = form.is_valid()
    # then
    assert valid is False
    assert form.errors == errors


@pytest.mark.django_db
def test_the_form_refuses_an_overlap():
    # given
    create(first_number=40, last_number=90)
    form = form_for()
    # when
    valid = form.is_valid()
    # then
    assert valid is False
    assert form.errors == {"__all__": ["This range overlaps 11502 AB00000040–AB00000090 of the same period."]}
    assert ranges() == [("11502", "AB", 40, 90)]


# Two staff registering at the same moment: real locks need PostgreSQL.

THREADS = 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_ranges_registered_at_once_into_a_new_track_leave_exactly_one():
    # given a period and 字軌 with no range yet, so there is no row to lock
    # when ten overlapping ranges arrive together
    results = run_at_once(lambda i: create(first_number=1 + i, last_number=50 + i).pk, THREADS)
    # then
    winners = [result for result in results if isinstance(result, int)]
    assert len(winners) == 1
    assert all(isinstance(result, ValidationError) for result in results if result not in winners)
    assert InvoiceNumberRange.objects.count() == 1
    assert AuditRecord.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_disjoint_ranges_registered_at_once_are_all_kept():
    # given
    # when ten disjoint ranges of one track arrive together
    results = run_at_once(lambda i: create(first_number=100 * i + 1, last_number=100 * i + 100).pk, THREADS)
    # then
    assert all(isinstance(result, int) for result in results)
    assert InvoiceNumberRange.objects.count() == THREADS
