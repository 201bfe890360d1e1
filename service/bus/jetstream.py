"""The bus on NATS JetStream, shared by every replica.

Messages go to one stream (`BACKHAUL_EVENTS`, subjects `backhaul.>`). Publication waits for JetStream's
acknowledgement. Each subscriber is an ordered push consumer starting at new messages: JetStream delivers
in stream order and the client re-creates the consumer from the last sequence it saw after a reconnect or a
missed message, so a brief network cut loses nothing. The stream only keeps recent messages (the database
is the record; consumers fill anything older from it).
"""

from __future__ import annotations

import asyncio
import contextlib

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from service.bus.port import BusMessage

STREAM_NAME = "BACKHAUL_EVENTS"
STREAM_SUBJECTS = ["backhaul.>"]
# Long enough to ride out a replica's reconnect; anything older is read from the database.
STREAM_MAX_AGE_SECONDS = 3600.0
STREAM_MAX_BYTES = 256 * 1024 * 1024


class _JetStreamSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[BusMessage] = asyncio.Queue()
        self.subscription: object | None = None

    async def deliver(self, message: Msg) -> None:
        self.queue.put_nowait(BusMessage(message.subject, message.data))

    async def get(self) -> BusMessage:
        return await self.queue.get()

    async def close(self) -> None:
        unsubscribe = getattr(self.subscription, "unsubscribe", None)
        if unsubscribe is not None:
            with contextlib.suppress(nats.errors.Error):
                await unsubscribe()


class JetStreamBus:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._js = client.jetstream()

    @classmethod
    async def connect(cls, url: str) -> JetStreamBus:
        client = await nats.connect(
            url,
            name="backhaul",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
        )
        bus = cls(client)
        try:
            await bus._ensure_stream()
        except BaseException:
            await client.close()
            raise
        return bus

    async def _ensure_stream(self) -> None:
        config = StreamConfig(
            name=STREAM_NAME,
            subjects=STREAM_SUBJECTS,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.MEMORY,
            discard=DiscardPolicy.OLD,
            max_age=STREAM_MAX_AGE_SECONDS,
            max_bytes=STREAM_MAX_BYTES,
        )
        try:
            await self._js.add_stream(config)
        except BadRequestError:
            # Exists with other limits (an older release or an operator's choice): bring it to ours.
            await self._js.update_stream(config)

    async def publish(self, subject: str, payload: bytes) -> None:
        await self._js.publish(subject, payload, stream=STREAM_NAME)

    async def subscribe(self, subject: str) -> _JetStreamSubscription:
        subscription = _JetStreamSubscription()
        subscription.subscription = await self._js.subscribe(
            subject,
            stream=STREAM_NAME,
            cb=subscription.deliver,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            idle_heartbeat=5.0,
        )
        return subscription

    async def close(self) -> None:
        with contextlib.suppress(nats.errors.Error):
            await self._client.drain()
