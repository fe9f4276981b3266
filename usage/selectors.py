"""What an account sent: a month's figures by kind and by day, and the months before. A fixed number of queries,
however many days of data there are."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from accounts.periods import month_start, next_month_start
from usage.models import DailyUsage, MessageKind, MonthlyUsage, UsageSource


@dataclass(frozen=True)
class KindTotal:
    code: str
    name: str
    billed: bool
    messages: int


@dataclass(frozen=True)
class MonthFigures:
    """One month: billed messages (LINE's own total when it was recorded, else the sum of the billed days), the
    month by kind and the billed messages day by day, and where and when the figure came from."""

    month: date
    billed: int
    kinds: list[KindTotal] = field(default_factory=list)
    daily: list[tuple[date, int]] = field(default_factory=list)
    source: str = ""
    source_label: str = ""
    final: bool = False
    updated_at: datetime | None = None

    @property
    def free(self) -> int:
        return sum(kind.messages for kind in self.kinds if not kind.billed)


def month_figures(account, month: date) -> MonthFigures:
    """The month's total as recorded, its kinds (and the kinds' names), its days: four queries; a fifth, for when
    the days were last updated, only where no total is recorded."""
    start, end = month_start(month), next_month_start(month)
    recorded = MonthlyUsage.objects.filter(account=account, month=start).first()
    days = DailyUsage.objects.filter(account=account, day__gte=start, day__lt=end)
    by_kind = dict(days.values_list("kind").annotate(total=Sum("count")).values_list("kind", "total"))
    kinds = [
        KindTotal(kind.code, kind.display_name, kind.billed, by_kind.get(kind.pk, 0))
        for kind in MessageKind.objects.all()
        if by_kind.get(kind.pk)
    ]
    daily = list(days.filter(kind__billed=True).values_list("day").annotate(total=Sum("count")).order_by("day"))
    if recorded is not None:
        return MonthFigures(
            start,
            recorded.billed_messages,
            kinds,
            daily,
            recorded.source,
            recorded.get_source_display(),
            recorded.final,
            recorded.updated_at,
        )
    latest = days.order_by("-updated_at").values_list("updated_at", "source").first()
    source = latest[1] if latest else ""
    billed = sum(kind.messages for kind in kinds if kind.billed)
    return MonthFigures(
        start, billed, kinds, daily, source, _source_label(source), False, latest[0] if latest else None
    )


def _source_label(source: str) -> str:
    return UsageSource(source).label if source else ""


def billed_by_month(account, months: list[date]) -> dict[date, int]:
    """Billed messages of each month asked (LINE's total where recorded, else the billed days). Two queries."""
    starts = [month_start(month) for month in months]
    recorded = dict(
        MonthlyUsage.objects.filter(account=account, month__in=starts).values_list("month", "billed_messages")
    )
    days = DailyUsage.objects.filter(
        account=account, kind__billed=True, day__gte=min(starts), day__lt=next_month_start(max(starts))
    )
    summed = dict(
        days.annotate(month=TruncMonth("day")).values_list("month").annotate(total=Sum("count")).order_by("month")
    )
    return {start: recorded.get(start, summed.get(start, 0)) for start in starts}


def billed_this_month_by_account(month: date) -> dict[int, int]:
    """Every account's billed messages in `month`: LINE's total where recorded, else its billed days. Two queries."""
    start, end = month_start(month), next_month_start(month)
    summed = dict(
        DailyUsage.objects.filter(kind__billed=True, day__gte=start, day__lt=end)
        .values_list("account")
        .annotate(total=Sum("count"))
        .order_by()
    )
    summed.update(MonthlyUsage.objects.filter(month=start).values_list("account", "billed_messages"))
    return summed
