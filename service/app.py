"""The composition root: the one place that reads settings and wires storage, auth and use cases."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from carriers.accounts import load_accounts
from service.auth import Principal
from service.config import Settings
from service.customs_declarations import CustomsDeclarations
from service.documents.customs_documents import CERTIFICATION
from service.grpc.customs_servicer import CustomsServicer
from service.metrics import ServiceMetrics
from service.quoting.fx import load_fx_table
from service.quoting.hubs import load_hubs
from service.storage.engine import Database, create_database
from service.storage.schema import upgrade_database
from service.storage.tenancy import Tenancy
from service.telemetry import CarrierTelemetry


class MerchantKeyAuthenticator:
    """Bearer credentials are merchant API keys (label tracking tokens join with the labels capability)."""

    def __init__(self, tenancy: Tenancy) -> None:
        self._tenancy = tenancy

    async def authenticate(self, credential: str) -> Principal | None:
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

    async def close(self) -> None:
        if self.hs_search_warmup is not None:
            await self.hs_search_warmup
        await self.database.dispose()


async def build_application(settings: Settings, *, migrate: bool = True) -> Application:
    if migrate:
        await upgrade_database(settings.database_url)
    database = create_database(settings.database_url)
    tenancy = Tenancy(database, cache_ttl=timedelta(seconds=settings.auth_cache_seconds))
    metrics = ServiceMetrics()
    hubs = load_hubs(settings.hubs_file)
    fx = load_fx_table(settings.fx_rates_file)
    customs = CustomsServicer(
        CustomsDeclarations(
            fx=fx,
            hubs=hubs,
            carrier_account_ids=[account.id for account in load_accounts(settings.carriers_file)],
            certification_statement=CERTIFICATION,
        )
    )
    return Application(
        settings=settings,
        database=database,
        tenancy=tenancy,
        authenticator=MerchantKeyAuthenticator(tenancy),
        metrics=metrics,
        carrier_telemetry=CarrierTelemetry(metrics),
        servicers={"CustomsService": customs},
        hs_search_warmup=customs.start_warming(),
    )
