"""The labels use cases: CreateReturnLabel (exactly once per merchant and idempotency key), GetReturnLabel,
ListReturnLabels and VoidReturnLabel. Every read and write is scoped by the calling merchant.

Create, in order:
1. The idempotency key must be given. A label stored under (merchant, key) answers at once: another
   request digest is ALREADY_EXISTS (IDEMPOTENCY_KEY_REUSED); a bought label is returned as it is; a
   purchase in flight is waited for (below); FAILED re-attempts (the key is free again after a failure
   that proves nothing was sold); NEEDS_REVIEW is FAILED_PRECONDITION until someone has looked.
2. Otherwise the request is validated and planned (service/labels/planning.py): nothing is stored when it
   is refused.
3. The intent is committed; of concurrent duplicates one inserts, the others find its row and wait.
4. The purchase runs as a task of its own (service/labels/purchasing.py), so a caller that gives up or
   disconnects never interrupts a purchase halfway: its outcome is recorded, and a retry finds it.
5. Callers wait for the outcome until their deadline (less a margin); past it they get UNAVAILABLE with
   RetryInfo (LABEL_PURCHASE_IN_PROGRESS) and a retry with the same key picks the label up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from carriers.models import LabelReference, VoidStatus
from carriers.resilience import loop_time
from service.documents import DocumentKind
from service.errors import (
    AlreadyExists,
    ApplicationError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from service.labels.label_files import LabelFiles, LabelFileUnavailable
from service.labels.model import (
    CreateLabelRequest,
    LabelFailure,
    LabelPage,
    LabelQuery,
    LabelRecord,
    LabelState,
    LabelView,
    PageRequest,
    ScanProgress,
    StoredDocument,
    TrackingTokenIssuer,
)
from service.labels.paging import decode_page_token, encode_page_token, page_size
from service.labels.paperwork import carrier_label_draft
from service.labels.planning import PreparedPurchase, PurchasePlanner, request_violations
from service.labels.purchasing import ACCOUNT_DISABLED, LabelPurchaser
from service.labels.repository import LabelRepository, NewIntent, PageCursor, new_id
from service.labels.request_document import decode, request_digest, request_document
from service.quoting.hubs import HubDirectory
from service.quoting.request import ShipmentInput
from service.reclaim.label_summary import LabelReclaimSummary

_log = logging.getLogger(__name__)

MAX_VOID_REASON_LENGTH = 500
# Carrier refusals that trying again does not change.
_LASTING_REFUSALS = frozenset(
    {"AUTHENTICATION_FAILED", "UNSUPPORTED_LANE", "UNSUPPORTED_OPERATION", "NOT_FOUND", ACCOUNT_DISABLED}
)


class LabelReclaimClaims(Protocol):
    """The duty reclaim claims recorded with a label (service.reclaim.label_claims.LabelClaims)."""

    async def of_label(self, merchant_id: str, label_id: str) -> LabelReclaimSummary | None:
        """The estimate the label carries, None when no regime applies."""
        ...

    async def label_voided(self, merchant_id: str, label_id: str, at: dt.datetime, reason: str) -> int:
        """Cancel the open claims of a voided label."""
        ...


@dataclass(frozen=True, slots=True)
class LabelSettings:
    purchase_budget_seconds: float = 30.0  # how long one carrier purchase may take
    answer_margin_seconds: float = 0.05  # kept back from the caller's deadline to answer in time
    retry_after_seconds: float = 1.0  # RetryInfo while a purchase is in flight or the carrier is down
    poll_max_seconds: float = 0.5  # longest pause between looks at a purchase running in another process


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReturnLabels:
    def __init__(
        self,
        *,
        repository: LabelRepository,
        planner: PurchasePlanner,
        purchaser: LabelPurchaser,
        hubs: HubDirectory,
        tokens: TrackingTokenIssuer,
        label_files: LabelFiles,
        label_claims: LabelReclaimClaims | None = None,
        settings: LabelSettings | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        loop_clock: Callable[[], float] = loop_time,
    ) -> None:
        self._repository = repository
        self._planner = planner
        self._purchaser = purchaser
        self._hubs = hubs
        self._tokens = tokens
        self._label_files = label_files
        self._label_claims = label_claims
        self._settings = settings or LabelSettings()
        self._clock = clock
        self._loop_clock = loop_clock
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    # CreateReturnLabel -----------------------------------------------------------------------------------

    async def create(self, request: CreateLabelRequest, *, time_remaining: float | None = None) -> LabelView:
        # Without a caller deadline: long enough to price an explicit rate and then buy, each within budget.
        wait = 2 * self._settings.purchase_budget_seconds if time_remaining is None else time_remaining
        answer_by = self._loop_clock() + wait - self._settings.answer_margin_seconds
        key_problems = [v for v in request_violations(request) if v.field == "idempotency_key"]
        if key_problems:
            raise InvalidArgument(key_problems)
        document = request_document(request)
        digest = request_digest(document)
        stored = await self._repository.find_by_key(request.merchant_id, request.idempotency_key)
        if stored is None:
            prepared = await self._planner.plan(request, now=self._clock(), deadline=answer_by)
            intent = NewIntent(
                id=new_id(),
                merchant_id=request.merchant_id,
                idempotency_key=request.idempotency_key,
                request_digest=digest,
                request=document,
                plan=prepared.plan,
            )
            stored = await self._repository.store_intent(intent, self._clock())
            if stored.id == intent.id:
                self._start(stored, prepared)
                return await self._outcome(stored, answer_by)
        if stored.request_digest != digest:
            raise AlreadyExists(
                f"idempotency key {request.idempotency_key!r} belongs to another request (label {stored.id})",
                reason="IDEMPOTENCY_KEY_REUSED",
            )
        if stored.state is LabelState.FAILED:
            prepared = await self._planner.plan(request, now=self._clock(), deadline=answer_by)
            if await self._repository.retry_failed(stored.id, stored.attempt, prepared.plan, self._clock()):
                retried = await self._repository.get(stored.merchant_id, stored.id)
                assert retried is not None
                self._start(retried, prepared)
                return await self._outcome(retried, answer_by)
            stored = await self._require(stored.merchant_id, stored.id)
        return await self._outcome(stored, answer_by)

    def _start(self, record: LabelRecord, prepared: PreparedPurchase) -> None:
        task = asyncio.get_running_loop().create_task(self._purchase(record, prepared))
        self._in_flight[record.id] = task
        task.add_done_callback(lambda _: self._in_flight.pop(record.id, None))

    async def _purchase(self, record: LabelRecord, prepared: PreparedPurchase) -> None:
        try:
            await self._purchaser.execute(record, prepared)
        except Exception:
            # The store could not take the outcome: the intent stays PENDING for the reconciler.
            _log.exception("label %s: purchase outcome not recorded", record.id)

    async def _outcome(self, record: LabelRecord, answer_by: float) -> LabelView:
        """Wait until the label is no longer PENDING (or `answer_by`), then answer with its state."""
        pause = 0.02
        while record.state is LabelState.PENDING:
            remaining = answer_by - self._loop_clock()
            if remaining <= 0:
                raise Unavailable(
                    f"label {record.id} is still being bought: retry with the same idempotency key",
                    retry_after_seconds=self._settings.retry_after_seconds,
                    reason="LABEL_PURCHASE_IN_PROGRESS",
                )
            task = self._in_flight.get(record.id)
            if task is not None:
                await asyncio.wait({task}, timeout=remaining)  # never cancels the purchase
            else:  # bought by another process: look again, less and less often
                await asyncio.sleep(min(pause, remaining))
                pause = min(pause * 2, self._settings.poll_max_seconds)
            record = await self._require(record.merchant_id, record.id)
        if record.state is LabelState.FAILED:
            raise self._failure_error(record.failure)
        if record.state is LabelState.NEEDS_REVIEW:
            detail = record.failure.message if record.failure else "the purchase outcome is unknown"
            raise FailedPrecondition(
                f"label {record.id} needs review before it can be used or bought again: {detail}",
                reason="LABEL_NEEDS_REVIEW",
            )
        return await self._view(record, full=True)

    # GetReturnLabel, ListReturnLabels --------------------------------------------------------------------

    async def get(self, merchant_id: str, label_id: str, *, full: bool) -> LabelView:
        return await self._view(await self._require(merchant_id, label_id), full=full)

    async def list_labels(self, merchant_id: str, query: LabelQuery, page: PageRequest) -> LabelPage:
        size = page_size(page.page_size)
        after = decode_page_token(page.page_token, query)
        records = await self._repository.page(merchant_id, query, after, size + 1)
        views = [await self._view(record, full=False) for record in records[:size]]
        token = ""
        if len(records) > size:
            last = records[size - 1]
            token = encode_page_token(PageCursor(last.created_at, last.id), query)
        return LabelPage(views, token)

    # VoidReturnLabel -------------------------------------------------------------------------------------

    async def void(
        self, merchant_id: str, label_id: str, reason: str, *, time_remaining: float | None = None
    ) -> LabelView:
        if len(reason) > MAX_VOID_REASON_LENGTH:
            raise InvalidArgument.single("reason", f"at most {MAX_VOID_REASON_LENGTH} characters")
        record = await self._require(merchant_id, label_id)
        if record.state in {LabelState.VOIDED, LabelState.VOID_REQUESTED}:
            return await self._view(record, full=False)
        if record.state is not LabelState.PURCHASED:
            raise FailedPrecondition(
                f"label {label_id} is {record.status.value}: only a bought label can be voided",
                reason="LABEL_NOT_PURCHASED",
            )
        if record.scan is not ScanProgress.NOT_SCANNED:
            raise FailedPrecondition(
                f"label {label_id} has been scanned by the carrier: it can no longer be voided",
                reason="LABEL_ALREADY_SCANNED",
            )
        carrier = self._planner.carrier(record.plan.carrier_account_id)
        if carrier is None:
            raise FailedPrecondition(
                f"carrier account {record.plan.carrier_account_id!r} is disabled on this server",
                reason="CARRIER_ACCOUNT_DISABLED",
            )
        assert record.tracking_number is not None
        budget = self._settings.purchase_budget_seconds if time_remaining is None else time_remaining
        result = await carrier.void(
            LabelReference(record.tracking_number, record.carrier_shipment_id, record.carrier_label_id),
            deadline=self._loop_clock() + budget - self._settings.answer_margin_seconds,
        )
        if result.status is VoidStatus.REFUSED:
            raise FailedPrecondition(
                f"the carrier refused to void label {label_id}: {result.message}", reason="VOID_REFUSED"
            )
        state = LabelState.VOIDED if result.status is VoidStatus.VOIDED else LabelState.VOID_REQUESTED
        voided_at = self._clock()
        await self._repository.record_void(label_id, LabelState.PURCHASED, state, reason.strip(), voided_at)
        if self._label_claims is not None and record.plan.cross_border:
            await self._cancel_claims(merchant_id, label_id, voided_at, state)
        return await self._view(await self._require(merchant_id, label_id), full=False)

    async def _cancel_claims(
        self, merchant_id: str, label_id: str, voided_at: dt.datetime, state: LabelState
    ) -> None:
        """The label's reclaim claims follow the void; a failure here leaves them to the tracking path and
        to expiry rather than failing a void the carrier has already done."""
        assert self._label_claims is not None
        done = "voided" if state is LabelState.VOIDED else "voided (the carrier's refund is pending)"
        try:
            await self._label_claims.label_voided(
                merchant_id, label_id, voided_at, f"return label {label_id} {done}: the goods will not leave"
            )
        except Exception:
            _log.exception("label %s: its reclaim claims were not cancelled", label_id)

    # Shared ----------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Let purchases in flight record their outcome (each is bounded by the purchase budget)."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()))

    async def _require(self, merchant_id: str, label_id: str) -> LabelRecord:
        record = await self._repository.get(merchant_id, label_id)
        if record is None:
            raise NotFound("return label", label_id)
        return record

    async def _view(self, record: LabelRecord, *, full: bool) -> LabelView:
        documents = await self._repository.documents(record.id, with_content=full)
        if (
            full
            and record.bought
            and record.label_url
            and not any(d.kind is DocumentKind.LABEL for d in documents)
        ):
            documents = await self._fetch_carrier_label(record, documents)
        shipment: ShipmentInput = decode(ShipmentInput, record.request["shipment"])
        reclaim_estimate = None
        if self._label_claims is not None and record.plan.cross_border:
            reclaim_estimate = await self._label_claims.of_label(record.merchant_id, record.id)
        return LabelView(
            record=record,
            shipment=shipment,
            documents=tuple(documents),
            hub=self._hubs.get(record.plan.destination_hub_id) if record.plan.destination_hub_id else None,
            tracking_token=self._tokens.issue(record.merchant_id, record.id) if record.bought else "",
            reclaim_estimate=reclaim_estimate,
        )

    async def _fetch_carrier_label(
        self, record: LabelRecord, documents: list[StoredDocument]
    ) -> list[StoredDocument]:
        """A carrier-hosted label that could not be fetched at purchase time: try again now."""
        assert record.tracking_number is not None
        try:
            content = await self._label_files.fetch(record.label_url)
        except LabelFileUnavailable as exc:
            _log.warning("label %s: carrier label file still not fetched: %s", record.id, exc)
            return documents
        draft = carrier_label_draft(record.tracking_number, record.plan.label_format, content)
        await self._repository.add_documents(record.id, record.merchant_id, [draft], self._clock())
        return await self._repository.documents(record.id, with_content=True)

    def _failure_error(self, failure: LabelFailure | None) -> ApplicationError:
        """What a caller is told about a purchase the carrier refused (or that certainly did not happen)."""
        if failure is None:
            return Unavailable("the purchase failed", reason="CARRIER_UNAVAILABLE")
        if failure.code == "INVALID_REQUEST":
            if failure.field == "price":
                return FailedPrecondition(
                    f"the carrier's price is above the quoted one: quote again ({failure.message})",
                    reason="QUOTE_PRICE_CHANGED",
                )
            field = {"label_format": "label_format", "service_code": "explicit_rate.service_code"}.get(
                failure.field, f"shipment.{failure.field}" if failure.field else "shipment"
            )
            return InvalidArgument(
                [FieldViolation(field, f"the carrier refused it: {failure.message}")],
                reason="CARRIER_REFUSED",
            )
        # A retry (same key) buys again; it can help unless the carrier refused for good.
        retry_after = None if failure.code in _LASTING_REFUSALS else self._settings.retry_after_seconds
        return Unavailable(
            f"carrier: {failure.message}", retry_after_seconds=retry_after, reason="CARRIER_UNAVAILABLE"
        )
