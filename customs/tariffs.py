"""Tariff rates and user fees, used to estimate what an import paid.

The rates are for estimates only: every row carries its source, the as-of date of the schedule it reflects and
whether the figure was checked against that source, and results built from them must say they are estimates.
Rates are keyed by market: the customs territory of the import country (customs.territories).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.resources import files

from customs.countries import validate_country
from customs.datafile import csv_rows, parse_toml
from customs.hs import normalize_hs_digits
from customs.money import Money

TARIFF_NUMBER_LENGTHS = (6, 8, 9, 10)
_RATE_PREFIX_LENGTHS = (4, 6, 8, 10)  # a duty row may cover a whole heading


def tariff_digits(code: str) -> str:
    """The digits of an entry line's tariff number: the 6-digit HS subheading or a national 8-, 9- (Japan's
    statistical code) or 10-digit number, validated by `customs.hs`."""
    return normalize_hs_digits(code, TARIFF_NUMBER_LENGTHS)


@dataclass(frozen=True, slots=True)
class DutyRate:
    """An ad valorem MFN duty rate for an HS heading or subheading (a code prefix) in one market."""

    market: str
    hs_prefix: str
    description: str
    rate_percent: Decimal
    source: str
    as_of: dt.date
    confirmed: bool
    note: str = ""

    @property
    def citation(self) -> str:
        return f"{self.source} as of {self.as_of.isoformat()}"


@dataclass(frozen=True, slots=True)
class ImportTaxRate:
    """The standard rate of the tax charged on imports (VAT, GST, consumption tax) in one country."""

    country: str
    tax_name: str
    rate_percent: Decimal
    source: str
    as_of: dt.date
    confirmed: bool
    note: str = ""

    @property
    def citation(self) -> str:
        return f"{self.source} as of {self.as_of.isoformat()}"


@dataclass(frozen=True, slots=True)
class ProcessingFeeSchedule:
    """A dated schedule of the US merchandise processing fee (19 CFR 24.23)."""

    market: str
    effective_from: dt.date
    effective_to: dt.date | None
    ad_valorem_percent: Decimal
    formal_minimum: Money
    formal_maximum: Money
    informal_entry_limit: Money  # highest entry value an informal entry may have (19 CFR 143.21(a))
    informal_fee: Money
    source: str
    confirmed: bool
    note: str = ""

    def covers(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def fee_for(self, entry_value: Money) -> Money:
        """MPF for an entry of this value: ad valorem within the minimum and maximum on formal entries, flat
        on informal ones."""
        if entry_value <= self.informal_entry_limit:
            return self.informal_fee
        ad_valorem = Money(entry_value.amount * self.ad_valorem_percent / 100, entry_value.currency)
        return (
            ad_valorem.rounded().min(self.formal_maximum)
            if ad_valorem >= self.formal_minimum
            else self.formal_minimum
        )


@dataclass(frozen=True, slots=True)
class TariffTable:
    duty_rates: tuple[DutyRate, ...]
    tax_rates: tuple[ImportTaxRate, ...]
    fee_schedules: tuple[ProcessingFeeSchedule, ...]

    def duty_rate(self, market: str, hs_code: str) -> DutyRate | None:
        """The row of `market` with the longest HS prefix matching `hs_code`, if any."""
        digits = tariff_digits(hs_code)
        best: DutyRate | None = None
        for row in self.duty_rates:
            matches = row.market == market and digits.startswith(row.hs_prefix)
            if matches and (best is None or len(row.hs_prefix) > len(best.hs_prefix)):
                best = row
        return best

    def import_tax_rate(self, country: str) -> ImportTaxRate | None:
        code = validate_country(country)
        return next((row for row in self.tax_rates if row.country == code), None)

    def processing_fees(self, market: str, on: dt.date) -> ProcessingFeeSchedule | None:
        return next((s for s in self.fee_schedules if s.market == market and s.covers(on)), None)


_MARKETS = frozenset({"EU", "GB", "US", "CA", "AU", "JP"})
_DUTY_COLUMNS = (
    "market",
    "hs_code",
    "description",
    "duty_rate_percent",
    "source",
    "as_of",
    "confirmed",
    "note",
)
_TAX_COLUMNS = ("country", "tax_name", "rate_percent", "source", "as_of", "confirmed", "note")


def parse_duty_rates(text: str, file: str) -> tuple[DutyRate, ...]:
    rows: list[DutyRate] = []
    seen: set[tuple[str, str]] = set()
    for record in csv_rows(text, file, _DUTY_COLUMNS):
        market = record.text("market")
        if market not in _MARKETS:
            raise record.error(
                "market", f"unknown market {market!r} (expected one of: {', '.join(sorted(_MARKETS))})"
            )
        try:
            prefix = normalize_hs_digits(record.text("hs_code"), _RATE_PREFIX_LENGTHS)
        except ValueError as exc:
            raise record.error("hs_code", str(exc)) from None
        if (market, prefix) in seen:
            raise record.error("hs_code", f"duplicate row for {market} {prefix}")
        seen.add((market, prefix))
        rows.append(
            DutyRate(
                market=market,
                hs_prefix=prefix,
                description=record.text("description"),
                rate_percent=record.percent("duty_rate_percent"),
                source=record.text("source"),
                as_of=record.date("as_of"),
                confirmed=record.flag("confirmed", False),
                note=record.text("note", ""),
            )
        )
    return tuple(rows)


def parse_import_tax_rates(text: str, file: str) -> tuple[ImportTaxRate, ...]:
    rows: list[ImportTaxRate] = []
    for record in csv_rows(text, file, _TAX_COLUMNS):
        country = record.country("country")
        if any(row.country == country for row in rows):
            raise record.error("country", f"duplicate row for {country}")
        rows.append(
            ImportTaxRate(
                country=country,
                tax_name=record.text("tax_name"),
                rate_percent=record.percent("rate_percent"),
                source=record.text("source"),
                as_of=record.date("as_of"),
                confirmed=record.flag("confirmed", False),
                note=record.text("note", ""),
            )
        )
    return tuple(rows)


def parse_fee_schedules(text: str, file: str) -> tuple[ProcessingFeeSchedule, ...]:
    root = parse_toml(text, file, exact_decimals=True)
    root.reject_unknown({"market", "currency", "schedules"})
    market = root.text("market")
    currency = root.currency("currency")
    schedules: list[ProcessingFeeSchedule] = []
    for table in root.tables("schedules"):
        table.reject_unknown(
            {
                "effective_from",
                "effective_to",
                "ad_valorem_percent",
                "formal_minimum",
                "formal_maximum",
                "informal_entry_limit",
                "informal_fee",
                "source",
                "confirmed",
                "note",
            }
        )
        schedule = ProcessingFeeSchedule(
            market=market,
            effective_from=table.date("effective_from"),
            effective_to=table.date("effective_to", required=False),
            ad_valorem_percent=table.percent("ad_valorem_percent"),
            formal_minimum=table.money("formal_minimum", currency),
            formal_maximum=table.money("formal_maximum", currency),
            informal_entry_limit=table.money("informal_entry_limit", currency),
            informal_fee=table.money("informal_fee", currency),
            source=table.text("source"),
            confirmed=table.flag("confirmed", False),
            note=table.text("note", ""),
        )
        if schedule.effective_to is not None and schedule.effective_to < schedule.effective_from:
            raise table.error("effective_to", "is before effective_from")
        if schedule.formal_maximum < schedule.formal_minimum:
            raise table.error("formal_maximum", "is below formal_minimum")
        if any(_overlap(schedule, other) for other in schedules):
            raise table.error("effective_from", "overlaps another schedule")
        schedules.append(schedule)
    return tuple(schedules)


def _overlap(a: ProcessingFeeSchedule, b: ProcessingFeeSchedule) -> bool:
    a_end = a.effective_to or dt.date.max
    b_end = b.effective_to or dt.date.max
    return a.effective_from <= b_end and b.effective_from <= a_end


def _data_text(package: str, name: str) -> str:
    return files(package).joinpath(name).read_text(encoding="utf-8")


@cache
def load_tariff_table() -> TariffTable:
    """The packaged rate tables (customs/data/tariffs/)."""
    package = "customs.data.tariffs"
    return TariffTable(
        duty_rates=parse_duty_rates(_data_text(package, "duty_rates.csv"), "tariffs/duty_rates.csv"),
        tax_rates=parse_import_tax_rates(
            _data_text(package, "import_tax_rates.csv"), "tariffs/import_tax_rates.csv"
        ),
        fee_schedules=parse_fee_schedules(
            _data_text(package, "us_processing_fees.toml"), "tariffs/us_processing_fees.toml"
        ),
    )
