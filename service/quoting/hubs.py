"""Regional returns hubs and routing a return to one (service/defaults/hubs.toml).

Routing order: the first hub listing the customer's country; else the first hub listing one of the
country's regions; else the configured default hub.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from customs.address import Address, Contact, InvalidAddress, Party
from customs.countries import validate_country
from customs.datafile import DataTable, read_toml


@dataclass(frozen=True, slots=True)
class Hub:
    id: str
    name: str
    party: Party  # the addressee of return labels
    countries: frozenset[str]
    regions: tuple[str, ...]
    accepted_carriers: frozenset[str]  # carrier account ids; empty: all

    def accepts(self, account_id: str) -> bool:
        return not self.accepted_carriers or account_id in self.accepted_carriers


@dataclass(frozen=True, slots=True)
class HubDirectory:
    hubs: tuple[Hub, ...]
    regions: dict[str, frozenset[str]]  # region name -> countries
    default_hub: Hub
    source: str = ""
    effective_from: dt.date | None = None

    def get(self, hub_id: str) -> Hub | None:
        return next((hub for hub in self.hubs if hub.id == hub_id), None)

    def route(self, country: str) -> Hub:
        """The hub a return from `country` goes to."""
        for hub in self.hubs:
            if country in hub.countries:
                return hub
        for hub in self.hubs:
            if any(country in self.regions.get(region, ()) for region in hub.regions):
                return hub
        return self.default_hub


def load_hubs(path: Path | Traversable, source: str | None = None) -> HubDirectory:
    return parse_hubs(read_toml(path, source))


def parse_hubs(document: DataTable) -> HubDirectory:
    document.reject_unknown({"source", "effective_from", "default_hub", "regions", "hubs"})
    regions: dict[str, frozenset[str]] = {}
    region_table = document.table("regions", required=False)
    if region_table is not None:
        for name in region_table.field_names():
            countries = region_table.strings(name, required=True)
            regions[name] = frozenset(region_table.checked(name, c, validate_country) for c in countries)
    hubs: list[Hub] = []
    for entry in document.tables("hubs", required=True):
        hub = _parse_hub(entry, regions)
        if any(existing.id == hub.id for existing in hubs):
            raise entry.error("id", f"duplicate hub id {hub.id!r}")
        hubs.append(hub)
    default_id = document.text("default_hub")
    default = next((hub for hub in hubs if hub.id == default_id), None)
    if default is None:
        raise document.error("default_hub", f"no hub with id {default_id!r}")
    return HubDirectory(
        hubs=tuple(hubs),
        regions=regions,
        default_hub=default,
        source=document.text("source", ""),
        effective_from=document.date("effective_from", required=False),
    )


def _parse_hub(entry: DataTable, regions: dict[str, frozenset[str]]) -> Hub:
    entry.reject_unknown({"id", "name", "countries", "regions", "accepted_carriers", "contact", "address"})
    hub_regions = tuple(entry.strings("regions"))
    for region in hub_regions:
        if region not in regions:
            raise entry.error("regions", f"unknown region {region!r} (define it under [regions])")
    return Hub(
        id=entry.text("id"),
        name=entry.text("name"),
        party=Party(
            _parse_contact(entry.required_table("contact")), _parse_address(entry.required_table("address"))
        ),
        countries=frozenset(
            entry.checked("countries", c, validate_country) for c in entry.strings("countries")
        ),
        regions=hub_regions,
        accepted_carriers=frozenset(entry.strings("accepted_carriers")),
    )


def _parse_contact(table: DataTable) -> Contact:
    table.reject_unknown({"name", "email", "phone", "tax_ids"})
    tax_table = table.table("tax_ids", required=False)
    tax_ids = {key: tax_table.text(key) for key in tax_table.field_names()} if tax_table else {}
    return Contact(table.text("name"), table.text("email", ""), table.text("phone", ""), tax_ids)


def _parse_address(table: DataTable) -> Address:
    table.reject_unknown(
        {"region_code", "address_lines", "locality", "postal_code", "administrative_area", "organization"}
    )
    address = Address(
        country=table.text("region_code"),
        lines=tuple(table.strings("address_lines", required=True)),
        locality=table.text("locality"),
        postal_code=table.text("postal_code", ""),
        administrative_area=table.text("administrative_area", ""),
        organization=table.text("organization", ""),
    )
    try:
        return address.validated()
    except InvalidAddress as exc:
        raise table.error(exc.field, exc.message) from exc
