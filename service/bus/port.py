"""The bus interface (publish, subscribe) and the factory choosing an implementation from its URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class BusMessage:
    subject: str
    payload: bytes


class BusSubscription(Protocol):
    async def get(self) -> BusMessage:
        """The next message, in publication order per publisher; waits until one arrives."""
        ...

    async def close(self) -> None: ...


class EventBus(Protocol):
    async def publish(self, subject: str, payload: bytes) -> None:
        """Returns once the bus has accepted the message (JetStream: stored and acknowledged)."""
        ...

    async def subscribe(self, subject: str) -> BusSubscription:
        """Messages published on `subject` from now on, by any publisher (any replica)."""
        ...

    async def close(self) -> None: ...


async def open_bus(url: str) -> EventBus:
    """`memory://` (in-process) or `nats://host:port` / `tls://host:port` (JetStream)."""
    scheme = urlsplit(url).scheme
    if url in ("", "memory://"):
        from service.bus.memory import InProcessBus

        return InProcessBus()
    if scheme in ("nats", "tls"):
        from service.bus.jetstream import JetStreamBus

        return await JetStreamBus.connect(url)
    raise ValueError(f"unsupported bus URL {url!r}: expected memory:// or nats://host:4222")
