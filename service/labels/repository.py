"""Storing labels: intents, purchase outcomes, documents, voids, and merchant-scoped reads.

Every state change after the intent is a conditional UPDATE naming the state and attempt it expects, so a
purchase finishing late, a reconciler and a retry can never overwrite each other's outcome: whoever
changes the row first decides, the others see zero rows updated and read what was decided.

Reads join the tracked parcel of the label (service/tracking's `tracked_shipments`, one per label) for the
milestone tracking has seen: it tells SHIPPED and DELIVERED from PURCHASED and refuses voids after the
first scan.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from carriers.models import Handover, LabelFormat, PurchasedLabel
from customs.money import Money
from service.documents import DocumentFormat, DocumentKind
from service.labels.model import (
    DeclarationSummary,
    DocumentDraft,
    LabelFailure,
    LabelQuery,
    LabelRecord,
    LabelState,
    LabelStatus,
    PurchasePlan,
    ScanProgress,
    StoredDocument,
)
from service.labels.tables import LabelDocumentRow, ReturnLabelRow
from service.storage.engine import Database
from service.storage.statements import insert_or_ignore
from service.tracking.milestones import ReturnMilestone
from service.tracking.tables import TrackedShipmentRow

_LABELS = cast(Table, ReturnLabelRow.__table__)
_DOCUMENTS = cast(Table, LabelDocumentRow.__table__)
_PARCELS = cast(Table, TrackedShipmentRow.__table__)
_L = _LABELS.c
_D = _DOCUMENTS.c
_P = _PARCELS.c

_SCANNED = (ReturnMilestone.DROPPED_OFF.value, ReturnMilestone.IN_TRANSIT_TO_HUB.value)
_DELIVERED = (ReturnMilestone.ARRIVED_AT_HUB.value, ReturnMilestone.DELIVERED_TO_MERCHANT.value)


@dataclass(frozen=True, slots=True)
class NewIntent:
    id: str
    merchant_id: str
    idempotency_key: str
    request_digest: str
    request: dict[str, Any]
    plan: PurchasePlan


@dataclass(frozen=True, slots=True)
class PageCursor:
    """The last label of a page, in list order (created_at descending, then id descending)."""

    created_at: dt.datetime
    label_id: str


def new_id() -> str:
    return uuid.uuid4().hex


def _plan_values(plan: PurchasePlan) -> dict[str, Any]:
    declaration = plan.declaration
    return {
        "carrier_account_id": plan.carrier_account_id,
        "carrier_name": plan.carrier_name,
        "provider": plan.provider,
        "service_code": plan.service_code,
        "service_name": plan.service_name,
        "handover": plan.handover.value,
        "label_format": plan.label_format.value,
        "customer_locale": plan.customer_locale,
        "destination_hub_id": plan.destination_hub_id,
        "cross_border": plan.cross_border,
        "purchase_date": plan.purchase_date,
        "quoted_amount": str(plan.quoted_price.amount) if plan.quoted_price else None,
        "quoted_currency": plan.quoted_price.currency if plan.quoted_price else None,
        "declaration": None
        if declaration is None
        else {
            "form": declaration.form,
            "category": declaration.category,
            "total_value": str(declaration.total_value.amount),
            "currency": declaration.total_value.currency,
            "total_net_weight_grams": declaration.total_net_weight_grams,
            "line_count": declaration.line_count,
        },
    }


def _money(amount: str | None, currency: str | None) -> Money | None:
    return Money(Decimal(amount), currency) if amount is not None and currency else None


def _plan(row: Any) -> PurchasePlan:
    declaration = row.declaration
    return PurchasePlan(
        carrier_account_id=row.carrier_account_id,
        carrier_name=row.carrier_name,
        provider=row.provider,
        service_code=row.service_code,
        service_name=row.service_name,
        handover=Handover(row.handover),
        label_format=LabelFormat(row.label_format),
        customer_locale=row.customer_locale,
        destination_hub_id=row.destination_hub_id,
        cross_border=row.cross_border,
        purchase_date=row.purchase_date,
        quoted_price=_money(row.quoted_amount, row.quoted_currency),
        declaration=None
        if declaration is None
        else DeclarationSummary(
            form=str(declaration["form"]),
            category=str(declaration["category"]),
            total_value=Money(Decimal(str(declaration["total_value"])), str(declaration["currency"])),
            total_net_weight_grams=int(declaration["total_net_weight_grams"]),
            line_count=int(declaration["line_count"]),
        ),
    )


def _scan(milestone: str | None) -> ScanProgress:
    if milestone in _DELIVERED:
        return ScanProgress.DELIVERED
    if milestone in _SCANNED:
        return ScanProgress.SCANNED
    return ScanProgress.NOT_SCANNED


def _record(row: Any) -> LabelRecord:
    failure = LabelFailure(row.error_code, row.error_message, row.error_field) if row.error_code else None
    return LabelRecord(
        id=row.id,
        merchant_id=row.merchant_id,
        idempotency_key=row.idempotency_key,
        request_digest=row.request_digest,
        request=dict(row.request),
        state=LabelState(row.state),
        attempt=row.attempt,
        attempt_started_at=row.attempt_started_at,
        plan=_plan(row),
        tracking_number=row.tracking_number,
        price=_money(row.price_amount, row.price_currency),
        carrier_shipment_id=row.carrier_shipment_id,
        carrier_label_id=row.carrier_label_id,
        label_url=row.label_url,
        failure=failure,
        tracking_registered=row.tracking_registered,
        void_reason=row.void_reason,
        voided_at=row.voided_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        scan=_scan(row.milestone),
    )


def _labels() -> Select[Any]:
    parcel = and_(_P.merchant_id == _L.merchant_id, _P.label_id == _L.id)
    return select(*_LABELS.c, _P.milestone).select_from(_LABELS.outerjoin(_PARCELS, parcel))


def _status_condition(status: LabelStatus) -> ColumnElement[bool]:
    purchased = _L.state == LabelState.PURCHASED.value
    if status is LabelStatus.PURCHASED:
        return and_(purchased, _P.milestone.is_(None))
    if status is LabelStatus.SHIPPED:
        return and_(purchased, _P.milestone.in_(_SCANNED))
    if status is LabelStatus.DELIVERED:
        return and_(purchased, _P.milestone.in_(_DELIVERED))
    return _L.state == status.value


class LabelRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    # Reads -----------------------------------------------------------------------------------------------

    async def get(self, merchant_id: str, label_id: str) -> LabelRecord | None:
        return await self._one(_labels().where(_L.merchant_id == merchant_id, _L.id == label_id))

    async def find_by_key(self, merchant_id: str, idempotency_key: str) -> LabelRecord | None:
        return await self._one(
            _labels().where(_L.merchant_id == merchant_id, _L.idempotency_key == idempotency_key)
        )

    async def page(
        self, merchant_id: str, query: LabelQuery, after: PageCursor | None, limit: int
    ) -> list[LabelRecord]:
        """Up to `limit` labels after `after`, newest first (ties on creation time by id, descending)."""
        statement = _labels().where(_L.merchant_id == merchant_id)
        if query.statuses:
            statement = statement.where(or_(*(_status_condition(s) for s in sorted(query.statuses))))
        if query.carrier_account_ids:
            statement = statement.where(_L.carrier_account_id.in_(sorted(query.carrier_account_ids)))
        if query.created_after is not None:
            statement = statement.where(_L.created_at >= query.created_after)
        if query.created_before is not None:
            statement = statement.where(_L.created_at < query.created_before)
        if query.tracking_number:
            statement = statement.where(_L.tracking_number == query.tracking_number)
        if after is not None:
            statement = statement.where(
                or_(
                    _L.created_at < after.created_at,
                    and_(_L.created_at == after.created_at, _L.id < after.label_id),
                )
            )
        statement = statement.order_by(_L.created_at.desc(), _L.id.desc()).limit(limit)
        async with self._database.sessions() as session:
            return [_record(row) for row in (await session.execute(statement)).all()]

    async def stale_intents(self, started_before: dt.datetime, limit: int) -> list[LabelRecord]:
        """Pending intents whose attempt began before `started_before`, oldest first (all merchants)."""
        statement = (
            _labels()
            .where(_L.state == LabelState.PENDING.value, _L.attempt_started_at < started_before)
            .order_by(_L.attempt_started_at)
            .limit(limit)
        )
        async with self._database.sessions() as session:
            return [_record(row) for row in (await session.execute(statement)).all()]

    async def untracked(self, updated_before: dt.datetime, limit: int) -> list[LabelRecord]:
        """Bought labels, last changed before `updated_before`, whose parcel is not registered for tracking
        (the purchase registers it right after its commit; these are the ones it could not)."""
        statement = (
            _labels()
            .where(
                _L.state.in_([LabelState.PURCHASED.value, LabelState.VOID_REQUESTED.value]),
                _L.tracking_registered == false(),
                _L.updated_at < updated_before,
            )
            .order_by(_L.updated_at)
            .limit(limit)
        )
        async with self._database.sessions() as session:
            return [_record(row) for row in (await session.execute(statement)).all()]

    async def documents(self, label_id: str, *, with_content: bool) -> list[StoredDocument]:
        columns = [_D.id, _D.kind, _D.format, _D.content_type, _D.filename, _D.language_code, _D.size_bytes]
        if with_content:
            columns.append(_D.content)
        statement = select(*columns).where(_D.label_id == label_id).order_by(_D.position)
        async with self._database.sessions() as session:
            rows = (await session.execute(statement)).all()
        return [
            StoredDocument(
                id=row.id,
                kind=DocumentKind(row.kind),
                format=DocumentFormat(row.format),
                content_type=row.content_type,
                filename=row.filename,
                language_code=row.language_code,
                size_bytes=row.size_bytes,
                content=bytes(row.content) if with_content else None,
            )
            for row in rows
        ]

    # Writes ----------------------------------------------------------------------------------------------

    async def store_intent(self, intent: NewIntent, now: dt.datetime) -> LabelRecord:
        """Insert the intent in its own committed transaction; when the (merchant, key) exists already,
        nothing is written and the stored label comes back (compare its id with `intent.id`)."""
        values = {
            "id": intent.id,
            "merchant_id": intent.merchant_id,
            "idempotency_key": intent.idempotency_key,
            "request_digest": intent.request_digest,
            "request": intent.request,
            "state": LabelState.PENDING.value,
            "attempt": 1,
            "attempt_started_at": now,
            **_plan_values(intent.plan),
            "tracking_number": None,
            "price_amount": None,
            "price_currency": None,
            "carrier_shipment_id": "",
            "carrier_label_id": "",
            "label_url": "",
            "error_code": "",
            "error_message": "",
            "error_field": "",
            "tracking_registered": False,
            "void_reason": "",
            "voided_at": None,
            "created_at": now,
            "updated_at": now,
        }
        async with self._database.write_sessions() as session, session.begin():
            await session.execute(
                insert_or_ignore(session, _LABELS)
                .values(values)
                .on_conflict_do_nothing(index_elements=["merchant_id", "idempotency_key"])
            )
        stored = await self.find_by_key(intent.merchant_id, intent.idempotency_key)
        assert stored is not None  # inserted, or there already
        return stored

    async def retry_failed(self, label_id: str, attempt: int, plan: PurchasePlan, now: dt.datetime) -> bool:
        """FAILED at `attempt` -> PENDING at attempt + 1 with a fresh plan; False if another moved it."""
        return await self._transition(
            label_id,
            LabelState.FAILED,
            attempt,
            {
                **_plan_values(plan),
                "state": LabelState.PENDING.value,
                "attempt": attempt + 1,
                "attempt_started_at": now,
                "error_code": "",
                "error_message": "",
                "error_field": "",
                "updated_at": now,
            },
        )

    async def record_purchase(
        self,
        label_id: str,
        attempt: int,
        purchased: PurchasedLabel,
        documents: Sequence[DocumentDraft],
        now: dt.datetime,
        *,
        service_name: str,
    ) -> bool:
        """PENDING -> PURCHASED with what the carrier sold and the documents, in one transaction."""
        async with self._database.write_sessions() as session, session.begin():
            changed = await self._update(
                session,
                label_id,
                LabelState.PENDING,
                attempt,
                {
                    "state": LabelState.PURCHASED.value,
                    "service_name": service_name,
                    "tracking_number": purchased.tracking_number,
                    "price_amount": str(purchased.price.amount),
                    "price_currency": purchased.price.currency,
                    "carrier_shipment_id": purchased.carrier_shipment_id,
                    "carrier_label_id": purchased.carrier_label_id,
                    "label_url": purchased.label_url,
                    "error_code": "",
                    "error_message": "",
                    "error_field": "",
                    "updated_at": now,
                },
            )
            if changed:
                merchant_id = await session.scalar(select(_L.merchant_id).where(_L.id == label_id))
                assert merchant_id is not None
                await self._insert_documents(session, label_id, merchant_id, documents, 0, now)
            return changed

    async def record_failure(
        self, label_id: str, attempt: int, state: LabelState, failure: LabelFailure, now: dt.datetime
    ) -> bool:
        """PENDING -> FAILED or NEEDS_REVIEW, keeping why."""
        return await self._transition(
            label_id,
            LabelState.PENDING,
            attempt,
            {
                "state": state.value,
                "error_code": failure.code,
                "error_message": failure.message,
                "error_field": failure.field,
                "updated_at": now,
            },
        )

    async def record_void(
        self,
        label_id: str,
        expected: LabelState,
        state: LabelState,
        reason: str,
        now: dt.datetime,
    ) -> bool:
        values: dict[str, Any] = {"state": state.value, "void_reason": reason, "updated_at": now}
        if state is LabelState.VOIDED:
            values["voided_at"] = now
        async with self._database.write_sessions() as session, session.begin():
            result = await session.execute(
                update(_LABELS).where(_L.id == label_id, _L.state == expected.value).values(values)
            )
            return _rowcount(result) == 1

    async def add_documents(
        self, label_id: str, merchant_id: str, documents: Sequence[DocumentDraft], now: dt.datetime
    ) -> None:
        """Documents obtained after the purchase was recorded (a carrier-hosted label fetched later)."""
        async with self._database.write_sessions() as session, session.begin():
            last = await session.scalar(
                select(_D.position).where(_D.label_id == label_id).order_by(_D.position.desc()).limit(1)
            )
            await self._insert_documents(session, label_id, merchant_id, documents, (last or 0) + 1, now)

    async def mark_tracking_registered(self, label_id: str) -> None:
        async with self._database.sessions() as session, session.begin():
            await session.execute(update(_LABELS).where(_L.id == label_id).values(tracking_registered=True))

    # Helpers ---------------------------------------------------------------------------------------------

    async def _one(self, statement: Select[Any]) -> LabelRecord | None:
        async with self._database.sessions() as session:
            row = (await session.execute(statement)).one_or_none()
        return _record(row) if row is not None else None

    async def _transition(
        self, label_id: str, expected: LabelState, attempt: int, values: dict[str, Any]
    ) -> bool:
        async with self._database.write_sessions() as session, session.begin():
            return await self._update(session, label_id, expected, attempt, values)

    @staticmethod
    async def _update(
        session: AsyncSession, label_id: str, expected: LabelState, attempt: int, values: dict[str, Any]
    ) -> bool:
        result = await session.execute(
            update(_LABELS)
            .where(_L.id == label_id, _L.state == expected.value, _L.attempt == attempt)
            .values(values)
        )
        return _rowcount(result) == 1

    @staticmethod
    async def _insert_documents(
        session: AsyncSession,
        label_id: str,
        merchant_id: str,
        documents: Sequence[DocumentDraft],
        first_position: int,
        now: dt.datetime,
    ) -> None:
        if not documents:
            return
        await session.execute(
            _DOCUMENTS.insert(),
            [
                {
                    "id": new_id(),
                    "label_id": label_id,
                    "merchant_id": merchant_id,
                    "position": first_position + index,
                    "kind": document.kind.value,
                    "format": document.format.value,
                    "content_type": document.content_type,
                    "filename": document.filename,
                    "language_code": document.language_code,
                    "size_bytes": len(document.content),
                    "content": document.content,
                    "created_at": now,
                }
                for index, document in enumerate(documents)
            ],
        )


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
