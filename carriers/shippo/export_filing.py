"""The EEL/PFC legend of a return leaving the US (no EEI filed, and why), from export_filing.toml."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from carriers.datafile import read_toml
from customs.countries import validate_country
from customs.money import Money

_FIELDS = frozenset(
    {
        "source",
        "effective_from",
        "reviewed",
        "exporting_country",
        "threshold_usd",
        "below_threshold",
        "destination_exemptions",
    }
)


class ExportFilingRequired(ValueError):
    """A line is worth more than the threshold: an EEI filing (AES ITN) is needed, which we cannot make."""

    def __init__(self, schedule_b: str, value: Money, threshold: Money) -> None:
        super().__init__(
            f"goods under {schedule_b or 'one code'} are worth {value}, over the {threshold} at which an "
            "export filing (AES ITN) becomes mandatory for leaving the US"
        )
        self.schedule_b = schedule_b
        self.value = value


@dataclass(frozen=True, slots=True)
class ExportExemptions:
    exporting_country: str
    threshold: Money
    below_threshold: str
    by_destination: dict[str, str]

    def legend(self, origin: str, destination: str, lines: Iterable[tuple[str, Money]]) -> str | None:
        """The EEL/PFC code for a return, None when it does not leave the exporting country.

        `lines` are (Schedule B / HS number, value in USD); values under the same number add up.
        """
        if origin != self.exporting_country or destination == origin:
            return None
        exempt = self.by_destination.get(destination)
        if exempt is not None:
            return exempt
        per_code: dict[str, Money] = {}
        for code, value in lines:
            per_code[code] = per_code.get(code, Money.zero(value.currency)) + value
        for code, value in per_code.items():
            if value > self.threshold:
                raise ExportFilingRequired(code, value, self.threshold)
        return self.below_threshold


def load_export_exemptions(path: Path | Traversable, source: str | None = None) -> ExportExemptions:
    document = read_toml(path, source)
    document.reject_unknown(_FIELDS)
    document.text("source")
    document.date("effective_from")
    by_destination: dict[str, str] = {}
    for entry in document.tables("destination_exemptions"):
        entry.reject_unknown(frozenset({"countries", "code"}))
        code = entry.text("code")
        for country in entry.strings("countries", required=True):
            by_destination[entry.checked("countries", country, validate_country)] = code
    return ExportExemptions(
        exporting_country=document.checked(
            "exporting_country", document.text("exporting_country"), validate_country
        ),
        threshold=Money(document.decimal("threshold_usd", minimum=Decimal(0)), "USD"),
        below_threshold=document.text("below_threshold"),
        by_destination=by_destination,
    )


@cache
def export_exemptions() -> ExportExemptions:
    return load_export_exemptions(
        files("carriers.shippo").joinpath("export_filing.toml"), "carriers/shippo/export_filing.toml"
    )
