"""The composite score: weights from a data file (validated, errors naming file and field), each metric
normalised across the rows of one comparison."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customs.datafile import DataFileError, parse_toml
from customs.money import Money
from service.insights.model import CarrierComparison, Distribution, Proportion, ScoreWeight
from service.insights.scoring import ScoreWeights, load_score_weights, parse_score_weights


def row(
    account: str,
    cost: str | None = None,
    on_time: tuple[int, int] = (0, 0),
    p90: float | None = None,
) -> CarrierComparison:
    return CarrierComparison(
        account_id=account,
        carrier_name=account,
        provider="ratecard",
        service_code="",
        service_name="",
        lane=None,
        returns_count=10,
        total_cost=Money.zero("EUR"),
        cost_per_parcel=Money(Decimal(cost), "EUR") if cost else None,
        cost_per_kg=None,
        label_to_drop_off_days=Distribution(),
        transit_days=Distribution(3, 2.0, p90, 2.0) if p90 is not None else Distribution(),
        on_time=Proportion(*on_time),
        exception_rates=(),
        exceptions=Proportion(),
        customs_holds=Proportion(),
        returned_to_sender=Proportion(),
        voided=Proportion(),
        quote_errors=Proportion(),
        quote_timeouts=Proportion(),
        quote_latency_ms=Distribution(),
    )


WEIGHTS = ScoreWeights(
    (
        ScoreWeight("cost_per_parcel", 0.5, "cheaper"),
        ScoreWeight("on_time", 0.3, "on time"),
        ScoreWeight("transit_days", 0.2, "faster"),
    ),
    "test",
)


def test_best_gets_one_worst_zero_and_between_is_linear() -> None:
    scored = WEIGHTS.score(
        [row("a", "10", (9, 10), 3.0), row("b", "20", (5, 10), 5.0), row("c", "15", (7, 10), 4.0)]
    )
    values = {r.account_id: r.score.value for r in scored if r.score}
    # a: best everywhere; b: worst everywhere; c: half-way on cost (0.5), on time (0.5) and transit (0.5).
    assert values == {"a": pytest.approx(100.0), "b": pytest.approx(0.0), "c": pytest.approx(50.0)}
    assert [r.account_id for r in scored] == ["a", "c", "b"]


def test_a_row_without_the_figure_scores_nothing_on_it_and_equal_figures_all_score_one() -> None:
    scored = WEIGHTS.score([row("a", "10", (0, 0), 3.0), row("b", "10", (5, 10), None)])
    parts = {r.account_id: {c.metric: c.normalized for c in r.score.contributions} for r in scored if r.score}
    assert parts["a"] == {"cost_per_parcel": 1.0, "on_time": 0.0, "transit_days": 1.0}
    assert parts["b"] == {"cost_per_parcel": 1.0, "on_time": 1.0, "transit_days": 0.0}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=100, max_value=5000),
            st.integers(min_value=0, max_value=10),
            st.floats(min_value=0.5, max_value=20),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_scores_stay_between_0_and_100_and_come_sorted(figures: list[tuple[int, int, float]]) -> None:
    rows = [
        row(f"r{i}", f"{cents / 100:.2f}", (late, 10), p90) for i, (cents, late, p90) in enumerate(figures)
    ]
    scored = WEIGHTS.score(rows)
    values = [r.score.value for r in scored if r.score]
    assert all(-1e-9 <= v <= 100 + 1e-9 for v in values)
    assert values == sorted(values, reverse=True)


def test_the_packaged_weights_add_up_to_one_and_name_their_source() -> None:
    weights = load_score_weights()
    assert sum(w.weight for w in weights.weights) == pytest.approx(1.0)
    assert "effective 2026-11-26" in weights.source


def _weights(entries: str) -> ScoreWeights:
    return parse_score_weights(parse_toml(f'source = "t"\neffective_from = 2026-11-26\n{entries}', "w.toml"))


def test_weights_must_add_up_to_one() -> None:
    with pytest.raises(
        DataFileError, match=r"w\.toml: weights: the weights must add up to 1, they add up to 0\.9"
    ):
        _weights('[[weights]]\nmetric = "on_time"\nweight = "0.9"\ndescription = "x"\n')


def test_unknown_and_repeated_metrics_are_refused_by_field() -> None:
    with pytest.raises(DataFileError, match=r"w\.toml: weights\[0\]\.metric: unknown metric 'speed'"):
        _weights('[[weights]]\nmetric = "speed"\nweight = "1"\ndescription = "x"\n')
    twice = '[[weights]]\nmetric = "on_time"\nweight = "0.5"\ndescription = "x"\n' * 2
    with pytest.raises(DataFileError, match=r"weights\[1\]\.metric: 'on_time' is weighted twice"):
        _weights(twice)
