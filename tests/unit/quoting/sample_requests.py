"""Quote requests and a QuoteReturns wired to the shipped default data, for quoting tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from carriers.accounts import CallPolicy, CarrierAccount
from carriers.models import Parcel
from carriers.port import CarrierAdapter
from carriers.ratecard import RateCardCarrier
from carriers.ratecard.card import packaged_card
from carriers.resilience import ResilientCarrier
from carriers.sandbox import SandboxCarrier, SandboxSettings
from service.config import default_data_file
from service.quoting.fx import load_fx_table
from service.quoting.hubs import HubDirectory, load_hubs
from service.quoting.policy import load_return_policies
from service.quoting.request import (
    AddressInput,
    ContactInput,
    ItemInput,
    MoneyInput,
    OriginalOrderInput,
    PartyInput,
    QuotePreferences,
    QuoteReturnRequest,
    ShipmentInput,
)
from service.quoting.token import QuoteTokenSigner
from service.quoting.use_case import LanePerformanceSource, QuoteReturns, QuotingSettings

NOW = dt.datetime(2026, 11, 10, 10, 0, tzinfo=dt.UTC)  # a Tuesday
SECRET = "test-secret-of-at-least-thirty-two-characters"
HUBS = load_hubs(default_data_file("hubs.toml"))
POLICIES = load_return_policies(default_data_file("return_policies.toml"))
FX = load_fx_table(default_data_file("fx_rates.toml"))


def address(
    country: str = "DE", postal_code: str = "10115", locality: str = "Berlin", **extra: str
) -> AddressInput:
    return AddressInput(
        region_code=country,
        address_lines=("Invalidenstraße 1",),
        locality=locality,
        postal_code=postal_code,
        **extra,  # type: ignore[arg-type]
    )


def item(**overrides: object) -> ItemInput:
    fields: dict[str, object] = {
        "sku": "TS-1",
        "description": "cotton T-shirt",
        "quantity": 1,
        "unit_value": MoneyInput("EUR", Decimal("29.90")),
        "unit_weight_grams": 200,
        "origin_country": "PT",
        "hs_code": "6109.10",
    }
    fields.update(overrides)
    return ItemInput(**fields)  # type: ignore[arg-type]


def shipment(
    customer_address: AddressInput | None = None,
    *,
    parcels: tuple[Parcel, ...] = (Parcel(800, 300, 200, 100),),
    items: tuple[ItemInput, ...] | None = None,
    order: OriginalOrderInput | None = None,
) -> ShipmentInput:
    return ShipmentInput(
        customer=PartyInput(ContactInput("Erika Mustermann"), customer_address or address()),
        parcels=parcels,
        items=(item(),) if items is None else items,
        original_order=order
        or OriginalOrderInput(order_date=dt.date(2026, 10, 28), delivery_date=dt.date(2026, 10, 30)),
    )


def request(
    data: ShipmentInput | None = None, merchant_id: str = "m-1", **preferences: object
) -> QuoteReturnRequest:
    return QuoteReturnRequest(merchant_id, data or shipment(), QuotePreferences(**preferences))  # type: ignore[arg-type]


def sandbox_account(account_id: str, **options: object) -> tuple[CarrierAccount, CarrierAdapter]:
    account = CarrierAccount(account_id, "sandbox", f"Sandbox {account_id}")
    settings = SandboxSettings(**options)  # type: ignore[arg-type]
    return account, SandboxCarrier(account_id, account.carrier, settings, clock=lambda: NOW)


def ratecard_account(account_id: str, card_id: str) -> tuple[CarrierAccount, CarrierAdapter]:
    account = CarrierAccount(account_id, "ratecard", card_id, options={"card": card_id})
    return account, RateCardCarrier(account_id, packaged_card(card_id))


def quoting(
    *entries: tuple[CarrierAccount, CarrierAdapter],
    policy: CallPolicy | None = None,
    settings: QuotingSettings | None = None,
    lane_performance: LanePerformanceSource | None = None,
    disabled: Mapping[str, str] | None = None,
    hubs: HubDirectory = HUBS,
) -> QuoteReturns:
    """Default: the three accounts that serve Germany (two rate cards and a prompt sandbox)."""
    if not entries:
        entries = (
            ratecard_account("tulip-parcel", "tulip_parcel_nl"),
            ratecard_account("rhein-paket", "rhein_paket_de"),
            sandbox_account("sandbox", currency="USD"),
        )
    accounts = {account.id: account for account, _ in entries}
    return QuoteReturns(
        carriers={
            account.id: ResilientCarrier(adapter, policy or CallPolicy(timeout_seconds=1.0, max_attempts=2))
            for account, adapter in entries
        },
        accounts=accounts,
        hubs=hubs,
        policies=POLICIES,
        fx=FX,
        signer=QuoteTokenSigner(SECRET),
        clock=lambda: NOW,
        settings=settings,
        disabled=disabled,
        lane_performance=lane_performance,
    )


def hubs_accepting_every_carrier() -> HubDirectory:
    hubs = tuple(dataclasses.replace(hub, accepted_carriers=frozenset()) for hub in HUBS.hubs)
    default = next(hub for hub in hubs if hub.id == HUBS.default_hub.id)
    return dataclasses.replace(HUBS, hubs=hubs, default_hub=default)
