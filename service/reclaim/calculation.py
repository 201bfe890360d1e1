"""The duty reclaim calculator of a running service: the packaged rules (regimes, tariff tables, de minimis)
loaded once at start-up, and the service's FX table for display amounts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from customs.deminimis import DeMinimisBook, load_de_minimis
from customs.money import FxTable
from customs.reclaim import (
    ReclaimAssessment,
    ReclaimCase,
    Regime,
    RegimeBook,
    calculate_duty_reclaim,
    load_regime_book,
)
from customs.tariffs import TariffTable, load_tariff_table


@dataclass(frozen=True, slots=True)
class ReclaimRules:
    regimes: RegimeBook
    tariffs: TariffTable
    de_minimis: DeMinimisBook


def load_reclaim_rules() -> ReclaimRules:
    """The packaged rule data, validated (an error names the file and field)."""
    return ReclaimRules(load_regime_book(), load_tariff_table(), load_de_minimis())


class DutyReclaimCalculator:
    def __init__(self, rules: ReclaimRules, fx: FxTable) -> None:
        self.rules = rules
        self.fx = fx

    def calculate(self, case: ReclaimCase, display_currency: str | None = None) -> ReclaimAssessment:
        """What comes back for `case`; display amounts in `display_currency` (default: the import
        currency). UnknownCurrency for a display currency that is not ISO 4217."""
        return calculate_duty_reclaim(
            case,
            self.rules.regimes,
            self.fx,
            display_currency,
            tariffs=self.rules.tariffs,
            de_minimis=self.rules.de_minimis,
        )

    def regime(self, regime_id: str, on: dt.date | None) -> Regime | None:
        """The version of a regime in force on `on` (a claim's rules date), else its latest version."""
        versions = self.rules.regimes.versions(regime_id)
        if on is not None:
            found = self.rules.regimes.version_on(regime_id, on)
            if found is not None:
                return found
        return versions[-1] if versions else None
