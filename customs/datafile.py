"""Reading rule and configuration data files (TOML, CSV) with errors that name the file and the field.

`DataTable` wraps one parsed TOML table, or one CSV row, and remembers where it is (`zones[2].countries`,
`row 3: hs_code`), so every loader reports `ratecards/dhl_de.toml: zones[2].countries: unknown country 'XX'`
instead of a bare KeyError. Its getters check types, dates, enum values, countries and currencies; loaders
call `reject_unknown` so that a misspelt key is an error instead of a silently ignored rule.

Decimals: files that write amounts and rates bare (`percent = 3.5`) are parsed with `exact_decimals=True`,
which reads them as Decimal. Otherwise a bare decimal is a float (durations, probabilities) and `decimal()`
refuses it, so those files write amounts as strings (`price = "4.95"`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from customs.countries import validate_country
from customs.money import Money, validate_currency

T = TypeVar("T")
U = TypeVar("U")
E = TypeVar("E", bound=StrEnum)
N = TypeVar("N", int, float, Decimal)


class DataFileError(ValueError):
    """A data file is invalid: `<source>: <field>: <message>`."""

    def __init__(self, source: str, field: str, message: str) -> None:
        super().__init__(f"{source}: {field}: {message}" if field else f"{source}: {message}")
        self.source = source
        self.field = field
        self.message = message


def parse_toml(text: str, source: str, *, exact_decimals: bool = False) -> DataTable:
    """Parse TOML text into a DataTable; `source` names the file in errors."""
    try:
        data = tomllib.loads(text, parse_float=Decimal if exact_decimals else float)
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(source, "", f"not valid TOML: {exc}") from exc
    return DataTable(data, source)


def read_toml(
    path: Path | Traversable, source: str | None = None, *, exact_decimals: bool = False
) -> DataTable:
    """Read and parse a TOML file; `source` is the name used in errors (default: the path)."""
    name = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(name, "", "file not found") from None
    return parse_toml(text, name, exact_decimals=exact_decimals)


def csv_rows(text: str, source: str, columns: Collection[str]) -> Iterator[DataTable]:
    """The rows of a CSV with a header, as DataTables whose blank cells are absent fields.

    Lines starting with '#' are comments. Row numbers in errors count data rows (`row 2: hs_code: ...`).
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = tuple(reader.fieldnames or ())
    missing = [column for column in columns if column not in header]
    if missing:
        raise DataFileError(source, "header", f"missing column(s): {', '.join(missing)}")
    for number, row in enumerate(reader, start=1):
        if None in row:
            raise DataFileError(
                source, f"row {number}", f"more fields than the {len(header)} columns of the header"
            )
        cells = {key: value for key, value in row.items() if value is not None and value.strip()}
        table = DataTable(cells, source, f"row {number}", csv_row=True)
        table.reject_unknown(columns)
        yield table


class DataTable:
    """A TOML table or CSV row being validated. Getters raise DataFileError naming `source` and the field.

    A getter with a default returns it when the field is absent (or a blank string, for `text`); without one
    the field is required. CSV cells are text, so in a CSV row dates, whole numbers and flags are also read
    from their text form.
    """

    def __init__(
        self, data: Mapping[str, Any], source: str, path: str = "", *, csv_row: bool = False
    ) -> None:
        self.data = data
        self.source = source
        self.path = path
        self.csv_row = csv_row

    def field_path(self, key: str) -> str:
        if not self.path:
            return key
        return f"{self.path}: {key}" if self.csv_row else f"{self.path}.{key}"

    def error(self, key: str, message: str) -> DataFileError:
        return DataFileError(self.source, self.field_path(key) if key else self.path, message)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def field_names(self) -> list[str]:
        return list(self.data)

    def reject_unknown(self, allowed: Collection[str]) -> None:
        """Refuse keys the loader does not know: a typo must not silently drop a surcharge."""
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    def checked(self, key: str, value: T, check: Callable[[T], U]) -> U:
        """Apply a domain validator (validate_country...), reporting its ValueError at this field."""
        try:
            return check(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from exc

    def _value(self, key: str) -> Any:
        if key not in self.data:
            raise self.error(key, "missing")
        return self.data[key]

    def _at_least(self, key: str, value: N, minimum: N | None) -> N:
        if minimum is not None and value < minimum:
            raise self.error(
                key,
                f"must not be negative, got {value}"
                if minimum == 0
                else f"must be at least {minimum}, got {value}",
            )
        return value

    # --- scalars ------------------------------------------------------------------------------------------

    def text(self, key: str, default: str | None = None) -> str:
        """A string with surrounding blanks removed; a blank one counts as absent when there is a default."""
        if default is not None and key not in self.data:
            return default
        value = self._value(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, str) and default is not None:
            return default
        raise self.error(key, f"expected a non-empty string, got {value!r}")

    def flag(self, key: str, default: bool | None = None) -> bool:
        if default is not None and key not in self.data:
            return default
        value = self._value(key)
        if isinstance(value, bool):
            return value
        if self.csv_row and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.error(key, f"expected true or false, got {value!r}")

    def integer(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int:
        if default is not None and key not in self.data:
            return default
        value = self._value(key)
        if self.csv_row and isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        return self._at_least(key, value, minimum)

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None) -> float:
        """A float for durations and probabilities (never money: use `decimal`)."""
        if default is not None and key not in self.data:
            return default
        value = self._value(key)
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise self.error(key, f"expected a number, got {value!r}")
        return self._at_least(key, float(value), minimum)

    def decimal(self, key: str, default: Decimal | None = None, *, minimum: Decimal | None = None) -> Decimal:
        """A Decimal from a string ("4.95"), an integer or an exactly parsed decimal; floats are refused."""
        if default is not None and key not in self.data:
            return default
        value = self._value(key)
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise self.error(key, f'expected a decimal string such as "4.95" or an integer, got {value!r}')
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise self.error(key, f"expected a decimal number, got {value!r}") from None
        if not result.is_finite():
            raise self.error(key, f"expected a decimal number, got {value!r}")
        return self._at_least(key, result, minimum)

    def percent(self, key: str) -> Decimal:
        value = self.decimal(key, minimum=Decimal(0))
        if value > 100:
            raise self.error(key, f"a percentage must be at most 100, got {value}")
        return value

    @overload
    def date(self, key: str) -> dt.date: ...
    @overload
    def date(self, key: str, *, required: Literal[True]) -> dt.date: ...
    @overload
    def date(self, key: str, *, required: bool) -> dt.date | None: ...
    def date(self, key: str, *, required: bool = True) -> dt.date | None:
        if not required and key not in self.data:
            return None
        value = self._value(key)
        if self.csv_row and isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.error(key, f"expected a date such as 2026-01-01, got {value!r}")
        return value

    def choice(self, key: str, kind: type[E], default: E | None = None) -> E:
        """A member of the enum `kind`, named by its value."""
        return self._member(key, self.text(key, None if default is None else default.value), kind)

    def _member(self, key: str, value: str, kind: type[E]) -> E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise self.error(key, f"unknown value {value!r} (expected one of: {allowed})") from None

    def country(self, key: str) -> str:
        """An ISO 3166-1 alpha-2 country code, upper-cased."""
        return self.checked(key, self.text(key), validate_country)

    def currency(self, key: str) -> str:
        """An ISO 4217 currency code."""
        return self.checked(key, self.text(key), validate_currency)

    def money(self, key: str, currency: str) -> Money:
        """A non-negative amount in `currency` (the file names the currency once, not per amount)."""
        return Money(self.decimal(key, minimum=Decimal(0)), currency)

    def pattern(self, key: str) -> re.Pattern[str]:
        source = self.text(key)
        try:
            return re.compile(source)
        except re.error as exc:
            raise self.error(key, f"not a valid regular expression: {exc}") from exc

    # --- lists and tables ---------------------------------------------------------------------------------

    def strings(self, key: str, *, required: bool = False) -> list[str]:
        """Non-empty strings, stripped; absent gives [] unless required, which also means non-empty."""
        if not required and key not in self.data:
            return []
        value = self._value(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(key, f"expected a list of non-empty strings, got {value!r}")
        if required and not value:
            raise self.error(key, "must not be empty")
        return [v.strip() for v in value]

    def choices(self, key: str, kind: type[E]) -> tuple[E, ...]:
        """Members of the enum `kind`; an unknown one is reported at its index (`reasons[1]`)."""
        return tuple(
            self._member(f"{key}[{index}]", value, kind) for index, value in enumerate(self.strings(key))
        )

    def countries(self, key: str, *, required: bool = False) -> frozenset[str]:
        """ISO country codes; an unknown one is reported at its index (`countries[1]`)."""
        codes = self.strings(key, required=required)
        return frozenset(
            self.checked(f"{key}[{index}]", code, validate_country) for index, code in enumerate(codes)
        )

    @overload
    def table(self, key: str) -> DataTable: ...
    @overload
    def table(self, key: str, *, required: Literal[True]) -> DataTable: ...
    @overload
    def table(self, key: str, *, required: bool) -> DataTable | None: ...
    def table(self, key: str, *, required: bool = True) -> DataTable | None:
        if not required and key not in self.data:
            return None
        value = self._value(key)
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {value!r}")
        return DataTable(value, self.source, self.field_path(key))

    def required_table(self, key: str) -> DataTable:
        return self.table(key)

    def tables(self, key: str, *, required: bool = False) -> Iterator[DataTable]:
        """Each entry of an array of tables (`[[zones]]`), with its index in the path."""
        if not required and key not in self.data:
            return
        value = self._value(key)
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of tables, got {value!r}")
        if required and not value:
            raise self.error(key, "must not be empty")
        for index, entry in enumerate(value):
            path = f"{key}[{index}]"
            if not isinstance(entry, dict):
                raise self.error(path, f"expected a table, got {entry!r}")
            yield DataTable(entry, self.source, self.field_path(path))
