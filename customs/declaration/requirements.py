"""Lane requirements for return declarations, read from customs/data/declaration_requirements.toml.

A return needs a declaration when it leaves one customs territory for another (`declaration_required`).
The file holds the UPU form thresholds, identifier formats (EORI, AES ITN), which party needs which tax id
on which lane, which references to the original sale a lane needs, and export filings such as the US EEI.
Every rule carries its source; rules with dates apply on declaration dates inside them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import InvalidOperation
from enum import StrEnum
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from customs.countries import UnknownCountry, validate_country
from customs.datafile import DataTable, read_toml
from customs.money import Money, UnknownCurrency
from customs.territories import CustomsTerritory, customs_territories, customs_territory

REQUIREMENTS_FILE = "declaration_requirements.toml"
ORIGINAL_ORDER_REFERENCES = (
    "invoice_number",
    "outbound_tracking_number",
    "export_reference",
    "import_entry_number",
)
ANY_TERRITORY = "*"


class Direction(StrEnum):
    IMPORT = "import"  # goods enter the territory: the addressee imports
    EXPORT = "export"  # goods leave the territory: the sender exports
    ANY = "any"


class PartyRole(StrEnum):
    SENDER = "sender"
    ADDRESSEE = "addressee"


class PartyKind(StrEnum):
    BUSINESS = "business"  # only when the party's address names an organisation
    ANY = "any"


class TaxIdScheme(StrEnum):
    EORI = "EORI"


def declaration_required(sender_country: str, addressee_country: str, on: dt.date | None = None) -> bool:
    """Whether goods sent between these countries on `on` cross a customs border and so need a declaration.

    `on` defaults to today: the day a label bought now is handed over. Raises customs.countries.UnknownCountry
    for a code that is not ISO 3166-1 alpha-2.
    """
    day = on or dt.date.today()
    return customs_territory(sender_country, day) != customs_territory(addressee_country, day)


@dataclass(frozen=True, slots=True)
class Lane:
    """A cross-border return between two customs territories."""

    origin: str  # the sender's territory
    destination: str  # the addressee's territory


@dataclass(frozen=True, slots=True)
class DatedRule:
    id: str
    summary: str
    source: str
    effective_from: dt.date | None
    effective_to: dt.date | None  # exclusive

    def in_force_on(self, on: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= on) and (
            self.effective_to is None or on < self.effective_to
        )


@dataclass(frozen=True, slots=True)
class LaneScope:
    territory: str  # a territory code or "*"
    direction: Direction

    def matches(self, lane: Lane) -> bool:
        if self.territory == ANY_TERRITORY:
            return True
        entering = lane.destination == self.territory
        leaving = lane.origin == self.territory
        if self.direction is Direction.IMPORT:
            return entering
        if self.direction is Direction.EXPORT:
            return leaving
        return entering or leaving


@dataclass(frozen=True, slots=True)
class IdentifierFormat:
    name: str
    pattern: re.Pattern[str]
    description: str
    source: str

    def accepts(self, value: str) -> bool:
        return self.pattern.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class EoriFormat:
    issuers: frozenset[str]  # two-letter prefixes, territory names already expanded
    number: re.Pattern[str]  # what follows the prefix
    description: str
    source: str


@dataclass(frozen=True, slots=True)
class TaxIdRule:
    rule: DatedRule
    scope: LaneScope
    party: PartyRole
    party_kind: PartyKind
    scheme: TaxIdScheme
    accepted_issuers: frozenset[str]  # two-letter prefixes and territory ids

    def accepts_issuer(self, issuer: str, on: dt.date) -> bool:
        """Whether an id issued under `issuer` serves here on `on`; a territory id accepts the countries that
        are its members that day (a GB EORI served in the EU until 2020-12-31)."""
        if issuer in self.accepted_issuers:
            return True
        try:
            return customs_territory(issuer, on) in self.accepted_issuers
        except UnknownCountry:  # XI, EL: prefixes that are no ISO country
            return False


@dataclass(frozen=True, slots=True)
class ReferenceRule:
    rule: DatedRule
    scope: LaneScope
    fields: tuple[str, ...]  # OriginalOrder attributes
    when_origin: str  # applies only when some line originates in this country ("" = always)
    formats: Mapping[str, IdentifierFormat]  # per field


@dataclass(frozen=True, slots=True)
class ExportFilingRule:
    """An export declaration the sender files above a value per commodity code, or an exemption legend."""

    rule: DatedRule
    territory: str
    threshold: Money
    exemption_legend: str
    filed_legend_prefix: str
    itn_format: IdentifierFormat
    exempt_destinations: Mapping[str, str]  # country -> exemption legend


@dataclass(frozen=True, slots=True)
class PostalFormRule:
    cn22_max_value: Money
    letter_post_max_grams: int
    source: str


@dataclass(frozen=True, slots=True)
class DeclarationRules:
    postal_forms: PostalFormRule
    formats: Mapping[str, IdentifierFormat]
    eori_formats: tuple[EoriFormat, ...]
    tax_ids: tuple[TaxIdRule, ...]
    references: tuple[ReferenceRule, ...]
    export_filings: tuple[ExportFilingRule, ...]


def _money(table: DataTable, key: str) -> Money:
    amount = table.table(key)
    try:
        return Money.of(amount.text("amount"), amount.text("currency"))
    except (ValueError, InvalidOperation, UnknownCurrency) as exc:
        raise table.error(key, str(exc)) from exc


def _dated(table: DataTable) -> DatedRule:
    rule = DatedRule(
        id=table.text("id"),
        summary=table.text("summary"),
        source=table.text("source"),
        effective_from=table.date("effective_from", required=False),
        effective_to=table.date("effective_to", required=False),
    )
    if rule.effective_from and rule.effective_to and rule.effective_to <= rule.effective_from:
        raise table.error("effective_to", "must be after effective_from")
    return rule


def _scope(table: DataTable, territories: Mapping[str, CustomsTerritory]) -> LaneScope:
    territory = _territory(table, "territory", territories, allow_any=True)
    return LaneScope(territory, table.choice("direction", Direction))


def _territory(
    table: DataTable, key: str, territories: Mapping[str, CustomsTerritory], *, allow_any: bool
) -> str:
    value = table.text(key)
    if (allow_any and value == ANY_TERRITORY) or value in territories:
        return value
    try:
        country = validate_country(value)
    except UnknownCountry as exc:
        raise table.error(
            key, f"{value!r} is neither a territory of customs_territories.toml nor a country"
        ) from exc
    if any(country in territory.countries_ever() for territory in territories.values()):
        raise table.error(key, f"{country} belongs to a customs territory: name the territory instead")
    return country


def _issuers(table: DataTable, key: str, territories: Mapping[str, CustomsTerritory]) -> frozenset[str]:
    """The issuers as listed: two-letter prefixes and territory ids."""
    issuers = table.strings(key, required=True)
    for index, value in enumerate(issuers):
        if value not in territories and not re.fullmatch("[A-Z]{2}", value):
            raise table.error(
                f"{key}[{index}]", f"expected a territory name or a two-letter prefix, got {value!r}"
            )
    return frozenset(issuers)


def _format(table: DataTable, key: str, formats: Mapping[str, IdentifierFormat]) -> IdentifierFormat:
    name = table.text(key)
    if name not in formats:
        raise table.error(key, f"unknown format {name!r}; defined: {', '.join(sorted(formats)) or 'none'}")
    return formats[name]


def parse_declaration_rules(root: DataTable, territories: Mapping[str, CustomsTerritory]) -> DeclarationRules:
    upu = root.table("upu")
    postal = PostalFormRule(
        _money(upu, "cn22_max_value"), upu.integer("letter_post_max_grams", minimum=1), upu.text("source")
    )

    formats: dict[str, IdentifierFormat] = {}
    if "formats" in root:
        formats_table = root.table("formats")
        for name in formats_table.field_names():
            table = formats_table.table(name)
            formats[name] = IdentifierFormat(
                name, table.pattern("pattern"), table.text("description"), table.text("source")
            )

    eori_formats: list[EoriFormat] = []
    seen_issuers: set[str] = set()
    for table in root.tables("eori_formats", required=True):
        # A number's format belongs to the issuing country whatever territory it is in, so a territory
        # stands for every country that is or was a member.
        issuers = frozenset(
            country
            for issuer in _issuers(table, "issuers", territories)
            for country in (territories[issuer].countries_ever() if issuer in territories else (issuer,))
        )
        if issuers & seen_issuers:
            raise table.error(
                "issuers", f"{', '.join(sorted(issuers & seen_issuers))} already has an EORI format"
            )
        seen_issuers |= issuers
        eori_formats.append(
            EoriFormat(issuers, table.pattern("number"), table.text("description"), table.text("source"))
        )

    tax_ids = tuple(
        TaxIdRule(
            rule=_dated(table),
            scope=_scope(table, territories),
            party=table.choice("party", PartyRole),
            party_kind=table.choice("party_kind", PartyKind),
            scheme=table.choice("scheme", TaxIdScheme),
            accepted_issuers=_issuers(table, "accepted_issuers", territories),
        )
        for table in root.tables("tax_ids")
    )

    references: list[ReferenceRule] = []
    for table in root.tables("references"):
        fields = tuple(table.strings("fields", required=True))
        for index, name in enumerate(fields):
            if name not in ORIGINAL_ORDER_REFERENCES:
                raise table.error(
                    f"fields[{index}]", f"expected one of {', '.join(ORIGINAL_ORDER_REFERENCES)}"
                )
        field_formats: dict[str, IdentifierFormat] = {}
        if "formats" in table:
            format_table = table.table("formats")
            for name in format_table.field_names():
                if name not in fields:
                    raise format_table.error(name, "is not one of this rule's fields")
                field_formats[name] = _format(format_table, name, formats)
        when_origin = table.country("when_origin") if "when_origin" in table else ""
        references.append(
            ReferenceRule(
                _dated(table),
                _scope(table, territories),
                fields,
                when_origin,
                MappingProxyType(field_formats),
            )
        )

    export_filings: list[ExportFilingRule] = []
    for table in root.tables("export_filings"):
        exempt: dict[str, str] = {}
        for entry in table.tables("exempt_destinations"):
            legend = entry.text("legend")
            exempt.update(dict.fromkeys(entry.countries("countries", required=True), legend))
        export_filings.append(
            ExportFilingRule(
                rule=_dated(table),
                territory=_territory(table, "territory", territories, allow_any=False),
                threshold=_money(table, "threshold"),
                exemption_legend=table.text("exemption_legend"),
                filed_legend_prefix=table.text("filed_legend_prefix"),
                itn_format=_format(table, "itn_format", formats),
                exempt_destinations=MappingProxyType(exempt),
            )
        )

    return DeclarationRules(
        postal_forms=postal,
        formats=MappingProxyType(formats),
        eori_formats=tuple(eori_formats),
        tax_ids=tax_ids,
        references=tuple(references),
        export_filings=tuple(export_filings),
    )


@cache
def declaration_rules() -> DeclarationRules:
    path = files("customs.data").joinpath(REQUIREMENTS_FILE)
    return parse_declaration_rules(
        read_toml(path, f"customs/data/{REQUIREMENTS_FILE}"), customs_territories()
    )
