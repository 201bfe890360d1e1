"""Settling what a crash left behind: purchase intents without an outcome, bought parcels not yet tracked.

Runs once when the service starts and then every `interval`. An intent is taken up only once its attempt
is older than the grace period, which exceeds the purchase budget: by then the carrier call of the process
that stored it has certainly ended (or that process is gone), so asking the carrier gives a final answer
and no live purchase is raced. Each intent is settled by LabelPurchaser.recover: found at the carrier ->
PURCHASED; certainly not sold -> FAILED (a retry with the same key buys); the carrier cannot be asked ->
NEEDS_REVIEW. Replicas may reconcile at the same time: every outcome is a conditional update, so the first
one wins and the others change nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from service.labels.model import LabelState
from service.labels.purchasing import LabelPurchaser
from service.labels.repository import LabelRepository
from service.tracking.milestones import ReturnRoute

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    examined: int = 0
    purchased: int = 0
    failed: int = 0
    needs_review: int = 0
    still_pending: int = 0
    tracking_registered: int = 0


class LabelReconciler:
    def __init__(
        self,
        *,
        repository: LabelRepository,
        purchaser: LabelPurchaser,
        clock: Callable[[], dt.datetime],
        grace: dt.timedelta,
        interval_seconds: float,
        batch_size: int = 100,
    ) -> None:
        self._repository = repository
        self._purchaser = purchaser
        self._clock = clock
        self._grace = grace
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> ReconciliationReport:
        settled_before = self._clock() - self._grace
        stale = await self._repository.stale_intents(settled_before, self._batch_size)
        outcomes: dict[LabelState, int] = {}
        for record in stale:
            await self._purchaser.recover(record)
            settled = await self._repository.get(record.merchant_id, record.id)
            state = settled.state if settled is not None else LabelState.PENDING
            outcomes[state] = outcomes.get(state, 0) + 1
        registered = 0
        for record in await self._repository.untracked(settled_before, self._batch_size):
            assert record.tracking_number is not None
            route = ReturnRoute.VIA_HUB if record.plan.destination_hub_id else ReturnRoute.DIRECT
            registered += await self._purchaser.register_tracking(
                record.id, record.merchant_id, record.plan.carrier_account_id, record.tracking_number, route
            )
        report = ReconciliationReport(
            examined=len(stale),
            purchased=outcomes.get(LabelState.PURCHASED, 0),
            failed=outcomes.get(LabelState.FAILED, 0),
            needs_review=outcomes.get(LabelState.NEEDS_REVIEW, 0),
            still_pending=outcomes.get(LabelState.PENDING, 0),
            tracking_registered=registered,
        )
        if report.examined or report.tracking_registered:
            _log.info("labels reconciled: %s", report)
        return report

    def start(self) -> None:
        """Reconcile every interval in the background until `close()`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:
                _log.exception("label reconciliation pass failed; trying again in %.1f s", self._interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
