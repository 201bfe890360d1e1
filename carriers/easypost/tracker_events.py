"""EasyPost Tracker JSON (fetched, or inside a `tracker.*` webhook Event) as canonical tracking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from carriers.easypost.statuses import status_table
from carriers.tracking import TrackingEvent, TrackingLocation, TrackingSnapshot, TrackingStatus

TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _timestamp(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _location(value: Any) -> TrackingLocation:
    if not isinstance(value, Mapping):
        return TrackingLocation()
    return TrackingLocation(
        city=_text(value.get("city")),
        region=_text(value.get("state")),
        postal_code=_text(value.get("zip")),
        country=_text(value.get("country")).upper(),
    )


def tracking_event(account_id: str, tracking_code: str, detail: Mapping[str, Any]) -> TrackingEvent:
    status, status_detail = _text(detail.get("status")), _text(detail.get("status_detail"))
    canonical, reason = status_table().classify(status, status_detail)
    return TrackingEvent(
        carrier=account_id,
        tracking_number=tracking_code,
        occurred_at=_timestamp(detail["datetime"]),
        status=canonical,
        substatus=status_detail or status,
        code=_text(detail.get("carrier_code")),
        description=_text(detail.get("message") or detail.get("description")),
        location=_location(detail.get("tracking_location")),
        reason=reason,
        raw=dict(detail),
    )


def tracker_snapshot(account_id: str, tracker: Mapping[str, Any]) -> TrackingSnapshot:
    """The tracker's events (oldest first) and overall status; KeyError/ValueError when incomplete."""
    code = str(tracker["tracking_code"])
    events = tuple(
        sorted(
            (tracking_event(account_id, code, detail) for detail in tracker["tracking_details"] or []),
            key=lambda event: event.occurred_at,
        )
    )
    status, _ = status_table().classify(_text(tracker.get("status")), _text(tracker.get("status_detail")))
    if status is TrackingStatus.UNKNOWN and events:
        status = events[-1].status
    estimated = tracker.get("est_delivery_date")
    return TrackingSnapshot(
        carrier=account_id,
        tracking_number=code,
        status=status,
        events=events,
        estimated_delivery=_timestamp(estimated).date() if estimated else None,
        public_url=_text(tracker.get("public_url")),
        raw=dict(tracker),
    )
