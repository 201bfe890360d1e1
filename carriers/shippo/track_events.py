"""Shippo Track JSON (fetched, or the `data` of a `track_updated` webhook) as canonical tracking.

Both paths go through plain dicts: a webhook body is parsed with json, a fetched Track is the SDK object's
`to_dict()` (same keys, enums as str-enums, dates as ISO strings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import Enum
from typing import Any

from carriers.shippo.statuses import status_table
from carriers.tracking import TrackingEvent, TrackingLocation, TrackingSnapshot, TrackingStatus

TRACK_EVENTS = frozenset({"track_updated"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _timestamp(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
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


def tracking_event(account_id: str, tracking_number: str, entry: Mapping[str, Any]) -> TrackingEvent:
    status = _text(entry.get("status"))
    substatus = entry.get("substatus") or {}
    code = _text(substatus.get("code")) if isinstance(substatus, Mapping) else ""
    canonical, reason = status_table().classify(status, code)
    return TrackingEvent(
        carrier=account_id,
        tracking_number=tracking_number,
        occurred_at=_timestamp(entry.get("status_date") or entry["object_created"]),
        status=canonical,
        substatus=code or status,
        code=code,
        description=_text(entry.get("status_details")),
        location=_location(entry.get("location")),
        reason=reason,
        raw=dict(entry),
    )


def track_snapshot(account_id: str, track: Mapping[str, Any]) -> TrackingSnapshot:
    """The Track's events (oldest first) and current status; KeyError/ValueError when incomplete."""
    number = _text(track["tracking_number"])
    entries = list(track["tracking_history"] or [])
    current = track.get("tracking_status")
    if isinstance(current, Mapping) and all(e.get("object_id") != current.get("object_id") for e in entries):
        entries.append(current)
    events = tuple(
        sorted((tracking_event(account_id, number, e) for e in entries), key=lambda e: e.occurred_at)
    )
    status = TrackingStatus.UNKNOWN
    if isinstance(current, Mapping):
        substatus = current.get("substatus") or {}
        code = _text(substatus.get("code")) if isinstance(substatus, Mapping) else ""
        status, _ = status_table().classify(_text(current.get("status")), code)
    elif events:
        status = events[-1].status
    eta = track.get("eta")
    return TrackingSnapshot(
        carrier=account_id,
        tracking_number=number,
        status=status,
        events=events,
        estimated_delivery=_timestamp(eta).date() if eta else None,
        raw=dict(track),
    )
