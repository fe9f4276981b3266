"""The e-invoice calendar: two-month periods and the days by which things must reach the platform. Pure dates.

Sources (shared/reference/einvoice-compliance.md §1.2, §5; domain-facts.md §4.1):
- a period is two months, named by its ROC year and its even month (11502 = Jan–Feb 2026);
- an issue, a void or an allowance is uploaded within 2 days (B2C) or 7 days (B2B) "開立後隔日起算": the day
  after the event is day 1, so an invoice of 03-10 is due by the end of 03-12 (B2C) or 03-17 (B2B). Calendar
  days: weekends and holidays are not skipped (the bureaus' wording names none; §5.2 marks it UNCONFIRMED);
- the period's blank numbers (E0402) by the 10th of the next odd month ("次期開始10日內");
- the VAT return by the 15th of the next odd month (營業稅法 §35); after that an invoice is no longer voided
  but given an allowance (a void then needs the tax office's approval, 專案作廢).
"""

from datetime import date, timedelta

B2C_UPLOAD_DAYS = 2
B2B_UPLOAD_DAYS = 7
BLANK_REPORT_DAY = 10
FILING_DAY = 15


def period_of(day: date) -> str:
    """The two-month period of a day as ROC year + even month: 2026-11-21 → 11512, 2026-01-05 → 11502."""
    return f"{day.year - 1911:03d}{day.month + day.month % 2:02d}"


def period_start(period: str) -> date:
    """11502 → 2026-01-01."""
    return date(int(period[:3]) + 1911, int(period[3:]) - 1, 1)


def next_period_start(period: str) -> date:
    """The day after the period ends: 11502 → 2026-03-01, 11512 → 2027-01-01."""
    year, month = int(period[:3]) + 1911, int(period[3:])
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def period_end(period: str) -> date:
    return next_period_start(period) - timedelta(days=1)


def next_period(period: str) -> str:
    return period_of(next_period_start(period))


def upload_due_on(event_day: date, *, b2b: bool) -> date:
    """The last day an issue, void or allowance of `event_day` may reach the platform."""
    return event_day + timedelta(days=B2B_UPLOAD_DAYS if b2b else B2C_UPLOAD_DAYS)


def blank_report_due_on(period: str) -> date:
    """The last day the period's blank numbers (E0402) may reach the platform: the 10th of the next odd month."""
    return next_period_start(period).replace(day=BLANK_REPORT_DAY)


def filing_deadline(period: str) -> date:
    """The last day of the period's VAT return (401): the 15th of the next odd month."""
    return next_period_start(period).replace(day=FILING_DAY)
