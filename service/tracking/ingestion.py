"""Tracking ingestion: every way events reach Backhaul ends in `TrackingIngestion`, and in the log.

Three paths, one rule: an event is acknowledged only once it is committed, and an event already in the log
(same carrier account, tracking number, event time, code and location) is reported as a duplicate and
neither stored nor published again.

- verified carrier webhooks (`ingest_webhook`), for parcels registered with that carrier account;
- polling (`ingest_snapshot`, called by the poller) for carriers without webhooks, and as a backstop;
- partner pushes (`ingest_partner_scans`), scoped to the pushing merchant's parcels.

Parcels enter through `register_shipment`, which the labels use case calls when it buys a label.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from carriers.errors import WebhookVerificationFailed
from carriers.port import CarrierAdapter, Operation, TrackingUpdates
from carriers.tracking import TrackingEvent, TrackingSnapshot
from service.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unavailable
from service.metrics import ServiceMetrics
from service.tracking.log_writer import LogWriter
from service.tracking.milestones import ReturnRoute
from service.tracking.model import (
    AppendResult,
    EventSource,
    IngestOutcome,
    PendingEvent,
    TrackedShipment,
    normalise_tracking_number,
)
from service.tracking.partner_scans import PartnerScan, PartnerStatusTable, canonical_event
from service.tracking.shipments import ShipmentRegistry
from service.tracking.tables import LABEL_ID_LENGTH, TRACKING_NUMBER_LENGTH

MAX_PARTNER_BATCH = 1000

T = TypeVar("T")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class PollingPolicy:
    interval: dt.timedelta  # carriers we must poll
    backstop: dt.timedelta  # carriers that also send webhooks
    max_age: dt.timedelta  # parcels registered longer ago are no longer polled
    jitter: float = 0.1  # +-10 % on every scheduled poll, so parcels registered together spread out

    def interval_for(self, adapter: CarrierAdapter) -> dt.timedelta | None:
        """How often to poll this carrier's parcels; None when it cannot be polled."""
        capabilities = adapter.capabilities
        if not capabilities.supports(Operation.TRACK):
            return None
        updates = capabilities.tracking_updates
        if TrackingUpdates.POLLING not in updates:
            return None
        return self.backstop if TrackingUpdates.WEBHOOK in updates else self.interval

    def jittered(self, interval: dt.timedelta, rng: random.Random) -> dt.timedelta:
        return interval * rng.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    accepted: int
    duplicates: int
    unmatched: int  # events for tracking numbers nobody registered with this account


class UnknownCarrierAccount(LookupError):
    pass


class TrackingIngestion:
    def __init__(
        self,
        *,
        shipments: ShipmentRegistry,
        writer: LogWriter,
        adapters: Mapping[str, CarrierAdapter],
        partner_codes: PartnerStatusTable,
        polling: PollingPolicy,
        metrics: ServiceMetrics,
        clock: Callable[[], dt.datetime] = _utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._shipments = shipments
        self._writer = writer
        self._adapters = adapters
        self._partner_codes = partner_codes
        self._polling = polling
        self._metrics = metrics
        self._clock = clock
        self._rng = rng or random.Random()

    # -- registration ---------------------------------------------------------------------------------------

    async def register_shipment(
        self,
        merchant_id: str,
        label_id: str | None,
        carrier_account_id: str,
        tracking_number: str,
        *,
        route: ReturnRoute = ReturnRoute.VIA_HUB,
    ) -> TrackedShipment:
        """Start tracking a parcel (idempotent). Polling is scheduled when its carrier can be polled.

        InvalidArgument for an unknown carrier account or a malformed id; AlreadyExists when the tracking
        number is tracked for another merchant or label.
        """
        number = normalise_tracking_number(tracking_number)
        violations = []
        if not number or len(number) > TRACKING_NUMBER_LENGTH:
            violations.append(
                FieldViolation("tracking_number", f"must be 1 to {TRACKING_NUMBER_LENGTH} characters")
            )
        if label_id is not None and not 0 < len(label_id) <= LABEL_ID_LENGTH:
            violations.append(FieldViolation("label_id", f"must be 1 to {LABEL_ID_LENGTH} characters"))
        adapter = self._adapters.get(carrier_account_id)
        if adapter is None:
            violations.append(
                FieldViolation("carrier_account_id", f"no carrier account {carrier_account_id!r}")
            )
        if violations:
            raise InvalidArgument(violations)
        assert adapter is not None
        now = self._clock()
        interval = self._polling.interval_for(adapter)
        first_poll = now + self._polling.jittered(interval, self._rng) if interval is not None else None
        return await self._guarded(
            self._shipments.register(
                merchant_id=merchant_id,
                label_id=label_id,
                carrier_account_id=carrier_account_id,
                tracking_number=number,
                route=route,
                registered_at=now,
                first_poll_at=first_poll,
            )
        )

    # -- webhooks -------------------------------------------------------------------------------------------

    async def ingest_webhook(
        self, carrier_account_id: str, headers: Mapping[str, str], body: bytes
    ) -> WebhookReceipt:
        """Verify and store one webhook delivery.

        UnknownCarrierAccount when no such account is configured; the adapter's WebhookVerificationFailed
        (nothing is stored), UnsupportedOperation (the account takes no webhooks) or another CarrierError
        for an unreadable body.
        """
        adapter = self._adapters.get(carrier_account_id)
        if adapter is None:
            raise UnknownCarrierAccount(carrier_account_id)
        try:
            events = await adapter.parse_webhook(headers, body)
        except WebhookVerificationFailed:
            self._metrics.tracking_webhooks_refused.labels(carrier_account_id).inc()
            raise
        numbers = {normalise_tracking_number(event.tracking_number) for event in events}
        shipments = await self._guarded(self._shipments.identify(carrier_account_id, numbers))
        pending = []
        unmatched = 0
        for event in events:
            shipment = shipments.get(normalise_tracking_number(event.tracking_number))
            if shipment is None:
                unmatched += 1
            else:
                pending.append(_pending(shipment, event, EventSource.WEBHOOK))
        results = await self._append(pending)
        accepted = sum(1 for result in results if result.outcome is IngestOutcome.ACCEPTED)
        return WebhookReceipt(accepted, len(results) - accepted, unmatched)

    # -- polling --------------------------------------------------------------------------------------------

    async def ingest_snapshot(
        self, shipment: TrackedShipment, snapshot: TrackingSnapshot
    ) -> list[AppendResult]:
        return await self._append([_pending(shipment, event, EventSource.POLL) for event in snapshot.events])

    # -- partner pushes -------------------------------------------------------------------------------------

    async def ingest_partner_scans(
        self, merchant_id: str, carrier_account_id: str, scans: Sequence[PartnerScan]
    ) -> list[AppendResult]:
        """Store a partner's batch atomically, one result per scan in order.

        The account must take partner pushes, and every tracking number must be a parcel the merchant
        registered with it (InvalidArgument naming `events[i].tracking_number` otherwise).
        """
        if len(scans) > MAX_PARTNER_BATCH:
            raise InvalidArgument.single("events", f"at most {MAX_PARTNER_BATCH} events per request")
        adapter = self._adapters.get(carrier_account_id)
        if adapter is None:
            raise InvalidArgument.single("carrier_account_id", f"no carrier account {carrier_account_id!r}")
        if TrackingUpdates.PARTNER_PUSH not in adapter.capabilities.tracking_updates:
            raise FailedPrecondition(f"carrier account {carrier_account_id!r} does not take partner pushes")
        numbers = [normalise_tracking_number(scan.tracking_number) for scan in scans]
        shipments = await self._guarded(self._shipments.identify(carrier_account_id, numbers))
        violations = [
            FieldViolation(
                f"events[{index}].tracking_number",
                f"{number!r} is not a parcel of this merchant registered with {carrier_account_id!r}",
            )
            for index, number in enumerate(numbers)
            if number not in shipments or shipments[number].merchant_id != merchant_id
        ]
        if violations:
            raise InvalidArgument(violations)
        pending = [
            _pending(
                shipments[number],
                canonical_event(carrier_account_id, scan, self._partner_codes),
                EventSource.PARTNER_PUSH,
                scan.facility,
            )
            for number, scan in zip(numbers, scans, strict=True)
        ]
        return await self._append(pending)

    # -- the one way into the log ---------------------------------------------------------------------------

    async def _append(self, pending: Sequence[PendingEvent]) -> list[AppendResult]:
        results = await self._guarded(self._writer.append(pending))
        for item, result in zip(pending, results, strict=True):
            self._metrics.tracking_events_ingested.labels(item.source.value, result.outcome.value).inc()
        return results

    async def _guarded(self, operation: Awaitable[T]) -> T:
        """Database failures become Unavailable: the caller (a carrier, a partner) should retry."""
        try:
            return await operation
        except SQLAlchemyError as exc:
            raise Unavailable("the tracking store is unavailable", retry_after_seconds=1.0) from exc


def _pending(
    shipment: TrackedShipment, event: TrackingEvent, source: EventSource, facility: str = ""
) -> PendingEvent:
    """The event keyed as the log keys it: under the parcel's account and normalised tracking number."""
    if event.carrier != shipment.carrier_account_id or event.tracking_number != shipment.tracking_number:
        # Copied only when it differs: dataclasses.replace costs more than the rest of this path.
        event = dataclasses.replace(
            event, carrier=shipment.carrier_account_id, tracking_number=shipment.tracking_number
        )
    return PendingEvent(shipment, event, source, facility)
