"""Rate-card arithmetic: chargeable weight and the price of each parcel.

Per parcel:
- volumetric grams = L×W×H mm³ / divisor, rounded up (the divisor is cm³ per kg, so mm³ / divisor = g);
- chargeable grams = max(actual, volumetric), rounded up to the card's weight increment;
- transport = the first weight break at or above the chargeable weight, or above the last break the last
  break's price plus `per_kg_beyond` for every started kilogram over it;
- fuel = transport × fuel surcharge %;
- remote = the remote-area surcharge when the origin postal code is in a listed area;
- each of these lines is rounded to the card currency's minor units (half up), as on a carrier invoice, and
  the parcel total is their sum, so itemised components always add up to the price.
A pickup fee, when the carrier collects, is added once per shipment.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from carriers.models import Handover, Parcel, PriceComponent
from carriers.ratecard.card import RateCard, RemoteArea, ServiceLevel, ZoneTariff
from customs.money import Money, minor_units

_HUNDRED = Decimal(100)


class NotPriceable(ValueError):
    """The service cannot carry this parcel (too heavy, beyond the last break)."""


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def volumetric_grams(parcel: Parcel, divisor: int) -> int:
    return _ceil_div(parcel.length_mm * parcel.width_mm * parcel.height_mm, divisor)


def chargeable_grams(parcel: Parcel, divisor: int, increment_grams: int) -> int:
    heaviest = max(parcel.weight_grams, volumetric_grams(parcel, divisor))
    return _ceil_div(heaviest, increment_grams) * increment_grams


def transport_charge(tariff: ZoneTariff, grams: int) -> tuple[Decimal, Decimal]:
    """(break price, excess-weight charge) for `grams` of chargeable weight."""
    for weight_break in tariff.breaks:
        if grams <= weight_break.up_to_grams:
            return weight_break.price, Decimal(0)
    last = tariff.breaks[-1]
    if tariff.per_kg_beyond is None:
        raise NotPriceable(f"{grams} g is above the last weight break ({last.up_to_grams} g)")
    started_kg = _ceil_div(grams - last.up_to_grams, 1000)
    return last.price, tariff.per_kg_beyond * started_kg


@dataclass(frozen=True, slots=True)
class ParcelCharge:
    """One parcel's price lines, each already rounded to the card currency's minor units."""

    actual_grams: int
    volumetric_grams: int
    chargeable_grams: int
    base: Decimal
    excess_weight: Decimal
    fuel: Decimal
    remote_area: Decimal

    @property
    def total(self) -> Decimal:
        return self.base + self.excess_weight + self.fuel + self.remote_area

    def as_raw(self) -> dict[str, str | int]:
        return {
            "actual_grams": self.actual_grams,
            "volumetric_grams": self.volumetric_grams,
            "chargeable_grams": self.chargeable_grams,
            "base": str(self.base),
            "excess_weight": str(self.excess_weight),
            "fuel": str(self.fuel),
            "remote_area": str(self.remote_area),
            "total": str(self.total),
        }


@functools.cache
def _minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def _round(amount: Decimal, currency: str) -> Decimal:
    """Money.rounded()'s rule (minor units, half up) on a bare Decimal: this path builds no Money per line."""
    return amount.quantize(_minor_unit(currency), rounding=ROUND_HALF_UP)


def price_parcel(
    card: RateCard, tariff: ZoneTariff, parcel: Parcel, remote: RemoteArea | None
) -> ParcelCharge:
    if parcel.weight_grams > card.max_weight_grams:
        raise NotPriceable(f"{parcel.weight_grams} g is over the {card.max_weight_grams} g limit")
    grams = chargeable_grams(parcel, card.volumetric_divisor, card.weight_increment_grams)
    base, excess = transport_charge(tariff, grams)
    fuel = (base + excess) * card.fuel_surcharge_percent / _HUNDRED
    currency = card.currency
    return ParcelCharge(
        actual_grams=parcel.weight_grams,
        volumetric_grams=volumetric_grams(parcel, card.volumetric_divisor),
        chargeable_grams=grams,
        base=_round(base, currency),
        excess_weight=_round(excess, currency),
        fuel=_round(fuel, currency),
        remote_area=_round(remote.surcharge if remote else Decimal(0), currency),
    )


@dataclass(frozen=True, slots=True)
class ShipmentCharge:
    parcels: tuple[ParcelCharge, ...]
    pickup_fee: Money
    total: Money

    def components(self) -> tuple[PriceComponent, ...]:
        """The price itemised by kind, summed over parcels; zero lines are left out."""
        parcels = self.parcels
        lines = (
            ("base", "weight-break price", sum((c.base for c in parcels), Decimal(0))),
            (
                "excess_weight",
                "per kg above the last break",
                sum((c.excess_weight for c in parcels), Decimal(0)),
            ),
            ("fuel_surcharge", "fuel surcharge", sum((c.fuel for c in parcels), Decimal(0))),
            (
                "remote_area_surcharge",
                "remote-area surcharge",
                sum((c.remote_area for c in parcels), Decimal(0)),
            ),
            ("pickup_fee", "collection by the carrier", self.pickup_fee.amount),
        )
        currency = self.total.currency
        return tuple(
            PriceComponent(code, text, Money(amount, currency)) for code, text, amount in lines if amount
        )


def price_shipment(
    card: RateCard,
    service: ServiceLevel,
    tariff: ZoneTariff,
    parcels: Sequence[Parcel],
    remote: RemoteArea | None,
    handover: Handover,
) -> ShipmentCharge:
    charges = tuple(price_parcel(card, tariff, parcel, remote) for parcel in parcels)
    pickup = _round(service.pickup_fee if handover is Handover.PICKUP else Decimal(0), card.currency)
    amount = pickup + sum((c.total for c in charges), Decimal(0))
    return ShipmentCharge(charges, Money(pickup, card.currency), Money(amount, card.currency))
