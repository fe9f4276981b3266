"""Usage recorded by staff from a CSV file, for accounts without a connected channel (SPEC §7).

Each row is `account,date,kind,count`: the account's basic ID; a day (YYYY-MM-DD) with a message kind as LINE names
it (apiPush, apiReply, ...), or a month (YYYY-MM) with the kind `billed` for the month's billed total. The whole file
is checked first and written only when every row is right, in one transaction, each figure audited; a figure
imported again with the same count changes nothing.
"""

import csv
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction

from accounts.audit import audit_records_save
from accounts.models import OfficialAccount
from usage.figures import figure_set
from usage.models import DailyUsage, MessageKind, MonthlyUsage, UsageSource

MONTH_TOTAL = "billed"
MOST = 1_000_000_000
FIELDS = ("billed_messages", "count", "source")


@dataclass(frozen=True)
class Figure:
    line: int
    account: OfficialAccount
    day: date | None
    month: date | None
    kind: MessageKind | None
    count: int


class ImportRefused(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def read_figures(stream) -> list[Figure]:
    """Every row of the file as a figure, or ImportRefused listing every wrong row by its line number."""
    accounts = {account.basic_id: account for account in OfficialAccount.objects.all()}
    kinds = {kind.code: kind for kind in MessageKind.objects.all()}
    figures, problems, seen = [], [], set()
    try:
        rows = list(csv.reader(stream))
    except csv.Error as error:
        raise ImportRefused([f"line 1: not a CSV file the import can read ({error})"]) from None
    for line, row in enumerate(rows, start=1):
        if line == 1 and row and row[0].strip().lower() == "account":
            continue  # a header
        try:
            figure = _figure(line, row, accounts, kinds)
        except ValueError as problem:
            problems.append(f"line {line}: {problem}")
            continue
        key = (figure.account.pk, figure.day or figure.month, figure.kind.pk if figure.kind else None)
        if key in seen:
            problems.append(f"line {line}: the same account, date and kind as an earlier line")
        seen.add(key)
        figures.append(figure)
    if problems:
        raise ImportRefused(problems)
    return figures


def _figure(line: int, row: list[str], accounts: dict, kinds: dict) -> Figure:
    if len(row) != 4:
        raise ValueError("expected 4 columns: account,date,kind,count")
    basic_id, when, kind_code, count_text = (cell.strip() for cell in row)
    account = accounts.get(basic_id)
    if account is None:
        raise ValueError(f"no official account {basic_id!r}")
    if not count_text.isascii() or not count_text.isdigit() or int(count_text) > MOST:
        raise ValueError(f"the count {count_text!r} is not a whole number from 0 to {MOST:,}")
    count = int(count_text)
    if kind_code == MONTH_TOTAL:
        return Figure(line, account, None, _parse(when, "%Y-%m", "a month YYYY-MM"), None, count)
    if kind_code not in kinds:
        raise ValueError(f"no message kind {kind_code!r} (or {MONTH_TOTAL!r} with a month)")
    return Figure(line, account, _parse(when, "%Y-%m-%d", "a day YYYY-MM-DD"), None, kinds[kind_code], count)


def _parse(text: str, pattern: str, what: str) -> date:
    try:
        return datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a calendar date, no time of day
    except ValueError:
        raise ValueError(f"{text!r} is not {what}") from None


def figures_import(figures: list[Figure], *, actor) -> int:
    """Write the figures (source: import), auditing each one that changes; returns how many changed."""
    records = []
    with transaction.atomic():
        for figure in figures:
            if figure.kind is None:
                month = figure.month.replace(day=1)
                row = MonthlyUsage.objects.select_for_update().filter(account=figure.account, month=month).first()
                row = row or MonthlyUsage(account=figure.account, month=month)
                values = {"billed_messages": figure.count}
            else:
                stored = DailyUsage.objects.select_for_update().filter(
                    account=figure.account, day=figure.day, kind=figure.kind
                )
                row = stored.first() or DailyUsage(account=figure.account, day=figure.day, kind=figure.kind)
                values = {"count": figure.count}
            records += figure_set(row, actor=actor, action="usage.import", source=UsageSource.IMPORT, **values)
        audit_records_save(records)
    return len(records)
