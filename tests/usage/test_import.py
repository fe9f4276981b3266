"""import_message_usage: a CSV of days by kind and month totals, all rows or none, each figure audited once."""

from datetime import date

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import AuditRecord
from tests.factories import AccountFactory
from usage.imports import ImportRefused, read_figures
from usage.models import DailyUsage, MonthlyUsage

pytestmark = pytest.mark.django_db


def write(tmp_path, text):
    path = tmp_path / "usage.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_days_by_kind_and_a_month_total_are_recorded_and_audited_once(tmp_path):
    account = AccountFactory(basic_id="@ming-cafe")
    csv = (
        "account,date,kind,count\n"
        "@ming-cafe,2026-11-02,apiPush,1200\n"
        "@ming-cafe,2026-11-02,apiReply,300\n"
        "@ming-cafe,2026-10,billed,5400\n"
    )
    call_command("import_message_usage", write(tmp_path, csv))
    assert sorted(DailyUsage.objects.values_list("kind__code", "count", "source")) == [
        ("apiPush", 1200, "import"),
        ("apiReply", 300, "import"),
    ]
    monthly = MonthlyUsage.objects.get(account=account)
    assert (monthly.month, monthly.billed_messages, monthly.source) == (date(2026, 10, 1), 5400, "import")
    assert AuditRecord.objects.filter(action="usage.import").count() == 3
    # the same file again changes nothing
    call_command("import_message_usage", write(tmp_path, csv))
    assert AuditRecord.objects.filter(action="usage.import").count() == 3


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("@nobody,2026-11-02,apiPush,1", "no official account '@nobody'"),
        ("@ming-cafe,2026-11-31,apiPush,1", "'2026-11-31' is not a day YYYY-MM-DD"),
        ("@ming-cafe,2026-11-02,sticker,1", "no message kind 'sticker'"),
        ("@ming-cafe,2026-11-02,apiPush,-5", "the count '-5' is not a whole number"),
        ("@ming-cafe,2026-11-02,apiPush,１２", "the count '１２' is not a whole number"),
        ("@ming-cafe,2026-11-02,billed,1", "'2026-11-02' is not a month YYYY-MM"),
        ("@ming-cafe,2026-11-02,apiPush", "expected 4 columns"),
    ],
)
def test_one_wrong_row_and_nothing_is_written(tmp_path, row, problem):
    AccountFactory(basic_id="@ming-cafe")
    csv = f"@ming-cafe,2026-11-01,apiPush,10\n{row}\n"
    with pytest.raises(CommandError) as error:
        call_command("import_message_usage", write(tmp_path, csv))
    assert "line 2: " + problem in str(error.value)
    assert (DailyUsage.objects.count(), MonthlyUsage.objects.count()) == (0, 0)


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_with_its_lines_never_an_error(text):
    import io

    try:
        read_figures(io.StringIO(text))
    except ImportRefused as refused:
        assert all(problem.startswith("line ") for problem in refused.problems)


def test_a_file_the_csv_reader_cannot_read_is_refused_with_a_line():
    import io

    with pytest.raises(ImportRefused) as refused:
        read_figures(io.StringIO("@a,2026-11-01,apiPush,1\x00\n"))
    assert refused.value.problems[0].startswith("line ")
