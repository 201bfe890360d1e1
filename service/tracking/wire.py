"""Logged events as bus messages (JSON), so a replica can stream an event another replica committed
without reading it back from the database.

A message names the replica that published it (`origin`) ahead of its events, so a replica recognises its
own publications, which it has already streamed, from the first bytes and skips parsing them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from carriers.tracking import ExceptionReason, TrackingEvent, TrackingLocation, TrackingStatus
from service.tracking.milestones import ReturnMilestone
from service.tracking.model import EventSource, LoggedEvent

SUBJECT = "backhaul.tracking.events"
_VERSION = 1


def _header(origin: str) -> bytes:
    return json.dumps({"v": _VERSION, "o": origin}, separators=(",", ":"))[:-1].encode()


def encode_events(events: Sequence[LoggedEvent], origin: str) -> bytes:
    body = json.dumps([_encode(e) for e in events], separators=(",", ":"))
    return _header(origin) + b',"events":' + body.encode() + b"}"


def published_by(payload: bytes, origin: str) -> bool:
    return payload.startswith(_header(origin) + b",")


def decode_events(payload: bytes) -> list[LoggedEvent]:
    """ValueError for a payload this release cannot read."""
    document = json.loads(payload)
    if not isinstance(document, dict) or document.get("v") != _VERSION:
        raise ValueError("unknown tracking bus message version")
    try:
        return [_decode(item) for item in document["events"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed tracking bus message: {exc!r}") from exc


def _encode(logged: LoggedEvent) -> dict[str, Any]:
    event = logged.event
    location = event.location
    return {
        "c": logged.cursor,
        "id": logged.id,
        "m": logged.merchant_id,
        "s": logged.shipment_id,
        "l": logged.label_id,
        "src": logged.source.value,
        "rec": logged.recorded_at.isoformat(),
        "ms": logged.milestone.value if logged.milestone else None,
        "f": logged.facility,
        "car": event.carrier,
        "tn": event.tracking_number,
        "at": event.occurred_at.isoformat(),
        "st": event.status.value,
        "sub": event.substatus,
        "code": event.code,
        "d": event.description,
        "loc": [location.city, location.region, location.postal_code, location.country],
        "r": event.reason.value if event.reason else None,
        "raw": dict(event.raw),
    }


def _decode(item: dict[str, Any]) -> LoggedEvent:
    city, region, postal_code, country = item["loc"]
    return LoggedEvent(
        cursor=int(item["c"]),
        id=item["id"],
        merchant_id=item["m"],
        shipment_id=item["s"],
        label_id=item["l"],
        source=EventSource(item["src"]),
        recorded_at=dt.datetime.fromisoformat(item["rec"]),
        milestone=ReturnMilestone(item["ms"]) if item["ms"] else None,
        facility=item["f"],
        event=TrackingEvent(
            carrier=item["car"],
            tracking_number=item["tn"],
            occurred_at=dt.datetime.fromisoformat(item["at"]),
            status=TrackingStatus(item["st"]),
            substatus=item["sub"],
            code=item["code"],
            description=item["d"],
            location=TrackingLocation(city=city, region=region, postal_code=postal_code, country=country),
            reason=ExceptionReason(item["r"]) if item["r"] else None,
            raw=item["raw"],
        ),
    )
