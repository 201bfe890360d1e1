"""The history simulator's profiles (service/insights/data/simulation_profiles.toml), validated at load.

Errors name the file and the field, e.g. `simulation_profiles.toml: carriers[2].quote.error_rate: must be
between 0 and 1`.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TypeVar

from carriers.tracking import ExceptionReason
from customs.datafile import DataTable, read_toml
from customs.goods import ReturnReason
from customs.money import Money

T = TypeVar("T")

CUSTOMS_EXCEPTIONS = (
    ExceptionReason.CUSTOMS_DELAY,
    ExceptionReason.CUSTOMS_INSPECTION,
    ExceptionReason.DUTIES_UNPAID,
)
TRANSIT_EXCEPTIONS = (
    ExceptionReason.ADDRESS_PROBLEM,
    ExceptionReason.DAMAGED,
    ExceptionReason.LOST,
    ExceptionReason.OTHER,
)


@dataclass(frozen=True, slots=True)
class LogNormal:
    median: float
    sigma: float

    def draw(self, rng: random.Random) -> float:
        return self.median * math.exp(rng.gauss(0.0, self.sigma))


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    never_sent: float
    voided_when_never_sent: float
    second_unit: float
    max_lines: int
    quote_lead: dt.timedelta


@dataclass(frozen=True, slots=True)
class ParcelProfile:
    packaging_grams: int
    length_mm: int
    width_mm: int
    height_mm: int


@dataclass(frozen=True, slots=True)
class CountryProfile:
    country: str
    share: float
    locality: str
    postal_code: str
    street: str
    administrative_area: str = ""


@dataclass(frozen=True, slots=True)
class SkuProfile:
    sku: str
    description: str
    hs_code: str
    origin_country: str
    unit_value: Money
    unit_weight_grams: int
    share: float
    reasons: Mapping[ReturnReason, float]


@dataclass(frozen=True, slots=True)
class QuoteBehaviour:
    error_rate: float
    timeout_rate: float
    latency_ms: LogNormal


@dataclass(frozen=True, slots=True)
class CarrierProfile:
    account_id: str
    choice: float
    services: Mapping[str, float]  # empty: the cheapest service only
    drop_off_days: LogNormal
    transit_factor: LogNormal
    exceptions: Mapping[ExceptionReason, float]
    exception_delay_days: LogNormal
    customs: Mapping[ExceptionReason, float]
    customs_hold_days: LogNormal
    returned_to_sender: float
    quote: QuoteBehaviour


@dataclass(frozen=True, slots=True)
class SimulationProfiles:
    source: str
    customers: CustomerProfile
    parcel: ParcelProfile
    countries: tuple[CountryProfile, ...]
    skus: tuple[SkuProfile, ...]
    carriers: Mapping[str, CarrierProfile]


def pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    """One of the items, drawn by weight."""
    return rng.choices([item for item, _ in weighted], weights=[weight for _, weight in weighted])[0]


def default_profiles_file() -> Traversable:
    return files("service.insights.data").joinpath("simulation_profiles.toml")


def load_profiles(path: Path | Traversable | None = None) -> SimulationProfiles:
    source = None if path else "insights/data/simulation_profiles.toml"
    return parse_profiles(read_toml(path or default_profiles_file(), source))


def parse_profiles(document: DataTable) -> SimulationProfiles:
    document.reject_unknown(
        {"source", "effective_from", "customers", "parcel", "countries", "skus", "carriers"}
    )
    document.date("effective_from")
    carriers = [_carrier(entry) for entry in document.tables("carriers", required=True)]
    accounts = [carrier.account_id for carrier in carriers]
    if len(set(accounts)) != len(accounts):
        raise document.error("carriers", "an account has two profiles")
    return SimulationProfiles(
        source=document.text("source"),
        customers=_customers(document.required_table("customers")),
        parcel=_parcel(document.required_table("parcel")),
        countries=tuple(_country(entry) for entry in document.tables("countries", required=True)),
        skus=tuple(_sku(entry) for entry in document.tables("skus", required=True)),
        carriers={carrier.account_id: carrier for carrier in carriers},
    )


def _probability(table: DataTable, key: str) -> float:
    value = table.number(key, minimum=0.0)
    if value > 1:
        raise table.error(key, "must be between 0 and 1")
    return value


def _lognormal(table: DataTable, key: str) -> LogNormal:
    entry = table.table(key)
    entry.reject_unknown({"median", "sigma"})
    median = entry.number("median", minimum=0.0)
    if median <= 0:
        raise entry.error("median", "must be greater than zero")
    return LogNormal(median, entry.number("sigma", minimum=0.0))


def _weights(table: DataTable, key: str) -> dict[str, float]:
    entry = table.table(key)
    weights = {name: entry.number(name, minimum=0.0) for name in entry.field_names()}
    if not any(weights.values()):
        raise table.error(key, "needs at least one weight above zero")
    return weights


def _customers(table: DataTable) -> CustomerProfile:
    table.reject_unknown(
        {"never_sent", "voided_when_never_sent", "second_unit", "max_lines", "quote_lead_minutes"}
    )
    return CustomerProfile(
        never_sent=_probability(table, "never_sent"),
        voided_when_never_sent=_probability(table, "voided_when_never_sent"),
        second_unit=_probability(table, "second_unit"),
        max_lines=table.integer("max_lines", minimum=1),
        quote_lead=dt.timedelta(minutes=table.number("quote_lead_minutes", minimum=0.0)),
    )


def _parcel(table: DataTable) -> ParcelProfile:
    table.reject_unknown({"packaging_grams", "length_mm", "width_mm", "height_mm"})
    return ParcelProfile(
        packaging_grams=table.integer("packaging_grams", minimum=0),
        length_mm=table.integer("length_mm", minimum=1),
        width_mm=table.integer("width_mm", minimum=1),
        height_mm=table.integer("height_mm", minimum=1),
    )


def _country(table: DataTable) -> CountryProfile:
    table.reject_unknown({"country", "share", "locality", "postal_code", "street", "administrative_area"})
    return CountryProfile(
        country=table.country("country"),
        share=table.number("share", minimum=0.0),
        locality=table.text("locality"),
        postal_code=table.text("postal_code"),
        street=table.text("street"),
        administrative_area=table.text("administrative_area", ""),
    )


def _sku(table: DataTable) -> SkuProfile:
    table.reject_unknown(
        {
            "sku",
            "description",
            "hs_code",
            "origin_country",
            "unit_value",
            "currency",
            "unit_weight_grams",
            "share",
            "reasons",
        }
    )
    reasons_table = table.table("reasons")
    reasons = {
        reasons_table.checked(name, name, ReturnReason): weight
        for name, weight in _weights(table, "reasons").items()
    }
    return SkuProfile(
        sku=table.text("sku"),
        description=table.text("description"),
        hs_code=table.text("hs_code"),
        origin_country=table.country("origin_country"),
        unit_value=table.money("unit_value", table.currency("currency")),
        unit_weight_grams=table.integer("unit_weight_grams", minimum=1),
        share=table.number("share", minimum=0.0),
        reasons=reasons,
    )


def _reason_probabilities(
    table: DataTable, key: str, allowed: Sequence[ExceptionReason]
) -> dict[ExceptionReason, float]:
    entry = table.table(key)
    entry.reject_unknown({reason.value for reason in allowed})
    return {reason: _probability(entry, reason.value) for reason in allowed if reason.value in entry}


def _carrier(table: DataTable) -> CarrierProfile:
    table.reject_unknown(
        {
            "account",
            "choice",
            "services",
            "drop_off_days",
            "transit_factor",
            "exceptions",
            "exception_delay_days",
            "customs",
            "customs_hold_days",
            "returned_to_sender",
            "quote",
        }
    )
    quote = table.table("quote")
    quote.reject_unknown({"error_rate", "timeout_rate", "latency_ms"})
    return CarrierProfile(
        account_id=table.text("account"),
        choice=table.number("choice", minimum=0.0),
        services=_weights(table, "services") if "services" in table else {},
        drop_off_days=_lognormal(table, "drop_off_days"),
        transit_factor=_lognormal(table, "transit_factor"),
        exceptions=_reason_probabilities(table, "exceptions", TRANSIT_EXCEPTIONS),
        exception_delay_days=_lognormal(table, "exception_delay_days"),
        customs=_reason_probabilities(table, "customs", CUSTOMS_EXCEPTIONS),
        customs_hold_days=_lognormal(table, "customs_hold_days"),
        returned_to_sender=_probability(table, "returned_to_sender"),
        quote=QuoteBehaviour(
            error_rate=_probability(quote, "error_rate"),
            timeout_rate=_probability(quote, "timeout_rate"),
            latency_ms=_lognormal(quote, "latency_ms"),
        ),
    )
