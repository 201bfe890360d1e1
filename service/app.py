"""The composition root: the one place that reads settings and wires storage, auth and use cases."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import os
from dataclasses import dataclass, field
from datetime import timedelta

from carriers.accounts import load_accounts
from carriers.registry import ConfiguredCarriers, build_carriers
from carriers.resilience import ResilientCarrier
from service.auth import Principal
from service.bus import EventBus, open_bus
from service.config import Settings
from service.customs_declarations import CustomsDeclarations
from service.documents.customs_documents import CERTIFICATION
from service.grpc.customs_servicer import CustomsServicer
from service.grpc.insights_servicer import InsightsServicer
from service.grpc.labels_servicer import LabelsServicer
from service.grpc.rates_servicer import RatesServicer
from service.grpc.tracking_servicer import TrackingServicer
from service.insights import Insights, InsightsConfig, open_insights
from service.labels import DatabaseSerialAllocator, Labels, LabelsConfig, open_labels, use_durable_serials
from service.metrics import ServiceMetrics
from service.quoting.fx import load_fx_table
from service.quoting.hubs import load_hubs
from service.quoting.policy import load_return_policies
from service.quoting.token import QuoteTokenSigner
from service.quoting.use_case import QuoteReturns, QuotingSettings
from service.reclaim import Reclaim, load_reclaim_rules, open_reclaim
from service.reclaim.label_claims import LabelClaims
from service.storage.engine import Database, create_database
from service.storage.schema import upgrade_database
from service.storage.tenancy import Tenancy
from service.telemetry import CarrierTelemetry
from service.tracking import Tracking, open_tracking
from service.tracking.access import TOKEN_PREFIX, TrackingTokens


class MerchantKeyAuthenticator:
    """Bearer credentials are merchant API keys or per-label tracking tokens (`bht_...`).

    A tracking token's principal is label-scoped: only GetTracking and SubscribeTracking accept it (they use
    `current_principal()`); every other RPC asks `current_merchant()`, which refuses it.
    """

    def __init__(self, tenancy: Tenancy, tracking_tokens: TrackingTokens | None = None) -> None:
        self._tenancy = tenancy
        self._tracking_tokens = tracking_tokens

    async def authenticate(self, credential: str) -> Principal | None:
        if credential.startswith(TOKEN_PREFIX):
            return self._tracking_tokens.verify(credential) if self._tracking_tokens else None
        merchant_id = await self._tenancy.authenticate(credential)
        return Principal(merchant_id) if merchant_id is not None else None


@dataclass
class Application:
    settings: Settings
    database: Database
    tenancy: Tenancy
    authenticator: MerchantKeyAuthenticator
    metrics: ServiceMetrics
    # Pass as `observer=` to every ResilientCarrier: carrier spans, latency/error metrics, breaker state.
    carrier_telemetry: CarrierTelemetry
    # Servicer objects by short service name (e.g. "RatesService"); absent services answer UNIMPLEMENTED.
    servicers: dict[str, object] = field(default_factory=dict)
    # Builds the HS search index in a thread after start-up (a few hundred ms), so no caller waits for it.
    hs_search_warmup: asyncio.Task[None] | None = None
    # Adapters of the configured carrier accounts, one instance per account for the whole process.
    carriers: ConfiguredCarriers = field(default_factory=ConfiguredCarriers)
    # Every carrier call goes through these (one circuit breaker and concurrency limit per account).
    carrier_calls: dict[str, ResilientCarrier] = field(default_factory=dict)
    # Signs quote tokens; the labels use case verifies them with it.
    quote_tokens: QuoteTokenSigner | None = None
    bus: EventBus | None = None
    # Labels register the parcels they buy with `tracking.ingestion.register_shipment`.
    tracking: Tracking | None = None
    # Return labels; reconciles interrupted purchases at start and then periodically.
    labels: Labels | None = None
    # Duty reclaim: the calculator and the claims, which follow the tracking log for export evidence.
    reclaim: Reclaim | None = None
    # Carrier comparison, lane figures for quotes, quote outcome counters (flushed at close).
    insights: Insights | None = None

    async def close(self) -> None:
        if self.hs_search_warmup is not None:
            await self.hs_search_warmup
        if self.labels is not None:
            await self.labels.close()  # purchases in flight record their outcome first
        if self.insights is not None:
            await self.insights.close()  # the last quote outcome counters are flushed
        if self.reclaim is not None:
            await self.reclaim.close()
        if self.tracking is not None:
            await self.tracking.close()
        if self.bus is not None:
            await self.bus.close()
        await self.carriers.close()
        await self.database.dispose()


async def build_application(settings: Settings, *, migrate: bool = True) -> Application:
    if migrate:
        await upgrade_database(settings.database_url)
    database = create_database(settings.database_url)
    tenancy = Tenancy(database, cache_ttl=timedelta(seconds=settings.auth_cache_seconds))
    metrics = ServiceMetrics()
    hubs = load_hubs(settings.hubs_file)
    fx = load_fx_table(settings.fx_rates_file)
    declarations = CustomsDeclarations(
        fx=fx,
        hubs=hubs,
        carrier_account_ids=[account.id for account in load_accounts(settings.carriers_file)],
        certification_statement=CERTIFICATION,
    )
    carriers = build_carriers(load_accounts(settings.carriers_file), os.environ)
    # Rate-card S10 numbers come from the database, so they never repeat across restarts and replicas.
    use_durable_serials(carriers, DatabaseSerialAllocator(database))
    bus = await open_bus(settings.bus_url)
    reclaim = await open_reclaim(database, bus, load_reclaim_rules(), fx)
    customs = CustomsServicer(declarations, reclaim=reclaim)
    carrier_telemetry = CarrierTelemetry(metrics)
    carrier_calls = {
        account_id: ResilientCarrier(
            adapter, carriers.accounts[account_id].policy, observer=carrier_telemetry
        )
        for account_id, adapter in carriers.adapters.items()
    }
    # Polls go through the same breakers, limits and telemetry as quotes and purchases.
    tracking = await open_tracking(settings, database, bus, carrier_calls, metrics)
    quote_tokens = QuoteTokenSigner(settings.token_signing_secret)
    policies = load_return_policies(settings.return_policies_file)
    # Labels register bought parcels through insights, which records each label's return leg first.
    insights = await open_insights(
        InsightsConfig(
            min_delivered_returns=settings.insights_min_delivered_returns,
            period_days=settings.insights_period_days,
            lane_refresh_seconds=settings.insights_lane_refresh_seconds,
            quote_stats_flush_seconds=settings.insights_quote_stats_flush_seconds,
            journey_refresh_seconds=settings.insights_journey_refresh_seconds,
            score_weights_file=settings.insights_score_weights_file,
        ),
        database=database,
        fx=fx,
        accounts=carriers.accounts,
        tracking=tracking.ingestion,
    )
    quote_returns = QuoteReturns(
        carriers=carrier_calls,
        accounts=carriers.accounts,
        disabled={account.account_id: account.reason for account in carriers.disabled},
        hubs=hubs,
        policies=policies,
        fx=fx,
        signer=quote_tokens,
        clock=lambda: dt.datetime.now(dt.UTC),
        settings=QuotingSettings(default_budget_seconds=settings.quote_budget_seconds),
        lane_performance=insights.lane_figures,
        outcomes=insights.quote_outcomes,
    )
    labels = await open_labels(
        LabelsConfig(
            purchase_budget_seconds=settings.label_purchase_budget_seconds,
            reconcile_after_seconds=settings.label_reconcile_after_seconds,
            reconcile_interval_seconds=settings.label_reconcile_interval_seconds,
            tracking_page_url=settings.tracking_page_url,
        ),
        database=database,
        carriers=carrier_calls,
        accounts=carriers.accounts,
        hubs=hubs,
        policies=policies,
        declarations=declarations,
        quote_tokens=quote_tokens,
        tracking=insights.registry,
        tracking_tokens=tracking.tokens,
        reclaim=reclaim.labels,
        label_claims=LabelClaims(reclaim.claims),
    )
    # What start-up built lives as long as the process: keep it out of the collector's full passes, which
    # otherwise walk some 200,000 objects (rule tables, nomenclature, modules) and stall every stream for
    # 100 ms or more.
    gc.freeze()
    return Application(
        settings=settings,
        database=database,
        tenancy=tenancy,
        authenticator=MerchantKeyAuthenticator(tenancy, tracking.tokens),
        metrics=metrics,
        carrier_telemetry=carrier_telemetry,
        servicers={
            "CustomsService": customs,
            "RatesService": RatesServicer(quote_returns),
            "LabelsService": LabelsServicer(labels.use_case),
            "TrackingService": TrackingServicer(tracking, carriers.accounts),
            "InsightsService": InsightsServicer(insights.comparisons),
        },
        hs_search_warmup=customs.start_warming(),
        carriers=carriers,
        carrier_calls=carrier_calls,
        quote_tokens=quote_tokens,
        bus=bus,
        tracking=tracking,
        labels=labels,
        reclaim=reclaim,
        insights=insights,
    )
