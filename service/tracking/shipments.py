"""The parcels Backhaul tracks: registration, look-ups, and the polling schedule with its leases.

Polling leases. Several replicas poll the same table; a parcel is claimed by setting `lease_owner` and
`lease_expires_at` on rows that are due and not leased. On PostgreSQL the due rows are picked with
`FOR UPDATE SKIP LOCKED`, so concurrent claimers take disjoint rows without waiting on each other; on
SQLite the claim is a conditional UPDATE inside a `BEGIN IMMEDIATE` transaction (writers are serialised).
A replica that dies holding a lease loses it when it expires.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, case, null, or_, select, update

from carriers.tracking import TrackingStatus
from service.errors import AlreadyExists
from service.storage.engine import Database
from service.storage.statements import insert_or_ignore
from service.storage.tables import UtcDateTime
from service.tracking.milestones import ReturnRoute
from service.tracking.model import TrackedShipment
from service.tracking.tables import TrackedShipmentRow

_SHIPMENTS = cast(Table, TrackedShipmentRow.__table__)
_S = _SHIPMENTS.c


class ShipmentRegistry:
    def __init__(self, database: Database, *, known_parcels: int = 100_000) -> None:
        self._database = database
        # Parcels by (carrier account, tracking number) for `identify`: a parcel's id, merchant, account and
        # number never change, so remembering them is safe on every replica.
        self._known: OrderedDict[tuple[str, str], TrackedShipment] = OrderedDict()
        self._known_limit = known_parcels

    async def register(
        self,
        *,
        merchant_id: str,
        label_id: str | None,
        carrier_account_id: str,
        tracking_number: str,
        route: ReturnRoute,
        registered_at: dt.datetime,
        first_poll_at: dt.datetime | None,
    ) -> TrackedShipment:
        """Idempotent: registering the same parcel again returns it (a label may be attached later).

        AlreadyExists when the tracking number is tracked for another merchant or label, or the label
        already has another parcel.
        """
        async with self._database.write_sessions() as session, session.begin():
            values = {
                "id": uuid.uuid4().hex,
                "merchant_id": merchant_id,
                "label_id": label_id,
                "carrier_account_id": carrier_account_id,
                "tracking_number": tracking_number,
                "route": route.value,
                "registered_at": registered_at,
                "status": TrackingStatus.UNKNOWN.value,
                "substatus": "",
                "final": False,
                "next_poll_at": first_poll_at,
                "poll_failures": 0,
            }
            await session.execute(
                insert_or_ignore(session, _SHIPMENTS).values(values).on_conflict_do_nothing()
            )
            row = (
                await session.execute(
                    select(_SHIPMENTS).where(
                        _S.carrier_account_id == carrier_account_id, _S.tracking_number == tracking_number
                    )
                )
            ).one_or_none()
            if row is None:
                raise AlreadyExists(f"label {label_id!r} already has another parcel registered for tracking")
            existing = _shipment(row)
            if existing.merchant_id != merchant_id or (
                label_id is not None and existing.label_id not in (None, label_id)
            ):
                raise AlreadyExists(
                    f"tracking number {tracking_number!r} is already tracked for another label"
                )
            if label_id is not None and existing.label_id is None:
                clash = await session.scalar(
                    select(_S.id).where(_S.merchant_id == merchant_id, _S.label_id == label_id)
                )
                if clash is not None:
                    raise AlreadyExists(
                        f"label {label_id!r} already has another parcel registered for tracking"
                    )
                await session.execute(
                    update(_SHIPMENTS).where(_S.id == existing.id).values(label_id=label_id)
                )
                existing = _shipment(
                    (await session.execute(select(_SHIPMENTS).where(_S.id == existing.id))).one()
                )
        self._remember(existing)
        return existing

    async def identify(self, carrier_account_id: str, numbers: Iterable[str]) -> dict[str, TrackedShipment]:
        """The registered parcels among `numbers` (normalised) of one carrier account, by number.

        For routing events to the log: ids, merchants, accounts and numbers are exact; the status fields
        may be stale (the log reads the parcel's state under its lock).
        """
        found: dict[str, TrackedShipment] = {}
        missing = []
        for number in set(numbers):
            known = self._known.get((carrier_account_id, number))
            if known is None:
                missing.append(number)
            else:
                self._known.move_to_end((carrier_account_id, number))
                found[number] = known
        if missing:
            statement = select(_SHIPMENTS).where(
                _S.carrier_account_id == carrier_account_id, _S.tracking_number.in_(missing)
            )
            async with self._database.engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
            for row in rows:
                found[row.tracking_number] = self._remember(_shipment(row))
        return found

    def _remember(self, shipment: TrackedShipment) -> TrackedShipment:
        self._known[(shipment.carrier_account_id, shipment.tracking_number)] = shipment
        if len(self._known) > self._known_limit:
            self._known.popitem(last=False)
        return shipment

    async def find(
        self, merchant_id: str, *, label_id: str | None = None, tracking_number: str | None = None
    ) -> TrackedShipment | None:
        """The merchant's parcel by label id or tracking number (the newest one if the number is reused)."""
        statement = select(_SHIPMENTS).where(_S.merchant_id == merchant_id)
        if label_id is not None:
            statement = statement.where(_S.label_id == label_id)
        if tracking_number is not None:
            statement = statement.where(_S.tracking_number == tracking_number)
        statement = statement.order_by(_S.registered_at.desc()).limit(1)
        async with self._database.sessions() as session:
            row = (await session.execute(statement)).one_or_none()
        return _shipment(row) if row is not None else None

    async def claim_due(
        self, owner: str, now: dt.datetime, lease: dt.timedelta, limit: int
    ) -> list[TrackedShipment]:
        """Lease up to `limit` parcels due for polling to `owner`; parcels leased elsewhere are skipped."""
        available = and_(
            _S.next_poll_at <= now,
            _S.final.is_(False),
            or_(_S.lease_expires_at.is_(None), _S.lease_expires_at < now),
        )
        due = select(_S.id).where(available).order_by(_S.next_poll_at).limit(limit)
        async with self._database.write_sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            claimed = await session.execute(
                update(_SHIPMENTS)
                .where(_S.id.in_(due.scalar_subquery()), available)
                .values(lease_owner=owner, lease_expires_at=now + lease)
                .returning(*_SHIPMENTS.c)
            )
            return [_shipment(row) for row in claimed.all()]

    async def finish_poll(
        self,
        shipment_id: str,
        owner: str,
        *,
        polled_at: dt.datetime,
        next_poll_at: dt.datetime | None,
        failures: int,
        estimated_delivery: dt.date | None = None,
    ) -> None:
        """Release the lease and schedule the next poll (none once the parcel is final)."""
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_expires_at": None,
            "last_polled_at": polled_at,
            "poll_failures": failures,
            "next_poll_at": case(
                (_S.final.is_(True), null()),
                else_=bindparam("next_poll_at", next_poll_at, type_=UtcDateTime()),
            ),
        }
        if estimated_delivery is not None:
            values["estimated_delivery"] = estimated_delivery
        async with self._database.write_sessions() as session, session.begin():
            await session.execute(
                update(_SHIPMENTS).where(_S.id == shipment_id, _S.lease_owner == owner).values(values)
            )


def _shipment(row: Row[Any]) -> TrackedShipment:
    return TrackedShipment(
        id=row.id,
        merchant_id=row.merchant_id,
        label_id=row.label_id,
        carrier_account_id=row.carrier_account_id,
        tracking_number=row.tracking_number,
        route=ReturnRoute(row.route),
        registered_at=row.registered_at,
        status=TrackingStatus(row.status),
        substatus=row.substatus,
        last_event_at=row.last_event_at,
        final=row.final,
        estimated_delivery=row.estimated_delivery,
        next_poll_at=row.next_poll_at,
        poll_failures=row.poll_failures,
    )
