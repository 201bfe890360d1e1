"""Typed reads from a parsed TOML rule file, each failure naming the file and the field."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from importlib.resources import files


class RuleFileError(ValueError):
    """A packaged rule file is malformed: `customs/data/<file>: <field>: <problem>`."""


class RuleTable:
    """One TOML table of a rule file, with the path that locates it in error messages."""

    def __init__(self, file: str, where: str, data: Mapping[str, object]) -> None:
        self.file = file
        self.where = where
        self.data = data

    @classmethod
    def load(cls, name: str) -> RuleTable:
        """Read customs/data/<name> from the installed package."""
        file = f"customs/data/{name}"
        try:
            data = tomllib.loads(files("customs.data").joinpath(name).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RuleFileError(f"{file}: not valid TOML: {exc}") from exc
        return cls(file, "", data)

    @classmethod
    def parse(cls, file: str, text: str) -> RuleTable:
        try:
            return cls(file, "", tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise RuleFileError(f"{file}: not valid TOML: {exc}") from exc

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, message: str) -> RuleFileError:
        return RuleFileError(f"{self.file}: {self._path(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, *, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def choice(self, key: str, allowed: tuple[str, ...], *, default: str | None = None) -> str:
        value = self.text(key, default=default)
        if value not in allowed:
            raise self.error(key, f"expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def integer(self, key: str, *, minimum: int = 0) -> int:
        value = self.data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.error(key, f"expected an integer of at least {minimum}, got {value!r}")
        return value

    def date(self, key: str) -> dt.date:
        value = self.data.get(key)
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise self.error(key, f"expected a date (YYYY-MM-DD), got {value!r}")
        return value

    def optional_date(self, key: str) -> dt.date | None:
        return self.date(key) if key in self.data else None

    def strings(self, key: str, *, default: list[str] | None = None) -> tuple[str, ...]:
        value = self.data.get(key, default)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise self.error(key, f"expected a non-empty list of strings, got {value!r}")
        return tuple(v.strip() for v in value)

    def pattern(self, key: str) -> re.Pattern[str]:
        source = self.text(key)
        try:
            return re.compile(source)
        except re.error as exc:
            raise self.error(key, f"not a valid regular expression: {exc}") from exc

    def table(self, key: str) -> RuleTable:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise self.error(key, "expected a table")
        return RuleTable(self.file, self._path(key), value)

    def tables(self, key: str, *, required: bool = True) -> list[RuleTable]:
        value = self.data.get(key, [] if not required else None)
        if not isinstance(value, list) or (required and not value):
            raise self.error(key, "expected a non-empty array of tables")
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise RuleFileError(f"{self.file}: {self._path(key)}[{index}]: expected a table")
            result.append(RuleTable(self.file, f"{self._path(key)}[{index}]", item))
        return result

    def subtables(self, key: str) -> dict[str, RuleTable]:
        """A table of tables keyed by name, such as [territories.EU]."""
        outer = self.table(key)
        return {name: outer.table(name) for name in outer.data}
