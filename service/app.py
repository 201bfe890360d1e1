"""The composition root: the one place that reads settings and wires storage, auth and use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from service.auth import Principal
from service.config import Settings
from service.metrics import ServiceMetrics
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

    async def close(self) -> None:
        await self.database.dispose()


async def build_application(settings: Settings, *, migrate: bool = True) -> Application:
    if migrate:
        await upgrade_database(settings.database_url)
    database = create_database(settings.database_url)
    tenancy = Tenancy(database, cache_ttl=timedelta(seconds=settings.auth_cache_seconds))
    metrics = ServiceMetrics()
    return Application(
        settings=settings,
        database=database,
        tenancy=tenancy,
        authenticator=MerchantKeyAuthenticator(tenancy),
        metrics=metrics,
        carrier_telemetry=CarrierTelemetry(metrics),
    )
