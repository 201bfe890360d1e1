"""The `ratecard` adapter: a local partner with no API, priced from its card.

Purchases issue UPU S10 tracking numbers from the card's series; the label itself is rendered by the labels
use case from the PurchasedLabel (the partner has no label API). Tracking events arrive as partner pushes
(TrackingService.IngestTrackingEvents), so `track` has nothing of its own to report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from carriers.accounts import CarrierAccount
from carriers.errors import InvalidRequest, NotFound, Unavailable, UnsupportedLane, UnsupportedOperation
from carriers.models import (
    Handover,
    LabelReference,
    PurchasedLabel,
    PurchaseRequest,
    Rate,
    ReturnShipment,
    VoidResult,
    VoidStatus,
)
from carriers.port import Capabilities, Operation, TrackingUpdates
from carriers.ratecard.card import RateCard, load_card, packaged_card
from carriers.ratecard.pricing import NotPriceable, ShipmentCharge, price_shipment
from carriers.ratecard.s10 import InMemorySerialAllocator, KeyedSerialAllocator, SerialAllocator
from carriers.tracking import TrackingEvent, TrackingSnapshot

_OPTIONS = frozenset({"card", "card_file"})


def _in_order(handovers: frozenset[Handover]) -> tuple[Handover, ...]:
    """Drop-off before pickup, as the port promises."""
    return tuple(h for h in Handover if h in handovers)


class RateCardCarrier:
    def __init__(self, account_id: str, card: RateCard, serials: SerialAllocator | None = None) -> None:
        self._account_id = account_id
        self.card = card
        self._serials = serials or InMemorySerialAllocator()
        self._capabilities = Capabilities(
            operations=frozenset({Operation.QUOTE, Operation.PURCHASE, Operation.VOID, Operation.TRACK}),
            label_formats=card.label_formats,
            handovers=frozenset(h for s in card.services for h in s.handovers),
            tracking_updates=frozenset({TrackingUpdates.PARTNER_PUSH}),
            lanes=card.lanes,
        )

    @classmethod
    def from_account(cls, account: CarrierAccount, environ: Mapping[str, str]) -> RateCardCarrier:
        """Options: `card = "<id>"` (a packaged card) or `card_file = "/path/card.toml"`; no credentials."""
        unknown = set(account.options) - _OPTIONS
        if unknown:
            raise ValueError(f"options.{sorted(unknown)[0]}: unknown option (expected card or card_file)")
        card_id, card_file = account.options.get("card"), account.options.get("card_file")
        if (card_id is None) == (card_file is None):
            raise ValueError("options: set exactly one of card or card_file")
        if card_id is not None:
            return cls(account.id, packaged_card(str(card_id)))
        return cls(account.id, load_card(Path(str(card_file))))

    def with_serials(self, serials: SerialAllocator) -> RateCardCarrier:
        """The same carrier issuing tracking numbers from `serials` (a durable allocator in production)."""
        return RateCardCarrier(self._account_id, self.card, serials)

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def carrier(self) -> str:
        return self.card.carrier

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def quote(self, shipment: ReturnShipment) -> Sequence[Rate]:
        return [rate for rate, _ in self._rates(shipment)]

    def _rates(self, shipment: ReturnShipment) -> list[tuple[Rate, ShipmentCharge]]:
        origin = shipment.customer.address
        if not self._capabilities.serves(
            shipment.origin_country, shipment.destination_country, shipment.destination_hub_id
        ):
            raise UnsupportedLane(
                f"{self.card.carrier} does not carry from {shipment.origin_country} to "
                f"{shipment.destination_hub_id or shipment.destination_country}",
                carrier=self._account_id,
            )
        zone = self.card.zone_for(origin.country, origin.postal_code)
        if zone is None:
            raise UnsupportedLane(
                f"no zone of {self.card.id} covers {origin.country} {origin.postal_code}",
                carrier=self._account_id,
            )
        remote = self.card.remote_area_for(origin.country, origin.postal_code)
        rates: list[tuple[Rate, ShipmentCharge]] = []
        refusals: list[str] = []
        wanted = shipment.handover
        for service in self.card.services:
            tariff = service.tariffs.get(zone.id)
            if tariff is None:
                continue
            if wanted is not None and wanted not in service.handovers:
                refusals.append(f"{service.code}: no {wanted.value}")
                continue
            for handover in (wanted,) if wanted is not None else _in_order(service.handovers):
                try:
                    charge = price_shipment(self.card, service, tariff, shipment.parcels, remote, handover)
                except NotPriceable as exc:
                    refusals.append(f"{service.code}: {exc}")
                    break  # the parcels, not the handover, are what cannot be priced
                raw: dict[str, Any] = {
                    "card": self.card.id,
                    "zone": zone.id,
                    "remote_area": remote.name if remote else "",
                    "pickup_fee": str(charge.pickup_fee.amount),
                    "parcels": [c.as_raw() for c in charge.parcels],
                }
                rate = Rate(
                    account_id=self._account_id,
                    carrier=self.card.carrier,
                    service_code=service.code,
                    service_name=service.name,
                    price=charge.total,
                    transit_days=tariff.transit_days,
                    handover=handover,
                    components=charge.components(),
                    raw=raw,
                )
                rates.append((rate, charge))
        if not rates:
            detail = "; ".join(refusals) or f"no service priced for zone {zone.id}"
            raise UnsupportedLane(f"{self.card.carrier}: {detail}", carrier=self._account_id)
        return rates

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel:
        if request.label_format not in self.card.label_formats:
            raise InvalidRequest(
                f"{self.card.carrier} labels come as {', '.join(sorted(self.card.label_formats))}",
                field="label_format",
                carrier=self._account_id,
            )
        rate = self._rate_for(request)
        if request.expected_price is not None and rate.price > request.expected_price:
            raise InvalidRequest(
                f"price is now {rate.price}, above the quoted {request.expected_price}",
                field="price",
                carrier=self._account_id,
            )
        series = self.card.s10
        series_key = f"{series.service_indicator}{series.country}"
        if isinstance(self._serials, KeyedSerialAllocator):
            # Keyed: asking again under the same idempotency key issues the same number, never a second one.
            ordinal = await self._serials.ordinal_for(series_key, request.idempotency_key)
        else:
            ordinal = await self._serials.next_ordinal(series_key)
        return self._label(rate, ordinal, request)

    async def find_purchase(self, request: PurchaseRequest) -> PurchasedLabel | None:
        """The label issued under `request.idempotency_key`; needs a KeyedSerialAllocator."""
        if not isinstance(self._serials, KeyedSerialAllocator):
            raise UnsupportedOperation(
                "purchases can only be looked up with a keyed serial allocator", carrier=self._account_id
            )
        series = self.card.s10
        ordinal = await self._serials.find_ordinal(
            f"{series.service_indicator}{series.country}", request.idempotency_key
        )
        if ordinal is None:
            return None
        return self._label(self._rate_for(request), ordinal, request)

    def _rate_for(self, request: PurchaseRequest) -> Rate:
        rate = next(
            (r for r, _ in self._rates(request.shipment) if r.service_code == request.service_code), None
        )
        if rate is None:
            raise InvalidRequest(
                f"service {request.service_code!r} is not offered for this shipment",
                field="service_code",
                carrier=self._account_id,
            )
        return rate

    def _label(self, rate: Rate, ordinal: int, request: PurchaseRequest) -> PurchasedLabel:
        try:
            tracking_number = self.card.s10.identifier(ordinal)
        except ValueError as exc:
            raise Unavailable(str(exc), carrier=self._account_id, retryable=False) from exc
        return PurchasedLabel(
            account_id=self._account_id,
            carrier=self.card.carrier,
            service_code=rate.service_code,
            tracking_number=tracking_number,
            price=rate.price,
            label_format=request.label_format,
            raw={**rate.raw, "service_name": rate.service_name, "transit_days": rate.transit_days},
        )

    async def void(self, label: LabelReference) -> VoidResult:
        """Always granted by the partner (nothing is charged until the first scan).

        The partner has no API to ask about scans: the labels use case refuses voids once its tracking store
        holds a scan for the label.
        """
        if not self.card.s10.contains(label.tracking_number):
            raise NotFound(
                f"{label.tracking_number!r} was not issued by {self.card.id}", carrier=self._account_id
            )
        return VoidResult(VoidStatus.VOIDED, "cancelled; rate-card partners charge on first scan")

    async def track(self, tracking_number: str) -> TrackingSnapshot:
        if not self.card.s10.contains(tracking_number):
            raise NotFound(f"{tracking_number!r} was not issued by {self.card.id}", carrier=self._account_id)
        return TrackingSnapshot(
            carrier=self._account_id, tracking_number=tracking_number.replace(" ", "").upper()
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        raise UnsupportedOperation(
            "rate-card partners push scans through IngestTrackingEvents, not webhooks",
            carrier=self._account_id,
        )

    async def close(self) -> None:
        return None
