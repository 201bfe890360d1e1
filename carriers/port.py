"""The carrier port: the one interface every carrier adapter implements.

The service only ever talks to carriers through `CarrierAdapter`. Adapters are classes registered under the
entry-point group `backhaul.carriers` and built per configured account by `from_account` (see
`CarrierAdapterFactory`). Every failure an adapter raises is a `carriers.errors.CarrierError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from carriers.accounts import CarrierAccount
from carriers.models import (
    Handover,
    LabelFormat,
    LabelReference,
    PurchasedLabel,
    PurchaseRequest,
    Rate,
    ReturnShipment,
    VoidResult,
)
from carriers.tracking import TrackingEvent, TrackingSnapshot


class Operation(StrEnum):
    QUOTE = "quote"
    PURCHASE = "purchase"
    VOID = "void"
    TRACK = "track"
    PARSE_WEBHOOK = "parse_webhook"


class TrackingUpdates(StrEnum):
    """How tracking events reach us for this carrier."""

    WEBHOOK = "webhook"  # the carrier calls us (parse_webhook)
    POLLING = "polling"  # we call track() on a schedule
    PARTNER_PUSH = "partner_push"  # the partner pushes scans through TrackingService.IngestTrackingEvents


@dataclass(frozen=True, slots=True)
class Lane:
    """Origins a carrier collects from and where it delivers. An empty set means "any"."""

    origin_countries: frozenset[str] = frozenset()
    destination_countries: frozenset[str] = frozenset()
    hub_ids: frozenset[str] = frozenset()  # configured returns hubs reached, in addition to countries

    def serves(self, origin_country: str, destination_country: str, hub_id: str = "") -> bool:
        if self.origin_countries and origin_country not in self.origin_countries:
            return False
        if not self.destination_countries and not self.hub_ids:
            return True
        return destination_country in self.destination_countries or (bool(hub_id) and hub_id in self.hub_ids)


@dataclass(frozen=True, slots=True)
class Capabilities:
    operations: frozenset[Operation]
    label_formats: frozenset[LabelFormat] = frozenset({LabelFormat.PDF})
    handovers: frozenset[Handover] = frozenset({Handover.DROP_OFF})
    tracking_updates: frozenset[TrackingUpdates] = frozenset({TrackingUpdates.POLLING})
    lanes: tuple[Lane, ...] = field(default=(Lane(),))  # default: any lane

    def supports(self, operation: Operation) -> bool:
        return operation in self.operations

    def serves(self, origin_country: str, destination_country: str, hub_id: str = "") -> bool:
        return any(lane.serves(origin_country, destination_country, hub_id) for lane in self.lanes)


@runtime_checkable
class CarrierAdapter(Protocol):
    """One configured carrier account, ready to call. Implementations must be safe for concurrent use."""

    @property
    def account_id(self) -> str: ...

    @property
    def carrier(self) -> str:
        """Display name used in rates and labels."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def quote(self, shipment: ReturnShipment) -> Sequence[Rate]:
        """Every rate the carrier offers for the shipment, in one call: each service for each handover it
        supports there (each Rate names its handover), or only `shipment.handover`'s when that is set.
        Drop-off rates come before pickup rates of the same service. UnsupportedLane when the carrier cannot
        carry the shipment at all (or not with the handover asked for)."""
        ...

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel: ...

    async def void(self, label: LabelReference) -> VoidResult: ...

    async def track(self, tracking_number: str) -> TrackingSnapshot: ...

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        """Verify the delivery (signature/token) and return its events.

        Raises WebhookVerificationFailed when verification fails, before parsing anything. Header names
        are matched case-insensitively (ASGI and gRPC metadata lowercase them).
        """
        ...

    async def close(self) -> None:
        """Release connections and worker threads."""
        ...


@runtime_checkable
class PurchaseLookup(Protocol):
    """Optional capability: find the label bought under a purchase request's idempotency key.

    The labels use case asks after a purchase whose outcome it did not see (a crash between the carrier's
    answer and its commit, a timeout, an unreadable answer) and buys again only when the carrier says that no
    purchase was made under the key. Implement it only when the answer is final once `purchase()` has
    returned or raised, i.e. no request of ours can still be on its way to the carrier. Raise
    UnsupportedOperation when this instance cannot look purchases up after all.
    """

    async def find_purchase(self, request: PurchaseRequest) -> PurchasedLabel | None:
        """The label bought for `request.idempotency_key`, or None when no purchase was made under it."""
        ...


class CarrierAdapterFactory(Protocol):
    """What an entry point in `backhaul.carriers` resolves to: usually the adapter class itself."""

    def from_account(self, account: CarrierAccount, environ: Mapping[str, str]) -> CarrierAdapter:
        """Build the adapter for `account`.

        Raises carriers.accounts.MissingCredential when a named environment variable is unset, and
        ValueError naming the option when `account.options` is invalid.
        """
        ...
