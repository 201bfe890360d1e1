"""The composite carrier score: weights from a data file, each metric normalised across the comparison.

For every weighted metric the rows that have the figure are ranked linearly: the best gets 1, the worst 0
(all equal: 1 each); a row without the figure gets 0, so no evidence earns no points. The score is
100 x sum(weight x normalised), 0 (worst) to 100 (best).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from customs.datafile import DataTable, read_toml
from service.insights.model import (
    CarrierComparison,
    CompositeScore,
    Distribution,
    Proportion,
    ScoreContribution,
    ScoreWeight,
)

Figure = Callable[[CarrierComparison], float | None]


def _share(pick: Callable[[CarrierComparison], Proportion]) -> Figure:
    def figure(row: CarrierComparison) -> float | None:
        proportion = pick(row)
        return proportion.rate if proportion.total else None

    return figure


def _percentile(pick: Callable[[CarrierComparison], Distribution], p90: bool) -> Figure:
    def figure(row: CarrierComparison) -> float | None:
        distribution = pick(row)
        return distribution.p90 if p90 else distribution.p50

    return figure


def _cost_per_parcel(row: CarrierComparison) -> float | None:
    return float(row.cost_per_parcel.amount) if row.cost_per_parcel is not None else None


def _cost_per_kg(row: CarrierComparison) -> float | None:
    return float(row.cost_per_kg.amount) if row.cost_per_kg is not None else None


# metric -> (higher is better, the row's figure)
METRICS: dict[str, tuple[bool, Figure]] = {
    "cost_per_parcel": (False, _cost_per_parcel),
    "cost_per_kg": (False, _cost_per_kg),
    "on_time": (True, _share(lambda row: row.on_time)),
    "transit_days": (False, _percentile(lambda row: row.transit_days, p90=True)),
    "label_to_drop_off_days": (False, _percentile(lambda row: row.label_to_drop_off_days, p90=False)),
    "exceptions": (False, _share(lambda row: row.exceptions)),
    "customs_holds": (False, _share(lambda row: row.customs_holds)),
    "returned_to_sender": (False, _share(lambda row: row.returned_to_sender)),
    "voided": (False, _share(lambda row: row.voided)),
    "quote_errors": (False, _share(lambda row: row.quote_errors)),
    "quote_timeouts": (False, _share(lambda row: row.quote_timeouts)),
    "quote_latency_ms": (False, _percentile(lambda row: row.quote_latency_ms, p90=True)),
}


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    weights: tuple[ScoreWeight, ...]
    source: str  # the file's source line and effective date

    def score(self, rows: Sequence[CarrierComparison]) -> list[CarrierComparison]:
        """The rows with their scores, best first (ties in account, service and lane order)."""
        normalised = {weight.metric: _normalise(rows, *METRICS[weight.metric]) for weight in self.weights}
        scored = []
        for index, row in enumerate(rows):
            contributions = tuple(
                ScoreContribution(
                    weight.metric,
                    normalised[weight.metric][index],
                    weight.weight * normalised[weight.metric][index] * 100,
                )
                for weight in self.weights
            )
            value = sum(c.points for c in contributions)
            scored.append(dataclasses.replace(row, score=CompositeScore(value, contributions)))
        return sorted(scored, key=_rank)


def _rank(row: CarrierComparison) -> tuple[float, str, str, str]:
    assert row.score is not None
    return (-row.score.value, row.account_id, row.service_code, str(row.lane or ""))


def _normalise(rows: Sequence[CarrierComparison], higher_is_better: bool, figure: Figure) -> list[float]:
    values = [figure(row) for row in rows]
    known = [v for v in values if v is not None]
    if not known:
        return [0.0] * len(rows)
    best, worst = (max(known), min(known)) if higher_is_better else (min(known), max(known))
    spread = abs(best - worst)
    return [0.0 if v is None else 1.0 if spread == 0 else 1 - abs(best - v) / spread for v in values]


def default_weights_file() -> Traversable:
    return files("service.insights.data").joinpath("score_weights.toml")


def load_score_weights(path: Path | Traversable | None = None) -> ScoreWeights:
    document = read_toml(path or default_weights_file(), None if path else "insights/data/score_weights.toml")
    return parse_score_weights(document)


def parse_score_weights(document: DataTable) -> ScoreWeights:
    document.reject_unknown({"source", "effective_from", "weights"})
    effective: dt.date = document.date("effective_from")
    weights: list[ScoreWeight] = []
    total = Decimal(0)
    for entry in document.tables("weights", required=True):
        entry.reject_unknown({"metric", "weight", "description"})
        metric = entry.text("metric")
        if metric not in METRICS:
            raise entry.error("metric", f"unknown metric {metric!r} (known: {', '.join(sorted(METRICS))})")
        if any(w.metric == metric for w in weights):
            raise entry.error("metric", f"{metric!r} is weighted twice")
        weight = entry.decimal("weight", minimum=Decimal(0))
        total += weight
        weights.append(ScoreWeight(metric, float(weight), entry.text("description")))
    if total != 1:
        raise document.error("weights", f"the weights must add up to 1, they add up to {total}")
    return ScoreWeights(tuple(weights), f"{document.text('source')} (effective {effective.isoformat()})")
