"""The in-process bus: publication hands the message to every current subscriber's queue at once."""

from __future__ import annotations

import asyncio

from service.bus.port import BusMessage


class _Subscription:
    def __init__(self, bus: InProcessBus, subject: str) -> None:
        self._bus = bus
        self.subject = subject
        # Unbounded: subscribers are the service's own dispatch loops, which never stop reading.
        self.queue: asyncio.Queue[BusMessage] = asyncio.Queue()

    async def get(self) -> BusMessage:
        return await self.queue.get()

    async def close(self) -> None:
        self._bus.unsubscribe(self)


class InProcessBus:
    def __init__(self) -> None:
        self._subscriptions: dict[str, list[_Subscription]] = {}

    async def publish(self, subject: str, payload: bytes) -> None:
        message = BusMessage(subject, payload)
        for subscription in self._subscriptions.get(subject, ()):
            subscription.queue.put_nowait(message)

    async def subscribe(self, subject: str) -> _Subscription:
        subscription = _Subscription(self, subject)
        self._subscriptions.setdefault(subject, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: _Subscription) -> None:
        remaining = [s for s in self._subscriptions.get(subscription.subject, ()) if s is not subscription]
        if remaining:
            self._subscriptions[subscription.subject] = remaining
        else:
            self._subscriptions.pop(subscription.subject, None)

    async def close(self) -> None:
        self._subscriptions.clear()
