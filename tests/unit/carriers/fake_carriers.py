"""A scripted carrier adapter and a fake clock for resilience and quoting tests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from carriers.models import (
    LabelReference,
    PurchasedLabel,
    PurchaseRequest,
    Rate,
    ReturnShipment,
    VoidResult,
    VoidStatus,
)
from carriers.port import Capabilities, Operation
from carriers.tracking import TrackingEvent, TrackingSnapshot
from customs.money import Money


class FakeClock:
    """Monotonic seconds that only move when the code under test sleeps (or the test advances them)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


Outcome = BaseException | Sequence[Rate] | None


class ScriptedCarrier:
    """Answers each call with the next scripted outcome (an exception to raise, or rates); `None` hangs."""

    def __init__(self, outcomes: Sequence[Outcome], account_id: str = "scripted", delay: float = 0.0) -> None:
        self._outcomes = list(outcomes)
        self._account_id = account_id
        self._delay = delay
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def carrier(self) -> str:
        return "Scripted"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(operations=frozenset(Operation))

    async def _next(self) -> Sequence[Rate]:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._delay:
                await asyncio.sleep(self._delay)
            outcome = self._outcomes.pop(0) if len(self._outcomes) > 1 else self._outcomes[0]
            if outcome is None:
                await asyncio.Event().wait()
            if isinstance(outcome, BaseException):
                raise outcome
            assert outcome is not None
            return outcome
        finally:
            self.in_flight -= 1

    async def quote(self, shipment: ReturnShipment) -> Sequence[Rate]:
        return await self._next()

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel:
        await self._next()
        return PurchasedLabel(
            self._account_id,
            "Scripted",
            request.service_code,
            "T1",
            Money.of("1", "EUR"),
            request.label_format,
        )

    async def void(self, label: LabelReference) -> VoidResult:
        await self._next()
        return VoidResult(VoidStatus.VOIDED)

    async def track(self, tracking_number: str) -> TrackingSnapshot:
        await self._next()
        return TrackingSnapshot(self._account_id, tracking_number)

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        return []

    async def close(self) -> None:
        return None
