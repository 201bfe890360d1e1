"""Buying a label under a stored intent, exactly once, and recording what happened.

States of a label (service/labels/model.py, LabelState):

    PENDING ──carrier sold──> PURCHASED ──void──> VOIDED (or VOID_REQUESTED while the refund is pending)
       │
       ├──carrier certainly sold nothing──> FAILED ──same key, same request──> PENDING (attempt + 1)
       └──outcome unknown, no way to ask──> NEEDS_REVIEW (never bought again automatically)

1. The intent (PENDING, attempt n) is committed on its own before the carrier is called.
2. The carrier is called once, bounded by the purchase budget (retried only after RateLimited, by the
   resilience layer); the carrier-side idempotency key is `<label id>.<attempt>`.
3. The outcome is committed with a conditional UPDATE (state PENDING and attempt n):
   - sold: PURCHASED with the tracking number, price and documents, in one transaction;
   - refused in a way that proves nothing was sold (invalid request, authentication, unsupported lane,
     rate limited, circuit open): FAILED, and a retry under the same key buys again;
   - anything else (timeout, 5xx, an unreadable answer) leaves the outcome unknown: the carrier is asked
     whether it sold under the key (PurchaseLookup). Found: PURCHASED. Not found: FAILED. The carrier
     cannot be asked: NEEDS_REVIEW. The question fails: still PENDING, for the reconciler.
4. After PURCHASED the parcel is registered for tracking (retried by the reconciler until it succeeds).

A crash anywhere between 1 and 3 leaves a PENDING intent; the reconciler settles it as in 3 once its attempt
is older than the grace period (longer than the purchase budget, so the carrier call has certainly ended).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Protocol

from carriers.errors import (
    AuthenticationFailed,
    CarrierError,
    CircuitOpen,
    InvalidRequest,
    NotFound,
    RateLimited,
    TimedOut,
    UnsupportedLane,
    UnsupportedOperation,
)
from carriers.models import PurchasedLabel, PurchaseRequest
from carriers.port import PurchaseLookup
from carriers.resilience import ResilientCarrier, loop_time
from service.errors import ApplicationError
from service.labels.label_files import LabelFiles, LabelFileUnavailable
from service.labels.model import LabelFailure, LabelRecord, LabelState
from service.labels.paperwork import LabelPaperwork, carrier_label_draft
from service.labels.planning import PreparedPurchase, PurchasePlanner
from service.labels.repository import LabelRepository
from service.reclaim.label_estimates import LabelReturn
from service.tracking.milestones import ReturnRoute

_log = logging.getLogger(__name__)

# Refusals that prove the carrier sold nothing: the request was refused before any sale, or never sent.
DEFINITE_FAILURES: tuple[type[CarrierError], ...] = (
    InvalidRequest,
    AuthenticationFailed,
    UnsupportedLane,
    UnsupportedOperation,
    NotFound,
    RateLimited,
    CircuitOpen,
)
ACCOUNT_DISABLED = "CARRIER_ACCOUNT_DISABLED"
UNCONFIRMED = "PURCHASE_UNCONFIRMED"


class ParcelRegistry(Protocol):
    """Tracking's registration of a bought parcel (service.tracking.ingestion.TrackingIngestion)."""

    async def register_shipment(
        self,
        merchant_id: str,
        label_id: str | None,
        carrier_account_id: str,
        tracking_number: str,
        *,
        route: ReturnRoute = ReturnRoute.VIA_HUB,
    ) -> object: ...


class ReclaimRecorder(Protocol):
    """Duty reclaim's estimate for a cross-border label (service.reclaim.label_estimates.LabelEstimates);
    it never raises."""

    async def record_label_estimate(self, label: LabelReturn) -> object: ...


def carrier_key(record: LabelRecord) -> str:
    """The idempotency key the carrier sees: one per purchase attempt of a label."""
    return f"{record.id}.{record.attempt}"


def failure_of(error: CarrierError) -> LabelFailure:
    return LabelFailure(error.code, error.message, getattr(error, "field", ""))


class LabelPurchaser:
    def __init__(
        self,
        *,
        repository: LabelRepository,
        planner: PurchasePlanner,
        paperwork: LabelPaperwork,
        label_files: LabelFiles,
        tracking: ParcelRegistry | None,
        clock: Callable[[], dt.datetime],
        reclaim: ReclaimRecorder | None = None,
        budget_seconds: float,
        render_executor: Executor | None = None,
        loop_clock: Callable[[], float] = loop_time,
    ) -> None:
        self._repository = repository
        self._planner = planner
        self._paperwork = paperwork
        self._label_files = label_files
        self._tracking = tracking
        self._reclaim = reclaim
        self._clock = clock
        self._budget = budget_seconds
        # Rendering is CPU work: off the event loop, on one thread (reportlab keeps module-level state).
        self._render_executor = render_executor
        self._loop_clock = loop_clock

    async def execute(self, record: LabelRecord, prepared: PreparedPurchase) -> None:
        """Buy under the stored intent `record` and record the outcome. Never raises for carrier trouble:
        the outcome is in the store for every caller to read."""
        carrier = self._planner.carrier(record.plan.carrier_account_id)
        if carrier is None:
            failure = LabelFailure(ACCOUNT_DISABLED, "the carrier account is disabled on this server")
            await self._repository.record_failure(
                record.id, record.attempt, LabelState.FAILED, failure, self._clock()
            )
            return
        request = self.purchase_request(record, prepared)
        try:
            async with asyncio.timeout(self._budget):
                purchased = await carrier.purchase(request, deadline=self._loop_clock() + self._budget)
        except TimeoutError:
            await self._settle_unknown(
                record, prepared, carrier, request, TimedOut(f"no answer within {self._budget:.1f} s")
            )
            return
        except CarrierError as error:
            if isinstance(error, DEFINITE_FAILURES):
                await self._repository.record_failure(
                    record.id, record.attempt, LabelState.FAILED, failure_of(error), self._clock()
                )
            else:
                await self._settle_unknown(record, prepared, carrier, request, error)
            return
        await self.complete(record, prepared, purchased)

    async def recover(self, record: LabelRecord) -> None:
        """Settle an intent whose purchase outcome was never recorded (its process ended before)."""
        try:
            prepared = self._planner.rebuild(record)
        except (ApplicationError, ValueError) as exc:
            failure = LabelFailure(
                UNCONFIRMED, f"interrupted, and its request can no longer be rebuilt: {exc}"
            )
            await self._repository.record_failure(
                record.id, record.attempt, LabelState.NEEDS_REVIEW, failure, self._clock()
            )
            return
        carrier = self._planner.carrier(record.plan.carrier_account_id)
        if carrier is None:
            failure = LabelFailure(
                UNCONFIRMED, "interrupted, and its carrier account is no longer configured"
            )
            await self._repository.record_failure(
                record.id, record.attempt, LabelState.NEEDS_REVIEW, failure, self._clock()
            )
            return
        interrupted = CarrierError("the purchase was interrupted before its outcome was recorded")
        await self._settle_unknown(
            record, prepared, carrier, self.purchase_request(record, prepared), interrupted
        )

    def purchase_request(self, record: LabelRecord, prepared: PreparedPurchase) -> PurchaseRequest:
        plan = prepared.plan
        return PurchaseRequest(
            shipment=prepared.shipment,
            service_code=plan.service_code,
            idempotency_key=carrier_key(record),
            expected_price=plan.quoted_price,
            label_format=plan.label_format,
        )

    async def _settle_unknown(
        self,
        record: LabelRecord,
        prepared: PreparedPurchase,
        carrier: ResilientCarrier,
        request: PurchaseRequest,
        error: CarrierError,
    ) -> None:
        """The carrier may or may not have sold: ask it, and never buy twice."""
        adapter = carrier.adapter
        unconfirmed = LabelFailure(
            UNCONFIRMED, f"{error.message}; the carrier cannot be asked whether it sold"
        )
        if not isinstance(adapter, PurchaseLookup):
            await self._repository.record_failure(
                record.id, record.attempt, LabelState.NEEDS_REVIEW, unconfirmed, self._clock()
            )
            return
        try:
            async with asyncio.timeout(self._budget):
                found = await adapter.find_purchase(request)
        except UnsupportedOperation:
            await self._repository.record_failure(
                record.id, record.attempt, LabelState.NEEDS_REVIEW, unconfirmed, self._clock()
            )
            return
        except (CarrierError, TimeoutError) as lookup_error:
            # Still unknown: the intent stays PENDING and the reconciler asks again later.
            _log.warning(
                "label %s: purchase outcome unknown (%s); look-up failed: %s", record.id, error, lookup_error
            )
            return
        if found is None:
            failure = LabelFailure(error.code, f"{error.message}; the carrier confirms it sold nothing", "")
            await self._repository.record_failure(
                record.id, record.attempt, LabelState.FAILED, failure, self._clock()
            )
            return
        await self.complete(record, prepared, found)

    async def complete(
        self, record: LabelRecord, prepared: PreparedPurchase, purchased: PurchasedLabel
    ) -> None:
        """Record a sale with its documents; then register the parcel for tracking."""
        now = self._clock()
        loop = asyncio.get_running_loop()
        drafts = await loop.run_in_executor(
            self._render_executor,
            self._paperwork.render,
            record.merchant_id,
            record.id,
            prepared.plan,
            prepared.shipment,
            purchased,
            now.date(),
        )
        if purchased.label_url and not purchased.label_document:
            try:
                content = await self._label_files.fetch(purchased.label_url)
                drafts.insert(
                    0, carrier_label_draft(purchased.tracking_number, purchased.label_format, content)
                )
            except LabelFileUnavailable as exc:
                _log.warning("label %s: carrier label file not fetched yet: %s", record.id, exc)
        plan = prepared.plan
        # A quote token names the service by code only; rate-card partners name it with the sale.
        service_name = plan.service_name or str(purchased.raw.get("service_name") or plan.service_code)
        recorded = await self._repository.record_purchase(
            record.id, record.attempt, purchased, drafts, self._clock(), service_name=service_name
        )
        if not recorded:
            _log.info("label %s: outcome of attempt %d was recorded elsewhere", record.id, record.attempt)
            return
        route = ReturnRoute.VIA_HUB if prepared.plan.destination_hub_id else ReturnRoute.DIRECT
        await self.register_tracking(
            record.id, record.merchant_id, record.plan.carrier_account_id, purchased.tracking_number, route
        )
        if self._reclaim is not None and plan.cross_border:
            await self._reclaim.record_label_estimate(
                LabelReturn(
                    record.merchant_id,
                    record.id,
                    prepared.shipment,
                    plan.purchase_date,
                    purchased.tracking_number,
                )
            )

    async def register_tracking(
        self, label_id: str, merchant_id: str, account_id: str, tracking_number: str, route: ReturnRoute
    ) -> bool:
        """Best effort: a failure is logged (False) and the reconciler registers the parcel later."""
        if self._tracking is None:
            return False
        try:
            await self._tracking.register_shipment(
                merchant_id, label_id, account_id, tracking_number, route=route
            )
            await self._repository.mark_tracking_registered(label_id)
        except Exception:
            _log.exception("label %s: tracking registration failed; retried later", label_id)
            return False
        return True
