"""Reading configuration and rule data files (TOML) with errors that name the file and the field.

`DataTable` wraps one parsed TOML table and remembers its path (`zones[2].countries`), so every loader
reports `ratecards/dhl_de.toml: zones[2].countries: unknown country 'XX'` instead of a bare KeyError.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class DataFileError(ValueError):
    def __init__(self, source: str, field: str, message: str) -> None:
        super().__init__(f"{source}: {field}: {message}" if field else f"{source}: {message}")
        self.source = source
        self.field = field
        self.message = message


def read_toml(path: Path | Traversable, source: str | None = None) -> DataTable:
    """Parse a TOML file into a DataTable; `source` is the name used in errors (default: the path)."""
    name = source or str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(name, "", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(name, "", f"not valid TOML: {exc}") from exc
    return DataTable(data, name)


class DataTable:
    """A TOML table being validated. Getters raise DataFileError naming `source` and the field path."""

    def __init__(self, data: Mapping[str, Any], source: str, path: str = "") -> None:
        self.data = data
        self.source = source
        self.path = path

    def field_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> DataFileError:
        return DataFileError(self.source, self.field_path(key) if key else self.path, message)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def field_names(self) -> list[str]:
        return list(self.data)

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise self.error(key, "missing")
            return None
        return self.data[key]

    def text(self, key: str, default: str | None = None) -> str:
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {value!r}")
        return value

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def integer(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int:
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        return value

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None) -> float:
        """A float for durations and probabilities (never money: use `decimal`)."""
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        return float(value)

    def decimal(self, key: str, default: Decimal | None = None, *, minimum: Decimal | None = None) -> Decimal:
        """A Decimal from a string ("4.95") or an integer; floats are refused (binary rounding)."""
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(key, f'expected a decimal string such as "4.95" or an integer, got {value!r}')
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise self.error(key, f"not a decimal number: {value!r}") from None
        if not result.is_finite():
            raise self.error(key, f"not a finite number: {value!r}")
        if minimum is not None and result < minimum:
            raise self.error(key, f"must be at least {minimum}, got {result}")
        return result

    def date(self, key: str, *, required: bool = True) -> dt.date | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.error(key, f"expected a date such as 2026-01-01, got {value!r}")
        return value

    def strings(self, key: str, *, required: bool = False) -> list[str]:
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"expected a list of strings, got {value!r}")
        return list(value)

    def table(self, key: str, *, required: bool = True) -> DataTable | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, "expected a table")
        return DataTable(value, self.source, self.field_path(key))

    def required_table(self, key: str) -> DataTable:
        table = self.table(key, required=True)
        assert table is not None
        return table

    def tables(self, key: str, *, required: bool = False) -> Iterator[DataTable]:
        """Each entry of an array of tables (`[[zones]]`), with its index in the path."""
        value = self._get(key, required)
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, "expected an array of tables")
        if required and not value:
            raise self.error(key, "must not be empty")
        for index, entry in enumerate(value):
            yield DataTable(entry, self.source, f"{self.field_path(key)}[{index}]")

    def checked(self, key: str, value: T, check: Callable[[T], U]) -> U:
        """Apply a domain validator (validate_country...), reporting its ValueError at this field."""
        try:
            return check(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from exc

    def reject_unknown(self, allowed: set[str] | frozenset[str]) -> None:
        """Refuse keys the loader does not know: a typo must not silently drop a surcharge."""
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown field (expected one of: {', '.join(sorted(allowed))})")
