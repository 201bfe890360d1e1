"""The Shippo carrier token of a tracking number, from tracking_numbers.toml (first matching pattern)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from customs.datafile import read_toml


@dataclass(frozen=True, slots=True)
class TrackingNumberPatterns:
    patterns: tuple[tuple[re.Pattern[str], str], ...]

    def carrier_for(self, tracking_number: str) -> str | None:
        number = tracking_number.strip().upper()
        return next((carrier for pattern, carrier in self.patterns if pattern.fullmatch(number)), None)


def load_tracking_number_patterns(
    path: Path | Traversable, source: str | None = None
) -> TrackingNumberPatterns:
    document = read_toml(path, source)
    document.reject_unknown(frozenset({"source", "effective_from", "reviewed", "patterns"}))
    document.text("source")
    document.date("effective_from")
    patterns: list[tuple[re.Pattern[str], str]] = []
    for entry in document.tables("patterns", required=True):
        entry.reject_unknown(frozenset({"carrier", "pattern"}))
        try:
            compiled = re.compile(entry.text("pattern"))
        except re.error as exc:
            raise entry.error("pattern", f"not a regular expression: {exc}") from exc
        patterns.append((compiled, entry.text("carrier")))
    return TrackingNumberPatterns(tuple(patterns))


@cache
def tracking_number_patterns() -> TrackingNumberPatterns:
    return load_tracking_number_patterns(
        files("carriers.shippo").joinpath("tracking_numbers.toml"), "carriers/shippo/tracking_numbers.toml"
    )
