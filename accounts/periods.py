"""Billing periods: calendar months in Asia/Taipei. Pure date arithmetic, no database."""

import calendar
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

BILLING_TZ = ZoneInfo("Asia/Taipei")


def local_date(at: datetime) -> date:
    """The Taipei calendar date of an aware datetime."""
    if at.tzinfo is None:
        raise ValueError("billing times must be timezone-aware")
    return at.astimezone(BILLING_TZ).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month_start(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def previous_month_start(day: date) -> date:
    return date(day.year - 1, 12, 1) if day.month == 1 else date(day.year, day.month - 1, 1)


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def days_left_in_month(day: date) -> int:
    """Days from `day` to the month's end, both counted: the whole month on the 1st, 1 on the last day."""
    return days_in_month(day) - day.day + 1


def period_start_at(day: date) -> datetime:
    """The aware instant a period (or any day) starts in Taipei."""
    return datetime.combine(day, time.min, tzinfo=BILLING_TZ)
