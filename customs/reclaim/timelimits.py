"""Calendar periods and the time limits of reclaim regimes ("1 year from the notification of the debt").

A period counted from an anchor date ends on the same calendar date N years/months later (clamped to the
month's last day, so 2024-02-29 + 1 year = 2025-02-28), which is the last day on which the act is in time.
That is how EU Regulation 1182/71 counts periods expressed in months and years and how the US, UK, Canadian,
Australian and Japanese limits are read in the sources; the day after is too late.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Anchor(StrEnum):
    """The date a time limit runs from."""

    IMPORT_DATE = "import_date"
    DEBT_NOTIFICATION = "debt_notification"  # notification of the customs debt; the import date unless given
    IMPORT_PERMIT = "import_permit"  # Japan: the import permit, granted on release (the import date)
    EXPORT_DATE = "export_date"


class LimitScope(StrEnum):
    EXPORT = "export"  # the goods must leave (or be transferred to a bonded area) by then
    CLAIM = "claim"  # the claim must be filed by then


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Period:
    years: int = 0
    months: int = 0
    days: int = 0
    end_of_month: bool = False  # runs to the last day of the month the period ends in

    def __post_init__(self) -> None:
        if min(self.years, self.months, self.days) < 0:
            raise ValueError("a period cannot be negative")
        if not (self.years or self.months or self.days):
            raise ValueError("a period needs years, months or days")

    def after(self, day: dt.date) -> dt.date:
        """The last day of the period starting at `day`."""
        end = _add_months(day, self.years * 12 + self.months) + dt.timedelta(days=self.days)
        if self.end_of_month:
            end = end.replace(day=calendar.monthrange(end.year, end.month)[1])
        return end

    def before(self, day: dt.date) -> dt.date:
        """The earliest day from which `day` is still within the period (for 'within 1 year before')."""
        return _add_months(day, -(self.years * 12 + self.months)) - dt.timedelta(days=self.days)

    def describe(self) -> str:
        parts = [
            f"{count} {unit}{'s' if count != 1 else ''}"
            for count, unit in ((self.years, "year"), (self.months, "month"), (self.days, "day"))
            if count
        ]
        text = " ".join(parts)
        return f"the end of the month {text} after" if self.end_of_month else text


_ANCHOR_TEXT = {
    Anchor.IMPORT_DATE: "the import date",
    Anchor.DEBT_NOTIFICATION: "the notification of the customs debt",
    Anchor.IMPORT_PERMIT: "the import permit",
    Anchor.EXPORT_DATE: "the export date",
}


@dataclass(frozen=True, slots=True)
class TimeLimit:
    anchor: Anchor
    period: Period
    applies_to: frozenset[LimitScope]
    confirmed: bool
    citation: str = ""
    note: str = ""

    def last_day(self, anchor_date: dt.date) -> dt.date:
        return self.period.after(anchor_date)

    def describe(self) -> str:
        if self.period.end_of_month:
            return f"{self.period.describe()} {_ANCHOR_TEXT[self.anchor]}"
        return f"{self.period.describe()} from {_ANCHOR_TEXT[self.anchor]}"
