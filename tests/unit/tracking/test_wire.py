"""Bus messages of logged events: a lossless round trip, and a replica recognising its own."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from carriers.tracking import ExceptionReason, TrackingLocation, TrackingStatus
from service.tracking.milestones import ReturnMilestone
from service.tracking.model import EventSource, LoggedEvent
from service.tracking.wire import decode_events, encode_events, published_by
from tests.unit.tracking.events import scan

ORIGIN = "a" * 32


def _logged(cursor: int) -> LoggedEvent:
    event = dataclasses.replace(
        scan(TrackingStatus.EXCEPTION, cursor, code="EME", reason=ExceptionReason.CUSTOMS_DELAY),
        location=TrackingLocation(city="Venlo", region="LI", postal_code="5928", country="NL"),
        raw={"scan": cursor, "nested": {"ok": True}},
    )
    return LoggedEvent(
        cursor=cursor,
        id=f"{cursor:064d}",
        merchant_id="acme",
        shipment_id="s" * 32,
        label_id=None if cursor % 2 else "lbl_1",
        source=EventSource.PARTNER_PUSH,
        recorded_at=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC),
        event=event,
        milestone=ReturnMilestone.DROPPED_OFF if cursor == 1 else None,
        facility="Returns hub Venlo",
    )


def test_events_survive_the_bus_unchanged() -> None:
    events = [_logged(1), _logged(2)]
    decoded = decode_events(encode_events(events, ORIGIN))
    assert decoded == events
    assert [e.event.raw for e in decoded] == [e.event.raw for e in events]  # raw is not compared by ==


def test_a_replica_recognises_its_own_publications_only() -> None:
    payload = encode_events([_logged(1)], ORIGIN)
    assert published_by(payload, ORIGIN)
    assert not published_by(payload, "b" * 32)
    assert not published_by(payload, ORIGIN[:-1])


def test_unknown_versions_and_garbage_are_refused() -> None:
    for payload in (b'{"v":2,"o":"x","events":[]}', b"[]", b'{"v":1,"o":"x","events":[{"c":1}]}'):
        with pytest.raises(ValueError, match="tracking bus message"):
            decode_events(payload)
