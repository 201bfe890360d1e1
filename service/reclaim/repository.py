"""Storing reclaim claims: rows to records and back, transactions that change claims together with their
audit entries, the tracking position, and merchant-scoped, keyset-paged listings.

Every change goes through `ClaimTransaction.save`: a conditional UPDATE on the revision the change was
computed from, plus one appended `reclaim_claim_events` row per status change, in one transaction. Claims
read for a change are locked (`FOR UPDATE` on PostgreSQL; SQLite write transactions start with BEGIN
IMMEDIATE), so concurrent replicas take turns instead of overwriting each other.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, exists, false, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from customs.reclaim import (
    OPEN_STATUSES,
    ChargeComponent,
    ClaimStatus,
    ComponentAmount,
    ExportEvidence,
    ExportMilestone,
    ReclaimWarning,
    WarningCode,
)
from service.reclaim.model import (
    AuditEntry,
    ClaimChange,
    ClaimOrder,
    ClaimPage,
    ClaimQuery,
    RecordedEvidence,
    StoredClaim,
)
from service.reclaim.tables import (
    POSITION_ID,
    ReclaimClaimEventRow,
    ReclaimClaimRow,
    ReclaimTrackingPositionRow,
)
from service.storage.engine import Database

_CLAIMS = cast(Table, ReclaimClaimRow.__table__)
_EVENTS = cast(Table, ReclaimClaimEventRow.__table__)
_C = _CLAIMS.c
NO_DEADLINE = dt.date(9999, 12, 31)
_OPEN = tuple(status.value for status in OPEN_STATUSES)


class StaleClaim(RuntimeError):
    """The claim changed since it was read; the transaction is rolled back and may be retried."""


def new_claim_id() -> str:
    return "rc_" + uuid.uuid4().hex[:24]


# Rows <-> records --------------------------------------------------------------------------------------


def _amount_json(item: ComponentAmount) -> dict[str, Any]:
    return {
        "component": item.component.value,
        "amount": str(item.amount.amount),
        "display_amount": str(item.display.amount) if item.display else None,
        "display_currency": item.display.currency if item.display else None,
    }


def _amount(data: dict[str, Any], currency: str) -> ComponentAmount:
    display = (
        Money(Decimal(data["display_amount"]), data["display_currency"])
        if data.get("display_amount") is not None
        else None
    )
    return ComponentAmount(
        ChargeComponent(data["component"]), Money(Decimal(data["amount"]), currency), display
    )


def evidence_json(item: RecordedEvidence) -> dict[str, Any]:
    evidence = item.evidence
    return {
        "milestone": evidence.milestone.value,
        "occurred_at": evidence.occurred_at.isoformat(),
        "country": evidence.country,
        "reference": evidence.reference,
        "cursor": item.cursor,
    }


def _evidence(data: dict[str, Any]) -> RecordedEvidence:
    return RecordedEvidence(
        ExportEvidence(
            milestone=ExportMilestone(data["milestone"]),
            occurred_at=dt.datetime.fromisoformat(data["occurred_at"]),
            country=data["country"],
            reference=data["reference"],
        ),
        int(data["cursor"]),
    )


def _warning_json(warning: ReclaimWarning) -> dict[str, str]:
    return {
        "code": warning.code.value,
        "message": warning.message,
        "regime_id": warning.regime_id,
        "line_id": warning.line_id,
    }


def _warning(data: dict[str, str]) -> ReclaimWarning:
    return ReclaimWarning(WarningCode(data["code"]), data["message"], data["regime_id"], data["line_id"])


def _state_values(claim: StoredClaim) -> dict[str, Any]:
    """The columns a change may touch."""
    return {
        "status": claim.status.value,
        "revision": claim.revision,
        "export_date": claim.export_date,
        "export_proven": claim.export_proven,
        "export_deadline": claim.export_deadline,
        "filing_deadline": claim.filing_deadline,
        "deadline_order": claim.filing_deadline or NO_DEADLINE,
        "evidence": [evidence_json(item) for item in claim.evidence],
        "filing_reference": claim.filing_reference,
        "updated_at": claim.updated_at,
    }


def _row_values(claim: StoredClaim) -> dict[str, Any]:
    return {
        "id": claim.id,
        "merchant_id": claim.merchant_id,
        "label_id": claim.label_id,
        "group_key": claim.group_key,
        "regime_key": claim.regime_id or "",
        "regime_id": claim.regime_id,
        "market": claim.market,
        "import_country": claim.import_country,
        "entry_number": claim.entry_number,
        "import_date": claim.import_date,
        "debt_notified_on": claim.debt_notified_on,
        "rules_date": claim.rules_date,
        "destination_country": claim.destination_country,
        "currency": claim.refundable_total.currency,
        "refundable": [_amount_json(item) for item in claim.refundable],
        "refundable_total": str(claim.refundable_total.amount),
        "amounts_estimated": claim.amounts_estimated,
        "basis_confirmed": claim.basis_confirmed,
        "unconfirmed_points": list(claim.unconfirmed_points),
        "warnings": [_warning_json(warning) for warning in claim.warnings],
        "return_reason": claim.return_reason.value,
        "item_condition": claim.item_condition.value,
        "skus": list(claim.skus),
        "tracking_number": claim.tracking_number,
        "created_at": claim.created_at,
        **_state_values(claim),
    }


def _claim(row: Any) -> StoredClaim:
    currency = row.currency
    return StoredClaim(
        id=row.id,
        merchant_id=row.merchant_id,
        label_id=row.label_id,
        group_key=row.group_key,
        regime_id=row.regime_id,
        status=ClaimStatus(row.status),
        revision=row.revision,
        market=row.market,
        import_country=row.import_country,
        entry_number=row.entry_number,
        import_date=row.import_date,
        debt_notified_on=row.debt_notified_on,
        rules_date=row.rules_date,
        destination_country=row.destination_country,
        refundable=tuple(_amount(item, currency) for item in row.refundable),
        refundable_total=Money(Decimal(row.refundable_total), currency),
        amounts_estimated=row.amounts_estimated,
        basis_confirmed=row.basis_confirmed,
        unconfirmed_points=tuple(row.unconfirmed_points),
        export_date=row.export_date,
        export_proven=row.export_proven,
        export_deadline=row.export_deadline,
        filing_deadline=row.filing_deadline,
        evidence=tuple(_evidence(item) for item in row.evidence),
        filing_reference=row.filing_reference,
        warnings=tuple(_warning(item) for item in row.warnings),
        return_reason=ReturnReason(row.return_reason),
        item_condition=ItemCondition(row.item_condition),
        skus=tuple(row.skus),
        tracking_number=row.tracking_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _entry_values(claim: StoredClaim, entry: AuditEntry) -> dict[str, Any]:
    return {
        "claim_id": claim.id,
        "sequence": entry.sequence,
        "merchant_id": claim.merchant_id,
        "at": entry.at,
        "status": entry.status.value,
        "description": entry.description,
        "actor": entry.actor,
        "evidence": evidence_json(entry.evidence) if entry.evidence else None,
        "tracking_cursor": entry.tracking_cursor,
    }


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        sequence=row.sequence,
        at=row.at,
        status=ClaimStatus(row.status),
        description=row.description,
        actor=row.actor,
        evidence=_evidence(row.evidence) if row.evidence else None,
        tracking_cursor=row.tracking_cursor,
    )


# Transactions ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewClaim:
    claim: StoredClaim
    entries: tuple[AuditEntry, ...]


class ClaimTransaction:
    """One read-then-write transaction over claims; committed when its block ends without an error."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _locked(self, statement: Select[Any]) -> Select[Any]:
        return statement.with_for_update()

    async def claims_of_label(self, merchant_id: str, label_id: str) -> list[StoredClaim]:
        statement = (
            select(_CLAIMS)
            .where(_C.merchant_id == merchant_id, _C.label_id == label_id)
            .order_by(_C.created_at, _C.id)
        )
        rows = (await self._session.execute(self._locked(statement))).all()
        return [_claim(row) for row in rows]

    async def open_claims_of_labels(self, labels: Collection[tuple[str, str]]) -> list[StoredClaim]:
        """Open claims of (merchant id, label id) pairs, locked."""
        if not labels:
            return []
        statement = (
            select(_CLAIMS)
            .where(tuple_(_C.merchant_id, _C.label_id).in_(list(labels)), _C.status.in_(_OPEN))
            .order_by(_C.id)
        )
        rows = (await self._session.execute(self._locked(statement))).all()
        return [_claim(row) for row in rows]

    async def overdue_candidates(self, on: dt.date, merchant_id: str | None, limit: int) -> list[StoredClaim]:
        """Open claims with a filing deadline before `on`, or not exported with an export deadline before
        it (the domain decides), locked."""
        late: ColumnElement[bool] = or_(
            _C.deadline_order < on, and_(_C.export_proven == false(), _C.export_deadline < on)
        )
        statement = select(_CLAIMS).where(_C.status.in_(_OPEN), late)
        if merchant_id is not None:
            statement = statement.where(_C.merchant_id == merchant_id)
        statement = statement.order_by(_C.deadline_order, _C.id).limit(limit)
        rows = (await self._session.execute(self._locked(statement))).all()
        return [_claim(row) for row in rows]

    async def insert(self, claims: Sequence[NewClaim]) -> None:
        if not claims:
            return
        await self._session.execute(_CLAIMS.insert(), [_row_values(item.claim) for item in claims])
        entries = [_entry_values(item.claim, entry) for item in claims for entry in item.entries]
        if entries:
            await self._session.execute(_EVENTS.insert(), entries)

    async def save(self, changes: Sequence[ClaimChange]) -> None:
        for change in changes:
            claim = change.claim
            expected = claim.revision - len(change.entries)
            result = await self._session.execute(
                update(_CLAIMS)
                .where(_C.id == claim.id, _C.revision == expected)
                .values(**_state_values(claim))
            )
            if cast(Any, result).rowcount != 1:
                raise StaleClaim(claim.id)
        entries = [_entry_values(change.claim, entry) for change in changes for entry in change.entries]
        if entries:
            await self._session.execute(_EVENTS.insert(), entries)

    async def lock_tracking_position(self) -> int:
        statement = select(ReclaimTrackingPositionRow.last_cursor).where(
            ReclaimTrackingPositionRow.id == POSITION_ID
        )
        return int((await self._session.execute(statement.with_for_update())).scalar_one())

    async def move_tracking_position(self, cursor: int) -> None:
        await self._session.execute(
            update(ReclaimTrackingPositionRow)
            .where(ReclaimTrackingPositionRow.id == POSITION_ID)
            .values(last_cursor=cursor)
        )


class ClaimRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    @staticmethod
    def has_open_claim(merchant_id: ColumnElement[Any], label_id: ColumnElement[Any]) -> ColumnElement[bool]:
        """A condition on another table's row: its (merchant id, label id) has an open claim (a probe of
        the claims' (merchant_id, label_id, ...) unique index)."""
        return exists().where(_C.merchant_id == merchant_id, _C.label_id == label_id, _C.status.in_(_OPEN))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ClaimTransaction]:
        async with self._database.write_sessions() as session, session.begin():
            yield ClaimTransaction(session)

    async def tracking_position(self) -> int:
        async with self._database.sessions() as session:
            cursor = await session.scalar(
                select(ReclaimTrackingPositionRow.last_cursor).where(
                    ReclaimTrackingPositionRow.id == POSITION_ID
                )
            )
        return int(cursor or 0)

    async def claims_of_label(self, merchant_id: str, label_id: str) -> list[StoredClaim]:
        statement = (
            select(_CLAIMS)
            .where(_C.merchant_id == merchant_id, _C.label_id == label_id)
            .order_by(_C.created_at, _C.id)
        )
        async with self._database.sessions() as session:
            rows = (await session.execute(statement)).all()
        return [_claim(row) for row in rows]

    async def page(self, query: ClaimQuery, after: tuple[str, str] | None, limit: int) -> ClaimPage:
        """Up to `limit` claims of the merchant in the query's order, after the keyset `after` (the sort
        value as text and the claim id), each with its audit trail."""
        statement = select(_CLAIMS).where(_C.merchant_id == query.merchant_id)
        if query.statuses:
            statement = statement.where(_C.status.in_(sorted(s.value for s in query.statuses)))
        if query.deadline_on_or_before is not None:
            statement = statement.where(_C.filing_deadline <= query.deadline_on_or_before)
        if query.label_id:
            statement = statement.where(_C.label_id == query.label_id)
        if query.order is ClaimOrder.FILING_DEADLINE:
            if after is not None:
                deadline = dt.date.fromisoformat(after[0])
                statement = statement.where(
                    or_(_C.deadline_order > deadline, and_(_C.deadline_order == deadline, _C.id > after[1]))
                )
            statement = statement.order_by(_C.deadline_order, _C.id)
        else:
            if after is not None:
                created = dt.datetime.fromisoformat(after[0])
                statement = statement.where(
                    or_(_C.created_at < created, and_(_C.created_at == created, _C.id < after[1]))
                )
            statement = statement.order_by(_C.created_at.desc(), _C.id.desc())
        async with self._database.sessions() as session:
            rows = (await session.execute(statement.limit(limit + 1))).all()
            claims = [_claim(row) for row in rows[:limit]]
            trails = await self._audit_trails(session, [claim.id for claim in claims])
        claims = [replace(claim, audit_trail=tuple(trails.get(claim.id, ()))) for claim in claims]
        next_after = None
        if len(rows) > limit and claims:
            last = claims[-1]
            key = (
                (last.filing_deadline or NO_DEADLINE).isoformat()
                if query.order is ClaimOrder.FILING_DEADLINE
                else last.created_at.isoformat()
            )
            next_after = (key, last.id)
        return ClaimPage(tuple(claims), next_after)

    async def audit_trail(self, claim_id: str) -> list[AuditEntry]:
        async with self._database.sessions() as session:
            return (await self._audit_trails(session, [claim_id])).get(claim_id, [])

    async def _audit_trails(self, session: AsyncSession, ids: Sequence[str]) -> dict[str, list[AuditEntry]]:
        if not ids:
            return {}
        rows = (
            await session.execute(
                select(_EVENTS)
                .where(_EVENTS.c.claim_id.in_(list(ids)))
                .order_by(_EVENTS.c.claim_id, _EVENTS.c.sequence)
            )
        ).all()
        trails: dict[str, list[AuditEntry]] = {}
        for row in rows:
            trails.setdefault(row.claim_id, []).append(_entry(row))
        return trails
