"""GetTracking: one parcel's current state, milestones, expected refund date and full history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from carriers.tracking import ExceptionReason, TrackingStatus
from service.auth import Principal
from service.errors import InvalidArgument, NotFound, PermissionDenied
from service.tracking.event_log import EventLog
from service.tracking.milestones import MilestoneProgress, progress
from service.tracking.model import LoggedEvent, TrackedShipment, normalise_tracking_number
from service.tracking.refunds import RefundTerms
from service.tracking.shipments import ShipmentRegistry


@dataclass(frozen=True, slots=True)
class ParcelTracking:
    shipment: TrackedShipment
    history: list[LoggedEvent]  # cursor order
    milestones: tuple[MilestoneProgress, ...]
    expected_refund_date: dt.date | None
    exception_reason: ExceptionReason | None  # of the latest event, when it is an exception

    @property
    def last_cursor(self) -> int:
        return self.history[-1].cursor if self.history else 0


class TrackingQueries:
    def __init__(self, shipments: ShipmentRegistry, event_log: EventLog, refund_terms: RefundTerms) -> None:
        self._shipments = shipments
        self._log = event_log
        self._refund_terms = refund_terms

    async def parcel(
        self, principal: Principal, *, label_id: str | None = None, tracking_number: str | None = None
    ) -> ParcelTracking:
        """A parcel of the caller's merchant by label id or tracking number; a tracking token may name its
        own label or nothing (then its label is meant)."""
        if principal.label_id is not None:
            if label_id not in (None, principal.label_id):
                raise PermissionDenied("a tracking token can only read its own label's tracking")
            if tracking_number is None:
                label_id = principal.label_id
        if label_id is None and tracking_number is None:
            raise InvalidArgument.single("target", "set label_id or tracking_number")
        shipment = await self._shipments.find(
            principal.merchant_id,
            label_id=label_id,
            tracking_number=normalise_tracking_number(tracking_number) if tracking_number else None,
        )
        if shipment is None:
            raise NotFound("tracked parcel", label_id or tracking_number or "")
        if principal.label_id is not None and shipment.label_id != principal.label_id:
            raise PermissionDenied("a tracking token can only read its own label's tracking")
        history = await self._log.history(shipment.id)
        milestones = progress(
            (event.milestone, event.event.occurred_at, event.cursor)
            for event in history
            if event.milestone is not None
        )
        latest = max(history, key=lambda e: (e.event.occurred_at, e.cursor), default=None)
        reason = latest.event.reason if latest and latest.event.status is TrackingStatus.EXCEPTION else None
        return ParcelTracking(
            shipment=shipment,
            history=history,
            milestones=milestones,
            expected_refund_date=self._refund_terms.expected_refund_date(
                shipment.merchant_id, milestones, shipment.estimated_delivery
            ),
            exception_reason=reason,
        )
