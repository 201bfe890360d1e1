"""Building canonical tracking events for the tracking tests."""

from __future__ import annotations

import datetime as dt

from carriers.tracking import ExceptionReason, TrackingEvent, TrackingLocation, TrackingStatus

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def scan(
    status: TrackingStatus,
    minutes: int = 0,
    *,
    code: str = "",
    number: str = "SB000000000001",
    carrier: str = "sandbox-eu",
    city: str = "",
    reason: ExceptionReason | None = None,
) -> TrackingEvent:
    return TrackingEvent(
        carrier=carrier,
        tracking_number=number,
        occurred_at=START + dt.timedelta(minutes=minutes),
        status=status,
        substatus=status.value,
        code=code or status.value.upper(),
        location=TrackingLocation(city=city),
        reason=reason,
    )
