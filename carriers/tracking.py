"""The canonical tracking model every carrier's statuses are mapped onto.

A small status set plus the carrier's verbatim substatus and raw payload: the set is what clients switch on,
the verbatim fields keep what a mapping table could not express.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TrackingStatus(StrEnum):
    PRE_TRANSIT = "pre_transit"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED_TO_SENDER = "returned_to_sender"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """No further scans are expected (polling may stop)."""
        return self in _FINAL


_FINAL = frozenset({TrackingStatus.DELIVERED, TrackingStatus.RETURNED_TO_SENDER, TrackingStatus.CANCELLED})


class ExceptionReason(StrEnum):
    CUSTOMS_DELAY = "customs_delay"
    CUSTOMS_INSPECTION = "customs_inspection"
    DUTIES_UNPAID = "duties_unpaid"
    ADDRESS_PROBLEM = "address_problem"
    DAMAGED = "damaged"
    LOST = "lost"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class TrackingLocation:
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""  # ISO 3166-1 alpha-2 when known

    def __bool__(self) -> bool:
        return any((self.city, self.region, self.postal_code, self.country))


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One scan or status change; deduplicated on (carrier, tracking_number, occurred_at, code, location)."""

    carrier: str
    tracking_number: str
    occurred_at: dt.datetime
    status: TrackingStatus
    substatus: str = ""  # the carrier's own status/substatus, verbatim
    code: str = ""  # the carrier's event code, verbatim
    description: str = ""
    location: TrackingLocation = field(default_factory=TrackingLocation)
    reason: ExceptionReason | None = None  # set for EXCEPTION (and RETURNED_TO_SENDER when known)
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("TrackingEvent.occurred_at must be timezone-aware")

    @property
    def dedup_key(self) -> tuple[str, str, dt.datetime, str, TrackingLocation]:
        return (self.carrier, self.tracking_number, self.occurred_at, self.code, self.location)


@dataclass(frozen=True, slots=True)
class TrackingSnapshot:
    """What a carrier currently says about a parcel: its status and the events it knows, oldest first."""

    carrier: str
    tracking_number: str
    status: TrackingStatus = TrackingStatus.UNKNOWN
    events: tuple[TrackingEvent, ...] = ()
    estimated_delivery: dt.date | None = None
    public_url: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
