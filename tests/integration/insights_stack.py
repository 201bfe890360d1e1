"""The insights capability over a real database for integration tests: tracking (no poller) and insights
(no background tasks) on the example carrier accounts, with the merchants named, closed in order after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from carriers.accounts import load_accounts
from carriers.registry import ConfiguredCarriers, build_carriers
from customs.money import FxTable
from service.bus import open_bus
from service.config import Settings, default_data_file
from service.insights import Insights, InsightsConfig, open_insights
from service.metrics import ServiceMetrics
from service.storage import Database, Tenancy, create_database, upgrade_database
from service.tracking import Tracking, open_tracking


@dataclass
class InsightsStack:
    database: Database
    insights: Insights
    tracking: Tracking
    carriers: ConfiguredCarriers


@asynccontextmanager
async def insights_stack(
    database_url: str, fx: FxTable, merchants: Mapping[str, str]
) -> AsyncIterator[InsightsStack]:
    """`merchants`: id -> name, created before the stack opens."""
    await upgrade_database(database_url)
    database = create_database(database_url)
    tenancy = Tenancy(database)
    for merchant_id, name in merchants.items():
        await tenancy.ensure_merchant(merchant_id, name)
    carriers = build_carriers(load_accounts(default_data_file("carriers.toml")), {})
    bus = await open_bus("memory://")
    tracking = await open_tracking(
        Settings(), database, bus, carriers.adapters, ServiceMetrics(), start_poller=False
    )
    insights = await open_insights(
        InsightsConfig(),
        database=database,
        fx=fx,
        accounts=carriers.accounts,
        tracking=tracking.ingestion,
        start=False,
    )
    try:
        yield InsightsStack(database, insights, tracking, carriers)
    finally:
        await insights.close()
        await tracking.close()
        await bus.close()
        await carriers.close()
        await database.dispose()
