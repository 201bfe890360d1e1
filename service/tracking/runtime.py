"""The tracking capability of one running instance: its use cases and its background tasks.

`open_tracking` builds the log, the group-commit writer, the fan-out (subscribed to the bus) and the
poller, and starts them; `Tracking.close` stops them in the reverse order, after the writer has committed
and published what it was given.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from carriers.port import CarrierAdapter
from service.bus.port import EventBus
from service.config import Settings
from service.metrics import ServiceMetrics
from service.storage.engine import Database
from service.tracking.access import TrackingTokens
from service.tracking.event_log import EventLog
from service.tracking.fanout import TrackingFanout
from service.tracking.ingestion import PollingPolicy, TrackingIngestion
from service.tracking.log_writer import LogWriter
from service.tracking.model import LoggedEvent
from service.tracking.polling import PollerSettings, TrackingPoller
from service.tracking.queries import TrackingQueries
from service.tracking.rule_files import load_milestone_rules, load_partner_status_table, load_refund_terms
from service.tracking.shipments import ShipmentRegistry
from service.tracking.streams import TrackingStreams
from service.tracking.wire import SUBJECT, encode_events

# Events per bus message: keeps every message far below NATS's default 1 MiB payload limit.
BUS_MESSAGE_EVENTS = 200


@dataclass
class Tracking:
    ingestion: TrackingIngestion
    queries: TrackingQueries
    streams: TrackingStreams
    tokens: TrackingTokens
    fanout: TrackingFanout
    poller: TrackingPoller
    writer: LogWriter
    event_log: EventLog
    heartbeat_seconds: float

    async def close(self) -> None:
        await self.poller.close()
        await self.writer.close()
        await self.fanout.close()
        self.event_log.close()


async def open_tracking(
    settings: Settings,
    database: Database,
    bus: EventBus,
    adapters: Mapping[str, CarrierAdapter],
    metrics: ServiceMetrics,
    *,
    start_poller: bool = True,
) -> Tracking:
    event_log = EventLog(database, load_milestone_rules())
    shipments = ShipmentRegistry(database)

    fanout = TrackingFanout(event_log, bus, store_check_seconds=settings.tracking_store_check_seconds)

    async def publish(events: Sequence[LoggedEvent]) -> None:
        for start in range(0, len(events), BUS_MESSAGE_EVENTS):
            chunk = events[start : start + BUS_MESSAGE_EVENTS]
            await bus.publish(SUBJECT, encode_events(chunk, fanout.origin))

    writer = LogWriter(event_log, publish, fanout.accept_local)
    policy = PollingPolicy(
        interval=dt.timedelta(seconds=settings.tracking_poll_interval_seconds),
        backstop=dt.timedelta(seconds=settings.tracking_backstop_poll_seconds),
        max_age=dt.timedelta(days=settings.tracking_poll_max_age_days),
    )
    rng = random.Random()
    ingestion = TrackingIngestion(
        shipments=shipments,
        writer=writer,
        adapters=adapters,
        partner_codes=load_partner_status_table(),
        polling=policy,
        metrics=metrics,
        rng=rng,
    )
    poller = TrackingPoller(
        shipments=shipments,
        ingestion=ingestion,
        adapters=adapters,
        policy=policy,
        settings=PollerSettings(rate_per_account=settings.tracking_poll_rate_per_account),
        rng=rng,
    )
    tracking = Tracking(
        ingestion=ingestion,
        queries=TrackingQueries(
            shipments,
            event_log,
            load_refund_terms(settings.tracking_refund_business_days, settings.tracking_refund_terms_file),
        ),
        streams=TrackingStreams(event_log, fanout, queue_capacity=settings.tracking_subscriber_queue),
        tokens=TrackingTokens(
            settings.token_signing_secret, validity=dt.timedelta(days=settings.tracking_token_days)
        ),
        fanout=fanout,
        poller=poller,
        writer=writer,
        event_log=event_log,
        heartbeat_seconds=settings.tracking_heartbeat_seconds,
    )
    await fanout.start()
    writer.start()
    if start_poller:
        poller.start()
    metrics.tracking_subscribers.set_function(lambda: fanout.subscriber_count)
    metrics.tracking_stream_lag.set_function(fanout.max_lag_seconds)
    return tracking
