"""TrackingService: GetTracking, SubscribeTracking (server streaming) and IngestTrackingEvents.

Thin: requests become use-case inputs (with request-path violations), results become messages. GetTracking
and SubscribeTracking accept a label's tracking token as well as an API key (`current_principal()`);
IngestTrackingEvents is for merchants only (`current_merchant()`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from backhaul.v1 import common_pb2, tracking_pb2
from carriers.accounts import CarrierAccount
from carriers.tracking import TrackingLocation, TrackingStatus
from customs.countries import validate_country
from service.auth import current_merchant, current_principal
from service.errors import FieldViolation, InvalidArgument
from service.grpc import convert
from service.grpc.convert import date_to_proto
from service.tracking.access import stream_selection
from service.tracking.milestones import ReturnMilestone
from service.tracking.model import EventSource, IngestOutcome, LoggedEvent
from service.tracking.partner_scans import PartnerScan
from service.tracking.queries import ParcelTracking
from service.tracking.runtime import Tracking
from service.tracking.streams import REPLAY_PAGE, EventBatch, Heartbeat, ReplayComplete, StreamItem

MIN_HEARTBEAT_SECONDS = 1.0
MAX_HEARTBEAT_SECONDS = 60.0
MAX_EVENTS_PER_MESSAGE = REPLAY_PAGE  # a replay page fits one message
# Events converted once and shared by every stream that delivers them (per-label and merchant-wide).
_CONVERTED_EVENTS = 4096

_STATUS = {s: tracking_pb2.TrackingStatus.Value(f"TRACKING_STATUS_{s.name}") for s in TrackingStatus}
_STATUS_FROM_PROTO = {value: key for key, value in _STATUS.items()}
_MILESTONE = {m: tracking_pb2.ReturnMilestone.Value(f"RETURN_MILESTONE_{m.name}") for m in ReturnMilestone}
_SOURCE = {
    EventSource.WEBHOOK: tracking_pb2.TRACKING_EVENT_SOURCE_WEBHOOK,
    EventSource.POLL: tracking_pb2.TRACKING_EVENT_SOURCE_POLL,
    EventSource.PARTNER_PUSH: tracking_pb2.TRACKING_EVENT_SOURCE_PARTNER_PUSH,
    EventSource.INTERNAL: tracking_pb2.TRACKING_EVENT_SOURCE_INTERNAL,
}
_OUTCOME = {
    IngestOutcome.ACCEPTED: tracking_pb2.INGEST_OUTCOME_ACCEPTED,
    IngestOutcome.DUPLICATE: tracking_pb2.INGEST_OUTCOME_DUPLICATE,
}


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    """An aware datetime as a Timestamp, by integer arithmetic: exact, and a fraction of the cost of
    Timestamp.FromDatetime (pure Python in protobuf), which every streamed event paid twice."""
    delta = value - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000
    )


def _struct(raw: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    # Through JSON so that dates or decimals a carrier SDK left in its payload become strings.
    message.update(json.loads(json.dumps(raw, default=str)))
    return message


class TrackingServicer:
    def __init__(self, tracking: Tracking, accounts: Mapping[str, CarrierAccount]) -> None:
        self._tracking = tracking
        self._accounts = accounts
        self._converted: OrderedDict[int, tracking_pb2.SubscribeTrackingResponse] = OrderedDict()

    # -- GetTracking ----------------------------------------------------------------------------------------

    async def GetTracking(
        self, request: tracking_pb2.GetTrackingRequest, context: object
    ) -> tracking_pb2.GetTrackingResponse:
        target = request.WhichOneof("target")
        parcel = await self._tracking.queries.parcel(
            current_principal(),
            label_id=request.label_id if target == "label_id" else None,
            tracking_number=request.tracking_number if target == "tracking_number" else None,
        )
        return tracking_pb2.GetTrackingResponse(
            state=self._state(parcel), history=[self._event(event) for event in parcel.history]
        )

    def _state(self, parcel: ParcelTracking) -> tracking_pb2.TrackingState:
        shipment = parcel.shipment
        state = tracking_pb2.TrackingState(
            label_id=shipment.label_id or "",
            carrier=self._carrier(shipment.carrier_account_id),
            tracking_number=shipment.tracking_number,
            status=_STATUS[shipment.status],
            substatus=shipment.substatus,
            final=shipment.final,
            last_cursor=parcel.last_cursor,
            milestones=[
                tracking_pb2.MilestoneProgress(
                    milestone=_MILESTONE[item.milestone],
                    reached=item.reached,
                    reached_at=_timestamp(item.reached_at) if item.reached_at else None,
                    cursor=item.cursor,
                )
                for item in parcel.milestones
            ],
        )
        if parcel.exception_reason is not None:
            state.exception_reason = convert.EXCEPTION_REASON_TO_PROTO[parcel.exception_reason]
        if shipment.last_event_at is not None:
            state.last_event_at.CopyFrom(_timestamp(shipment.last_event_at))
        if shipment.estimated_delivery is not None:
            state.estimated_delivery_date.CopyFrom(date_to_proto(shipment.estimated_delivery))
        if parcel.expected_refund_date is not None:
            state.expected_refund_date.CopyFrom(date_to_proto(parcel.expected_refund_date))
        return state

    # -- SubscribeTracking ----------------------------------------------------------------------------------

    async def SubscribeTracking(
        self, request: tracking_pb2.SubscribeTrackingRequest, context: object
    ) -> AsyncIterator[tracking_pb2.SubscribeTrackingResponse]:
        kind = request.WhichOneof("filter")
        if kind == "labels" and not request.labels.label_ids:
            raise InvalidArgument.single("labels.label_ids", "name at least one label id")
        if kind == "tracking_numbers" and not request.tracking_numbers.tracking_numbers:
            raise InvalidArgument.single(
                "tracking_numbers.tracking_numbers", "name at least one tracking number"
            )
        selection = stream_selection(
            current_principal(),
            label_ids=list(request.labels.label_ids) if kind == "labels" else [],
            tracking_numbers=list(request.tracking_numbers.tracking_numbers)
            if kind == "tracking_numbers"
            else [],
            whole_merchant=kind == "merchant",
        )
        if request.max_events_per_message > MAX_EVENTS_PER_MESSAGE:
            raise InvalidArgument.single("max_events_per_message", f"at most {MAX_EVENTS_PER_MESSAGE}")
        per_message = request.max_events_per_message
        resume = request.resume_after_cursor if request.HasField("resume_after_cursor") else None
        heartbeat = self._tracking.heartbeat_seconds
        if request.HasField("heartbeat_interval"):
            asked = request.heartbeat_interval.ToTimedelta().total_seconds()
            heartbeat = min(max(asked, MIN_HEARTBEAT_SECONDS), MAX_HEARTBEAT_SECONDS)
        async with aclosing(self._tracking.streams.batches(selection, resume, heartbeat)) as items:
            async for item in items:
                if not isinstance(item, EventBatch):
                    yield self._stream_message(item)
                elif per_message <= 1:
                    for event in item.events:
                        yield self._stream_message(event)
                else:
                    events = item.events
                    for start in range(0, len(events), per_message):
                        yield self._batch_message(events[start : start + per_message])

    def _batch_message(self, events: Sequence[LoggedEvent]) -> tracking_pb2.SubscribeTrackingResponse:
        message = tracking_pb2.SubscribeTrackingResponse()
        message.events.events.extend(self._stream_message(event).event for event in events)
        return message

    def _stream_message(self, item: StreamItem) -> tracking_pb2.SubscribeTrackingResponse:
        if isinstance(item, Heartbeat):
            return tracking_pb2.SubscribeTrackingResponse(
                heartbeat=tracking_pb2.TrackingHeartbeat(
                    server_time=_timestamp(item.at), last_cursor=item.last_cursor
                )
            )
        if isinstance(item, ReplayComplete):
            return tracking_pb2.SubscribeTrackingResponse(
                replay_complete=tracking_pb2.TrackingReplayComplete(
                    last_cursor=item.last_cursor, replayed_count=item.replayed
                )
            )
        message = self._converted.get(item.cursor)
        if message is None:
            message = tracking_pb2.SubscribeTrackingResponse(event=self._event(item))
            self._converted[item.cursor] = message
            if len(self._converted) > _CONVERTED_EVENTS:
                self._converted.popitem(last=False)
        return message

    # -- IngestTrackingEvents -------------------------------------------------------------------------------

    async def IngestTrackingEvents(
        self, request: tracking_pb2.IngestTrackingEventsRequest, context: object
    ) -> tracking_pb2.IngestTrackingEventsResponse:
        merchant_id = current_merchant()
        if not request.carrier_account_id:
            raise InvalidArgument.single("carrier_account_id", "required")
        scans = _partner_scans(request)
        results = await self._tracking.ingestion.ingest_partner_scans(
            merchant_id, request.carrier_account_id, scans
        )
        accepted = sum(1 for result in results if result.outcome is IngestOutcome.ACCEPTED)
        return tracking_pb2.IngestTrackingEventsResponse(
            accepted_count=accepted,
            duplicate_count=len(results) - accepted,
            results=[
                tracking_pb2.IngestedEventResult(outcome=_OUTCOME[result.outcome], cursor=result.cursor)
                for result in results
            ],
        )

    # -- conversions ----------------------------------------------------------------------------------------

    def _carrier(self, account_id: str) -> common_pb2.Carrier:
        account = self._accounts.get(account_id)
        if account is None:
            return common_pb2.Carrier(account_id=account_id)
        return common_pb2.Carrier(account_id=account_id, name=account.carrier, provider=account.adapter)

    def _event(self, logged: LoggedEvent) -> tracking_pb2.TrackingEvent:
        event = logged.event
        location = event.location
        message = tracking_pb2.TrackingEvent(
            cursor=logged.cursor,
            id=logged.id,
            label_id=logged.label_id or "",
            carrier=self._carrier(event.carrier),
            tracking_number=event.tracking_number,
            occurred_at=_timestamp(event.occurred_at),
            recorded_at=_timestamp(logged.recorded_at),
            status=_STATUS[event.status],
            substatus=event.substatus,
            code=event.code,
            description=event.description,
            location=tracking_pb2.TrackingLocation(
                city=location.city,
                administrative_area=location.region,
                postal_code=location.postal_code,
                country=location.country,
                facility=logged.facility,
            ),
            source=_SOURCE[logged.source],
            raw_payload=_struct(event.raw),
        )
        if event.reason is not None:
            message.exception_reason = convert.EXCEPTION_REASON_TO_PROTO[event.reason]
        if logged.milestone is not None:
            message.milestone = _MILESTONE[logged.milestone]
        return message


def _partner_scans(request: tracking_pb2.IngestTrackingEventsRequest) -> list[PartnerScan]:
    violations: list[FieldViolation] = []
    scans: list[PartnerScan] = []
    for index, pushed in enumerate(request.events):
        path = f"events[{index}]"
        if not pushed.tracking_number.strip():
            violations.append(FieldViolation(f"{path}.tracking_number", "required"))
        if not pushed.HasField("occurred_at"):
            violations.append(FieldViolation(f"{path}.occurred_at", "required"))
        if not pushed.code and pushed.status == tracking_pb2.TRACKING_STATUS_UNSPECIFIED:
            violations.append(FieldViolation(f"{path}.code", "give the partner's event code or a status"))
        country = pushed.location.country
        if country:
            try:
                validate_country(country)
            except ValueError as exc:
                violations.append(FieldViolation(f"{path}.location.country", str(exc)))
        if violations:
            continue
        scans.append(
            PartnerScan(
                tracking_number=pushed.tracking_number,
                occurred_at=pushed.occurred_at.ToDatetime(tzinfo=dt.UTC),
                code=pushed.code,
                substatus=pushed.substatus,
                description=pushed.description,
                location=TrackingLocation(
                    city=pushed.location.city,
                    region=pushed.location.administrative_area,
                    postal_code=pushed.location.postal_code,
                    country=country.upper(),
                ),
                facility=pushed.location.facility,
                status=_STATUS_FROM_PROTO.get(pushed.status),
                reason=convert.EXCEPTION_REASON_FROM_PROTO.get(pushed.exception_reason),
                raw=json_format.MessageToDict(pushed.raw_payload) if pushed.HasField("raw_payload") else {},
            )
        )
    if violations:
        raise InvalidArgument(violations)
    return scans
