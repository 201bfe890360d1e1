"""The FX reference table display prices are converted with (service/defaults/fx_rates.toml)."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path

from customs.datafile import DataTable, read_toml
from customs.money import FxTable, validate_currency


def load_fx_table(path: Path | Traversable, source: str | None = None) -> FxTable:
    return parse_fx_table(read_toml(path, source))


def parse_fx_table(document: DataTable) -> FxTable:
    document.reject_unknown({"base", "as_of", "source", "rates"})
    as_of = document.date("as_of")
    assert as_of is not None
    rates_table = document.required_table("rates")
    rates = {}
    for code in rates_table.field_names():
        rates_table.checked(code, code, validate_currency)
        rates[code] = rates_table.decimal(code)
        if rates[code] <= 0:
            raise rates_table.error(code, "must be positive")
    return FxTable(
        base=document.checked("base", document.text("base"), validate_currency),
        as_of=as_of,
        rates=rates,
        source=document.text("source"),
    )
