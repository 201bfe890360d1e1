"""A local partner's rate card, read from TOML (carriers/ratecard/cards/*.toml) and validated at load.

The card is the partner: its zones (by origin country and postal-code prefix), services with weight breaks
per zone, surcharges, the lanes it serves and the S10 series its tracking numbers come from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from carriers.models import Handover, LabelFormat
from carriers.port import Lane
from carriers.ratecard.s10 import S10Series
from customs.countries import validate_country
from customs.datafile import DataTable, read_toml
from customs.money import validate_currency

CARDS_PACKAGE = "carriers.ratecard.cards"


_POSTAL_SEPARATORS = str.maketrans("", "", " -\t")


def normalise_postal_code(code: str) -> str:
    """Upper case without spaces or hyphens: the form zone and remote-area prefixes are written in."""
    return code.upper().translate(_POSTAL_SEPARATORS)


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    countries: frozenset[str]
    postal_prefixes: tuple[str, ...] = ()  # empty: the whole of each country

    def match_length(self, country: str, postal_code: str) -> int | None:
        """None if the zone does not cover the address, else the matching prefix's length (0: country)."""
        if country not in self.countries:
            return None
        if not self.postal_prefixes:
            return 0
        lengths = [len(p) for p in self.postal_prefixes if postal_code.startswith(p)]
        return max(lengths) if lengths else None


@dataclass(frozen=True, slots=True)
class RemoteArea:
    name: str
    country: str
    postal_prefixes: tuple[str, ...]
    surcharge: Decimal  # per parcel, in the card's currency

    def covers(self, country: str, postal_code: str) -> bool:
        return country == self.country and any(postal_code.startswith(p) for p in self.postal_prefixes)


@dataclass(frozen=True, slots=True)
class WeightBreak:
    up_to_grams: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class ZoneTariff:
    """A service's prices and transit time from one zone."""

    zone: str
    transit_days: int
    breaks: tuple[WeightBreak, ...]  # ascending by weight
    per_kg_beyond: Decimal | None = None  # per started kg above the last break; None: heavier is refused


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    code: str
    name: str
    handovers: frozenset[Handover]
    tariffs: dict[str, ZoneTariff]  # by zone id
    pickup_fee: Decimal = Decimal(0)  # per shipment when the carrier collects


@dataclass(frozen=True, slots=True)
class RateCard:
    id: str
    carrier: str
    currency: str
    effective_from: dt.date
    source: str
    volumetric_divisor: int  # cm³ per kg
    weight_increment_grams: int  # chargeable weight is rounded up to this
    max_weight_grams: int  # heaviest parcel accepted (actual weight)
    fuel_surcharge_percent: Decimal  # on the transport charge (weight breaks and excess kg)
    zones: tuple[Zone, ...]
    remote_areas: tuple[RemoteArea, ...]
    services: tuple[ServiceLevel, ...]
    lanes: tuple[Lane, ...]
    s10: S10Series
    label_formats: frozenset[LabelFormat]
    example: bool = False
    note: str = ""
    effective_until: dt.date | None = None

    def zone_for(self, country: str, postal_code: str) -> Zone | None:
        """The zone covering the address; the longest matching postal prefix wins over a whole country."""
        code = normalise_postal_code(postal_code)
        best: tuple[int, Zone] | None = None
        for zone in self.zones:
            length = zone.match_length(country, code)
            if length is not None and (best is None or length > best[0]):
                best = (length, zone)
        return best[1] if best else None

    def remote_area_for(self, country: str, postal_code: str) -> RemoteArea | None:
        code = normalise_postal_code(postal_code)
        return next((area for area in self.remote_areas if area.covers(country, code)), None)

    def service(self, code: str) -> ServiceLevel | None:
        return next((s for s in self.services if s.code == code), None)


def packaged_card(card_id: str) -> RateCard:
    """A card shipped with Backhaul, by id (the file name without .toml)."""
    path = files(CARDS_PACKAGE).joinpath(f"{card_id}.toml")
    if not path.is_file():
        raise ValueError(f"no packaged rate card {card_id!r} (see carriers/ratecard/cards/)")
    card = load_card(path, f"ratecard/cards/{card_id}.toml")
    if card.id != card_id:
        raise ValueError(f"ratecard/cards/{card_id}.toml: card.id: must equal the file name, got {card.id!r}")
    return card


def packaged_card_ids() -> list[str]:
    return sorted(
        p.name.removesuffix(".toml") for p in files(CARDS_PACKAGE).iterdir() if p.name.endswith(".toml")
    )


def load_card(path: Path | Traversable, source: str | None = None) -> RateCard:
    return parse_card(read_toml(path, source))


_CARD_FIELDS = frozenset(
    {
        "id",
        "carrier",
        "currency",
        "effective_from",
        "effective_until",
        "source",
        "example",
        "note",
        "volumetric_divisor",
        "weight_increment_grams",
        "max_weight_grams",
        "fuel_surcharge_percent",
        "label_formats",
    }
)


def parse_card(document: DataTable) -> RateCard:
    document.reject_unknown({"card", "s10", "lanes", "zones", "remote_areas", "services"})
    head = document.required_table("card")
    head.reject_unknown(_CARD_FIELDS)
    example = head.flag("example", False)
    note = head.text("note", "")
    if example and not note:
        raise head.error("note", "example cards must say that their figures are illustrative")
    effective_from = head.date("effective_from")
    assert effective_from is not None
    effective_until = head.date("effective_until", required=False)
    if effective_until is not None and effective_until <= effective_from:
        raise head.error("effective_until", "must be after effective_from")
    zones = tuple(_parse_zone(t) for t in document.tables("zones", required=True))
    _check_zones_disjoint(document, zones)
    zone_ids = {z.id for z in zones}
    services = tuple(_parse_service(t, zone_ids) for t in document.tables("services", required=True))
    codes = [s.code for s in services]
    if len(set(codes)) != len(codes):
        raise document.error("services", f"duplicate service codes in {codes}")
    label_formats = head.strings("label_formats") or ["pdf"]
    return RateCard(
        id=head.text("id"),
        carrier=head.text("carrier"),
        currency=head.checked("currency", head.text("currency"), validate_currency),
        effective_from=effective_from,
        effective_until=effective_until,
        source=head.text("source"),
        example=example,
        note=note,
        volumetric_divisor=head.integer("volumetric_divisor", minimum=1),
        weight_increment_grams=head.integer("weight_increment_grams", minimum=1),
        max_weight_grams=head.integer("max_weight_grams", minimum=1),
        fuel_surcharge_percent=head.decimal("fuel_surcharge_percent", Decimal(0), minimum=Decimal(0)),
        zones=zones,
        remote_areas=tuple(_parse_remote_area(t) for t in document.tables("remote_areas")),
        services=services,
        lanes=tuple(_parse_lane(t) for t in document.tables("lanes", required=True)),
        s10=_parse_s10(document.required_table("s10")),
        label_formats=frozenset(head.checked("label_formats", f, LabelFormat) for f in label_formats),
    )


def _countries(table: DataTable, key: str, *, required: bool) -> frozenset[str]:
    return frozenset(table.checked(key, c, validate_country) for c in table.strings(key, required=required))


def _prefixes(table: DataTable, key: str, *, required: bool) -> tuple[str, ...]:
    prefixes = tuple(normalise_postal_code(p) for p in table.strings(key, required=required))
    if any(not p for p in prefixes):
        raise table.error(key, "empty postal prefix")
    return prefixes


def _parse_zone(table: DataTable) -> Zone:
    table.reject_unknown({"id", "countries", "postal_prefixes"})
    countries = _countries(table, "countries", required=True)
    if not countries:
        raise table.error("countries", "must not be empty")
    return Zone(table.text("id"), countries, _prefixes(table, "postal_prefixes", required=False))


def _check_zones_disjoint(document: DataTable, zones: tuple[Zone, ...]) -> None:
    seen_ids: set[str] = set()
    covered: set[tuple[str, str]] = set()
    for index, zone in enumerate(zones):
        if zone.id in seen_ids:
            raise document.error(f"zones[{index}].id", f"duplicate zone id {zone.id!r}")
        seen_ids.add(zone.id)
        for country in zone.countries:
            for prefix in zone.postal_prefixes or ("",):
                if (country, prefix) in covered:
                    where = f"postal prefix {prefix!r} of {country}" if prefix else country
                    raise document.error(f"zones[{index}]", f"{where} is already in another zone")
                covered.add((country, prefix))


def _parse_remote_area(table: DataTable) -> RemoteArea:
    table.reject_unknown({"name", "country", "postal_prefixes", "surcharge"})
    prefixes = _prefixes(table, "postal_prefixes", required=True)
    if not prefixes:
        raise table.error("postal_prefixes", "must not be empty")
    return RemoteArea(
        name=table.text("name"),
        country=table.checked("country", table.text("country"), validate_country),
        postal_prefixes=prefixes,
        surcharge=table.decimal("surcharge", minimum=Decimal(0)),
    )


def _parse_service(table: DataTable, zone_ids: set[str]) -> ServiceLevel:
    table.reject_unknown({"code", "name", "handovers", "pickup_fee", "tariffs"})
    handovers = frozenset(table.checked("handovers", h, Handover) for h in table.strings("handovers"))
    tariffs: dict[str, ZoneTariff] = {}
    for tariff_table in table.tables("tariffs", required=True):
        tariff = _parse_tariff(tariff_table)
        if tariff.zone not in zone_ids:
            raise tariff_table.error(
                "zone", f"unknown zone {tariff.zone!r} (zones: {', '.join(sorted(zone_ids))})"
            )
        if tariff.zone in tariffs:
            raise tariff_table.error("zone", f"zone {tariff.zone!r} priced twice")
        tariffs[tariff.zone] = tariff
    pickup_fee = table.decimal("pickup_fee", Decimal(0), minimum=Decimal(0))
    if pickup_fee and Handover.PICKUP not in handovers:
        raise table.error("pickup_fee", "set, but the service has no pickup handover")
    return ServiceLevel(
        code=table.text("code"),
        name=table.text("name"),
        handovers=handovers or frozenset({Handover.DROP_OFF}),
        tariffs=tariffs,
        pickup_fee=pickup_fee,
    )


def _parse_tariff(table: DataTable) -> ZoneTariff:
    table.reject_unknown({"zone", "transit_days", "breaks", "per_kg_beyond"})
    breaks: list[WeightBreak] = []
    for break_table in table.tables("breaks", required=True):
        break_table.reject_unknown({"up_to_grams", "price"})
        weight = break_table.integer("up_to_grams", minimum=1)
        if breaks and weight <= breaks[-1].up_to_grams:
            raise break_table.error("up_to_grams", "weight breaks must ascend")
        breaks.append(WeightBreak(weight, break_table.decimal("price", minimum=Decimal(0))))
    per_kg = table.decimal("per_kg_beyond", minimum=Decimal(0)) if "per_kg_beyond" in table else None
    return ZoneTariff(
        zone=table.text("zone"),
        transit_days=table.integer("transit_days", minimum=0),
        breaks=tuple(breaks),
        per_kg_beyond=per_kg,
    )


def _parse_lane(table: DataTable) -> Lane:
    table.reject_unknown({"origin_countries", "destination_countries", "hub_ids"})
    origins = _countries(table, "origin_countries", required=True)
    if not origins:
        raise table.error("origin_countries", "must not be empty")
    destinations = _countries(table, "destination_countries", required=False)
    hub_ids = frozenset(table.strings("hub_ids"))
    if not destinations and not hub_ids:
        raise table.error("hub_ids", "a lane needs hub_ids or destination_countries")
    return Lane(origins, destinations, hub_ids)


def _parse_s10(table: DataTable) -> S10Series:
    table.reject_unknown({"service_indicator", "country", "first_serial", "last_serial"})
    try:
        return S10Series(
            service_indicator=table.text("service_indicator"),
            country=table.text("country"),
            first_serial=table.integer("first_serial", 0, minimum=0),
            last_serial=table.integer("last_serial", 99_999_999, minimum=0),
        )
    except ValueError as exc:
        raise table.error("", str(exc)) from exc
