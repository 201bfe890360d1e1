"""Customs territories, tariff rates and user fees, used to estimate what an import paid.

The rates are for estimates only: every row carries its source, the as-of date of the schedule it reflects and
whether the figure was checked against that source, and results built from them must say they are estimates.

This module also holds the small reader the customs rule loaders share (tariffs, de minimis, reclaim regimes),
so that every data error names the file and the field: `reclaim/us_1313j1.toml: refunds[1].percent: ...`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tomllib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import TypeVar

from customs.countries import UnknownCountry, validate_country
from customs.hs import normalize_hs_digits
from customs.money import Money, UnknownCurrency, validate_currency

E = TypeVar("E", bound=StrEnum)

TARIFF_NUMBER_LENGTHS = (6, 8, 9, 10)
_RATE_PREFIX_LENGTHS = (4, 6, 8, 10)  # a duty row may cover a whole heading


class RuleDataError(ValueError):
    """A packaged rule or rate file is invalid; the message names the file and the field."""

    def __init__(self, file: str, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")
        self.file = file
        self.field = field
        self.message = message


class RuleRecord:
    """One table of a rule file (a TOML table or a CSV row) being validated field by field.

    TOML values arrive typed (dates, Decimals when parsed with `parse_rule_toml`); CSV values arrive as text,
    so every getter also accepts the text form.
    """

    def __init__(self, data: Mapping[str, object], file: str, path: str = "", joiner: str = ".") -> None:
        self._data = data
        self.file = file
        self.path = path
        self.joiner = joiner  # between the path and a field: "." in TOML tables, ": " after a CSV row

    def field_path(self, key: str) -> str:
        return f"{self.path}{self.joiner}{key}" if self.path else key

    def error(self, key: str, message: str) -> RuleDataError:
        return RuleDataError(self.file, self.field_path(key) if key else self.path, message)

    def has(self, key: str) -> bool:
        value = self._data.get(key)
        return value is not None and value != ""

    def check_keys(self, allowed: Collection[str]) -> None:
        """Reject unknown fields, so a misspelt key is an error instead of a silently ignored rule."""
        for key in self._data:
            if key not in allowed:
                raise self.error(key, f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    def _raw(self, key: str) -> object:
        if not self.has(key):
            raise self.error(key, "missing")
        return self._data[key]

    def text(self, key: str) -> str:
        value = self._raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def optional_text(self, key: str, default: str = "") -> str:
        return self.text(key) if self.has(key) else default

    def day(self, key: str) -> dt.date:
        value = self._raw(key)
        if isinstance(value, dt.datetime):
            raise self.error(key, f"expected a date without time, got {value!r}")
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.error(key, f"expected a date YYYY-MM-DD, got {value!r}")

    def optional_day(self, key: str) -> dt.date | None:
        return self.day(key) if self.has(key) else None

    def decimal(self, key: str) -> Decimal:
        value = self._raw(key)
        if isinstance(value, bool | float):
            raise self.error(key, f"expected a decimal number, got {value!r}")
        if isinstance(value, int | Decimal | str):
            try:
                result = Decimal(value.strip() if isinstance(value, str) else value)
            except InvalidOperation:
                raise self.error(key, f"expected a decimal number, got {value!r}") from None
            if result.is_finite():
                return result
        raise self.error(key, f"expected a decimal number, got {value!r}")

    def optional_decimal(self, key: str) -> Decimal | None:
        return self.decimal(key) if self.has(key) else None

    def non_negative(self, key: str) -> Decimal:
        value = self.decimal(key)
        if value < 0:
            raise self.error(key, f"must not be negative, got {value}")
        return value

    def percent(self, key: str) -> Decimal:
        value = self.non_negative(key)
        if value > 100:
            raise self.error(key, f"a percentage must be at most 100, got {value}")
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        if not self.has(key) and default is not None:
            return default
        value = self._raw(key)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        if not self.has(key):
            return default
        value = self._data[key]
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.error(key, f"expected true or false, got {value!r}")

    def optional_flag(self, key: str) -> bool | None:
        return self.flag(key, False) if self.has(key) else None

    def texts(self, key: str) -> tuple[str, ...]:
        if not self.has(key):
            return ()
        value = self._data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(key, f"expected a list of non-empty strings, got {value!r}")
        return tuple(v.strip() for v in value)

    def choice(self, key: str, kind: type[E]) -> E:
        value = self.text(key)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise self.error(key, f"unknown value {value!r} (expected one of: {allowed})") from None

    def choices(self, key: str, kind: type[E]) -> tuple[E, ...]:
        result: list[E] = []
        for index, value in enumerate(self.texts(key)):
            try:
                result.append(kind(value))
            except ValueError:
                allowed = ", ".join(member.value for member in kind)
                raise self.error(
                    f"{key}[{index}]", f"unknown value {value!r} (expected one of: {allowed})"
                ) from None
        return tuple(result)

    def country(self, key: str) -> str:
        try:
            return validate_country(self.text(key))
        except UnknownCountry as exc:
            raise self.error(key, str(exc)) from None

    def countries(self, key: str) -> frozenset[str]:
        codes: set[str] = set()
        for index, code in enumerate(self.texts(key)):
            try:
                codes.add(validate_country(code))
            except UnknownCountry as exc:
                raise self.error(f"{key}[{index}]", str(exc)) from None
        return frozenset(codes)

    def currency(self, key: str) -> str:
        try:
            return validate_currency(self.text(key))
        except UnknownCurrency as exc:
            raise self.error(key, str(exc)) from None

    def money(self, key: str, currency: str) -> Money:
        amount = self.non_negative(key)
        return Money(amount, currency)

    def optional_money(self, key: str, currency: str) -> Money | None:
        return self.money(key, currency) if self.has(key) else None

    def record(self, key: str) -> RuleRecord:
        value = self._raw(key)
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a table, got {value!r}")
        return RuleRecord(value, self.file, self.field_path(key))

    def optional_record(self, key: str) -> RuleRecord | None:
        return self.record(key) if self.has(key) else None

    def records(self, key: str) -> tuple[RuleRecord, ...]:
        if not self.has(key):
            return ()
        value = self._data[key]
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            raise self.error(key, "expected an array of tables")
        return tuple(
            RuleRecord(item, self.file, f"{self.field_path(key)}[{index}]")
            for index, item in enumerate(value)
        )


def parse_rule_toml(text: str, file: str) -> RuleRecord:
    """Parse TOML with exact decimals (never floats) into a RuleRecord named after `file`."""
    try:
        return RuleRecord(tomllib.loads(text, parse_float=Decimal), file)
    except tomllib.TOMLDecodeError as exc:
        raise RuleDataError(file, "", f"not valid TOML: {exc}") from exc


def csv_records(text: str, file: str, columns: Collection[str]) -> Iterator[RuleRecord]:
    """Rows of a CSV with a header; comment lines start with '#'. Row numbers in errors count data rows."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = tuple(reader.fieldnames or ())
    missing = [column for column in columns if column not in header]
    if missing:
        raise RuleDataError(file, "header", f"missing column(s): {', '.join(missing)}")
    for number, row in enumerate(reader, start=1):
        if None in row:
            raise RuleDataError(
                file, f"row {number}", f"more fields than the {len(header)} columns of the header"
            )
        record = RuleRecord(dict(row), file, f"row {number}", joiner=": ")
        record.check_keys(columns)
        yield record


def tariff_digits(code: str) -> str:
    """The digits of an entry line's tariff number: the 6-digit HS subheading or a national 8-, 9- (Japan's
    statistical code) or 10-digit number, validated by `customs.hs`."""
    return normalize_hs_digits(code, TARIFF_NUMBER_LENGTHS)


# --- Customs territories ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TerritoryMembership:
    country: str
    member_from: dt.date
    member_to: dt.date | None

    def covers(self, on: dt.date) -> bool:
        return self.member_from <= on and (self.member_to is None or on <= self.member_to)


@dataclass(frozen=True, slots=True)
class CustomsTerritory:
    """A customs union whose members share one tariff and one set of customs rules (the EU)."""

    id: str
    name: str
    source: str
    members: tuple[TerritoryMembership, ...]


@cache
def customs_territories() -> tuple[CustomsTerritory, ...]:
    file = "tariffs/territories.toml"
    root = parse_rule_toml(_data_text("customs.data.tariffs", "territories.toml"), file)
    root.check_keys({"territories"})
    territories: list[CustomsTerritory] = []
    for table in root.records("territories"):
        table.check_keys({"id", "name", "source", "members"})
        members: list[TerritoryMembership] = []
        for member in table.records("members"):
            member.check_keys({"country", "from", "to"})
            members.append(
                TerritoryMembership(member.country("country"), member.day("from"), member.optional_day("to"))
            )
        for index, joined in enumerate(members):
            clash = next((t.id for t in territories for m in t.members if _same_time(m, joined)), None)
            if clash is not None:
                raise table.error(
                    f"members[{index}]", f"{joined.country} is also in {clash} at the same time"
                )
        territories.append(
            CustomsTerritory(table.text("id"), table.text("name"), table.text("source"), tuple(members))
        )
    return tuple(territories)


def _same_time(a: TerritoryMembership, b: TerritoryMembership) -> bool:
    return (
        a.country == b.country
        and a.member_from <= (b.member_to or dt.date.max)
        and b.member_from <= (a.member_to or dt.date.max)
    )


def customs_territory(country: str, on: dt.date) -> str:
    """The market whose customs rules apply to an import into `country` on `on`: 'EU' for members, else the
    country itself (so GB is in 'EU' until 2020-12-31 and 'GB' from 2021-01-01)."""
    code = validate_country(country)
    for territory in customs_territories():
        if any(member.country == code and member.covers(on) for member in territory.members):
            return territory.id
    return code


# --- Rate tables -------------------------------------------------------------------------------------------


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
    for record in csv_records(text, file, _DUTY_COLUMNS):
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
                as_of=record.day("as_of"),
                confirmed=record.flag("confirmed", False),
                note=record.optional_text("note"),
            )
        )
    return tuple(rows)


def parse_import_tax_rates(text: str, file: str) -> tuple[ImportTaxRate, ...]:
    rows: list[ImportTaxRate] = []
    for record in csv_records(text, file, _TAX_COLUMNS):
        country = record.country("country")
        if any(row.country == country for row in rows):
            raise record.error("country", f"duplicate row for {country}")
        rows.append(
            ImportTaxRate(
                country=country,
                tax_name=record.text("tax_name"),
                rate_percent=record.percent("rate_percent"),
                source=record.text("source"),
                as_of=record.day("as_of"),
                confirmed=record.flag("confirmed", False),
                note=record.optional_text("note"),
            )
        )
    return tuple(rows)


def parse_fee_schedules(text: str, file: str) -> tuple[ProcessingFeeSchedule, ...]:
    root = parse_rule_toml(text, file)
    root.check_keys({"market", "currency", "schedules"})
    market = root.text("market")
    currency = root.currency("currency")
    schedules: list[ProcessingFeeSchedule] = []
    for table in root.records("schedules"):
        table.check_keys(
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
            effective_from=table.day("effective_from"),
            effective_to=table.optional_day("effective_to"),
            ad_valorem_percent=table.percent("ad_valorem_percent"),
            formal_minimum=table.money("formal_minimum", currency),
            formal_maximum=table.money("formal_maximum", currency),
            informal_entry_limit=table.money("informal_entry_limit", currency),
            informal_fee=table.money("informal_fee", currency),
            source=table.text("source"),
            confirmed=table.flag("confirmed", False),
            note=table.optional_text("note"),
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
