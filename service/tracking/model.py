"""What the tracking use cases store and stream: tracked parcels and the events of the log.

Carrier adapters speak `carriers.tracking.TrackingEvent`; once an event is appended to the log it becomes a
`LoggedEvent`: the same event plus its cursor (its position in the log), the merchant and parcel it belongs
to, where it came from, and the return milestone it reached.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from carriers.tracking import TrackingEvent, TrackingStatus
from service.tracking.milestones import ReturnMilestone, ReturnRoute


class EventSource(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"
    PARTNER_PUSH = "partner_push"
    INTERNAL = "internal"


class IngestOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


def normalise_tracking_number(value: str) -> str:
    """Carriers print tracking numbers with spaces and in either case; the log keys them without both."""
    return "".join(value.split()).upper()


def event_id(event: TrackingEvent) -> str:
    """Digest of the deduplication key (carrier, tracking number, event time, code, location).

    The time is taken in UTC to the microsecond, so the same scan reported with another UTC offset is
    still recognised as the same scan.
    """
    location = event.location
    parts = (
        event.carrier,
        normalise_tracking_number(event.tracking_number),
        event.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        event.code,
        location.city,
        location.region,
        location.postal_code,
        location.country,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TrackedShipment:
    """A parcel Backhaul follows: registered with its label, or pushed by a partner for a merchant."""

    id: str
    merchant_id: str
    label_id: str | None
    carrier_account_id: str
    tracking_number: str
    route: ReturnRoute
    registered_at: dt.datetime
    status: TrackingStatus = TrackingStatus.UNKNOWN
    substatus: str = ""
    last_event_at: dt.datetime | None = None
    final: bool = False
    estimated_delivery: dt.date | None = None
    next_poll_at: dt.datetime | None = None  # None: not polled (final, too old, or pushed to us)
    poll_failures: int = 0  # consecutive failed polls


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event on its way into the log, already matched to its parcel."""

    shipment: TrackedShipment
    event: TrackingEvent
    source: EventSource
    facility: str = ""
    id: str = field(init=False)  # event_id(event), computed once

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", event_id(self.event))


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    cursor: int
    id: str
    merchant_id: str
    shipment_id: str
    label_id: str | None
    source: EventSource
    recorded_at: dt.datetime
    event: TrackingEvent
    milestone: ReturnMilestone | None = None
    facility: str = ""

    @property
    def tracking_number(self) -> str:
        return self.event.tracking_number


@dataclass(frozen=True, slots=True)
class AppendResult:
    outcome: IngestOutcome
    cursor: int  # for a duplicate: the cursor of the event already in the log
