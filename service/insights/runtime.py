"""The insights capability of one running instance: the comparison, the quote counters, the lane figures for
quotes, the return legs recorded in front of tracking's parcel registration, and their journeys' projection
from the tracking log."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from carriers.accounts import CarrierAccount
from customs.money import FxTable
from service.insights.comparison import CarrierComparisons
from service.insights.journeys import JourneyProjection
from service.insights.lane_figures import LaneFigures
from service.insights.legs import LegRecordingRegistry, ParcelRegistry, ReturnLegRecorder
from service.insights.quote_stats import QuoteOutcomeRecorder
from service.insights.scoring import load_score_weights
from service.labels.repository import LabelRepository
from service.storage.engine import Database

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InsightsConfig:
    min_delivered_returns: int = 30  # for lane figures in quotes
    period_days: int = 90  # lane figures' period, and CompareCarriers' default period
    lane_refresh_seconds: float = 300.0
    quote_stats_flush_seconds: float = 60.0
    journey_refresh_seconds: float = 5.0  # how often legs' journeys catch up with the tracking log
    score_weights_file: Path | None = None  # None: the packaged default


@dataclass
class Insights:
    comparisons: CarrierComparisons
    # QuoteReturns' `outcomes`: counts carrier answers in memory, flushed in the background and at close.
    quote_outcomes: QuoteOutcomeRecorder
    # QuoteReturns' `lane_performance`: served from memory, refreshed in the background.
    lane_figures: LaneFigures
    legs: ReturnLegRecorder
    # Keeps the legs' journeys in step with the tracking log (background; `catch_up` on demand).
    journeys: JourneyProjection
    # Give this to labels instead of tracking's ingestion: bought labels' legs are recorded, then registered.
    registry: LegRecordingRegistry

    async def close(self) -> None:
        await self.journeys.close()
        await self.lane_figures.close()
        await self.quote_outcomes.close()


async def open_insights(
    config: InsightsConfig,
    *,
    database: Database,
    fx: FxTable,
    accounts: Mapping[str, CarrierAccount],
    tracking: ParcelRegistry,
    start: bool = True,
) -> Insights:
    """Build the capability; with `start`, load the lane figures once and start the background tasks."""
    weights = load_score_weights(config.score_weights_file)
    quote_outcomes = QuoteOutcomeRecorder(database, flush_seconds=config.quote_stats_flush_seconds)
    lane_figures = LaneFigures(
        database,
        min_delivered=config.min_delivered_returns,
        period_days=config.period_days,
        refresh_seconds=config.lane_refresh_seconds,
    )
    legs = ReturnLegRecorder(database, quote_outcomes)
    insights = Insights(
        comparisons=CarrierComparisons(
            database,
            fx=fx,
            weights=weights,
            accounts=accounts,
            default_period_days=config.period_days,
            clock=lambda: dt.datetime.now(dt.UTC),
        ),
        quote_outcomes=quote_outcomes,
        lane_figures=lane_figures,
        legs=legs,
        journeys=JourneyProjection(database, interval_seconds=config.journey_refresh_seconds),
        registry=LegRecordingRegistry(tracking, LabelRepository(database), legs),
    )
    if start:
        insights.journeys.start()
        try:
            await lane_figures.refresh()
        except Exception:
            _log.exception("lane figures not loaded at start; quotes carry none until the next refresh")
        lane_figures.start()
        quote_outcomes.start()
    return insights
