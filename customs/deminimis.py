"""De minimis: below which consignment value an import pays no duty, no import tax, or a flat duty, by date.

Each market's rules live in customs/data/deminimis/<market>.toml as dated rules. A rule has value bands
chosen by import channel (post or courier) and by the country the parcel was shipped from (Canada, Customs
Notice 20-18), origins excluded from relief (the US suspension for China and Hong Kong), an optional flat duty
(the EU EUR 3 per distinct tariff subheading from 2026-07-01) and seller collection of the import tax at the
point of sale (EU IOSS, UK, Australia). The rule in force on the case's date decides; never today's date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files

from customs.datafile import DataFileError, DataTable, parse_toml
from customs.money import CurrencyMismatch, Money
from customs.tariffs import tariff_digits
from customs.territories import customs_territory


class ImportChannel(StrEnum):
    POST = "post"
    COURIER = "courier"


class SellerCollection(StrEnum):
    """Whether the seller collects the import tax at the point of sale below the rule's limit."""

    NONE = "none"
    MANDATORY = "mandatory"  # UK (<= GBP 135), Australia (<= AUD 1,000)
    OPTIONAL_SCHEME = "optional_scheme"  # EU IOSS: only when the seller is registered


class DutyTreatment(StrEnum):
    EXEMPT = "exempt"
    FLAT = "flat"
    ASSESSED = "assessed"


@dataclass(frozen=True, slots=True)
class DeMinimisBand:
    """Thresholds for parcels of one channel from some ship-from countries (empty: any channel / country).

    `tax_free_up_to` covers import VAT/GST/consumption tax and, in the US, the processing fee as well.
    """

    channel: ImportChannel | None
    shipped_from: frozenset[str]
    duty_free_up_to: Money | None
    tax_free_up_to: Money | None

    def matches(self, channel: ImportChannel | None, shipped_from: str | None) -> bool:
        if self.channel is not None and channel != self.channel:
            return False
        return not self.shipped_from or shipped_from in self.shipped_from

    @property
    def specificity(self) -> tuple[bool, bool]:
        return (bool(self.shipped_from), self.channel is not None)


@dataclass(frozen=True, slots=True)
class FlatDuty:
    """A flat duty per distinct tariff subheading in the parcel, instead of the duty relief."""

    per_distinct_subheading: Money
    up_to: Money
    subheading_digits: int
    requires_seller_collection: bool
    confirmed: bool
    note: str = ""

    def amount(self, hs_codes: Iterable[str]) -> Money:
        subheadings = {self._subheading(code) for code in hs_codes}
        return self.per_distinct_subheading * len(subheadings)

    def subheading_of(self, hs_code: str) -> str:
        return self._subheading(hs_code)

    def _subheading(self, code: str) -> str:
        digits = tariff_digits(code)
        if len(digits) < self.subheading_digits:
            raise ValueError(f"HS code {code!r} has fewer than {self.subheading_digits} digits")
        return digits[: self.subheading_digits]


@dataclass(frozen=True, slots=True)
class DeMinimisRule:
    id: str
    market: str
    currency: str
    effective_from: dt.date
    effective_to: dt.date | None
    bands: tuple[DeMinimisBand, ...]
    excluded_origins: frozenset[str]
    flat_duty: FlatDuty | None
    seller_collection: SellerCollection
    seller_collects_up_to: Money | None
    source: str
    url: str
    confirmed: bool
    note: str = ""

    def covers(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def band_for(self, channel: ImportChannel | None, shipped_from: str | None) -> DeMinimisBand | None:
        candidates = [band for band in self.bands if band.matches(channel, shipped_from)]
        return max(candidates, key=lambda band: band.specificity, default=None)


@dataclass(frozen=True, slots=True)
class DeMinimisDecision:
    """How the de minimis rules treat one consignment."""

    market: str
    rule_id: str | None
    duty: DutyTreatment
    flat_duty: Money | None
    import_tax_due: bool
    tax_collected_at_sale: bool
    confirmed: bool
    source: str
    explanation: str


class DeMinimisBook:
    def __init__(self, rules: Iterable[DeMinimisRule]) -> None:
        self.rules = tuple(rules)

    def rule_for(self, market: str, on: dt.date) -> DeMinimisRule | None:
        return next((rule for rule in self.rules if rule.market == market and rule.covers(on)), None)

    def decide(
        self,
        country: str,
        on: dt.date,
        consignment_value: Money,
        *,
        channel: ImportChannel | None = None,
        shipped_from: str | None = None,
        origins: Iterable[str] = (),
        seller_collects_tax: bool = False,
        hs_codes: Iterable[str] = (),
    ) -> DeMinimisDecision:
        """Treatment of a consignment of `consignment_value` (in the rule's currency) imported into `country`
        on `on`. `seller_collects_tax` says the seller uses an optional scheme (EU IOSS)."""
        market = customs_territory(country, on)
        rule = self.rule_for(market, on)
        if rule is None:
            return DeMinimisDecision(
                market, None, DutyTreatment.ASSESSED, None, True, False, False, "",
                f"no de minimis rule on file for {market} on {on.isoformat()}: duty and tax assumed due",
            )  # fmt: skip
        if consignment_value.currency != rule.currency:
            raise CurrencyMismatch(
                f"de minimis rule {rule.id} is in {rule.currency}; convert the consignment value first"
            )
        value = consignment_value
        notes: list[str] = []
        band = rule.band_for(channel, shipped_from)
        excluded = sorted(set(origins) & rule.excluded_origins)
        if excluded:
            band = None
            notes.append(f"no relief for goods originating in {', '.join(excluded)}")
        elif band is None and rule.bands:
            notes.append("no threshold applies to this channel and ship-from country")

        duty = DutyTreatment.ASSESSED
        flat: Money | None = None
        if band is not None and band.duty_free_up_to is not None and value <= band.duty_free_up_to:
            duty = DutyTreatment.EXEMPT
            notes.append(f"duty-free up to {band.duty_free_up_to}")
        elif (
            rule.flat_duty is not None
            and not excluded
            and value <= rule.flat_duty.up_to
            and (seller_collects_tax or not rule.flat_duty.requires_seller_collection)
        ):
            duty = DutyTreatment.FLAT
            flat = rule.flat_duty.amount(hs_codes)
            notes.append(f"flat duty {rule.flat_duty.per_distinct_subheading} per distinct tariff subheading")
        else:
            notes.append("duty assessed at the tariff rate")

        tax_due = not (band is not None and band.tax_free_up_to is not None and value <= band.tax_free_up_to)
        at_sale = False
        within_collection = (
            not excluded and rule.seller_collects_up_to is not None and value <= rule.seller_collects_up_to
        )
        if within_collection and (
            rule.seller_collection is SellerCollection.MANDATORY
            or (rule.seller_collection is SellerCollection.OPTIONAL_SCHEME and seller_collects_tax)
        ):
            at_sale = True
            tax_due = False
            notes.append("import tax collected by the seller at the point of sale")
        elif not tax_due:
            notes.append(f"import tax-free up to {band.tax_free_up_to if band else ''}")
        else:
            notes.append("import tax due at import")
        confirmed = rule.confirmed and (
            duty is not DutyTreatment.FLAT or (rule.flat_duty is not None and rule.flat_duty.confirmed)
        )
        return DeMinimisDecision(
            market=market,
            rule_id=rule.id,
            duty=duty,
            flat_duty=flat,
            import_tax_due=tax_due,
            tax_collected_at_sale=at_sale,
            confirmed=confirmed,
            source=rule.source,
            explanation=f"{rule.id}: " + "; ".join(notes),
        )


_RULE_FIELDS = {
    "id", "effective_from", "effective_to", "bands", "excluded_origins", "flat_duty", "seller_collection",
    "seller_collects_up_to", "source", "url", "confirmed", "note",
}  # fmt: skip


def parse_de_minimis(text: str, file: str) -> tuple[DeMinimisRule, ...]:
    """Rules of one market file; errors name the file and the field."""
    root = parse_toml(text, file, exact_decimals=True)
    root.reject_unknown({"market", "currency", "rules"})
    market = root.text("market")
    currency = root.currency("currency")
    rules: list[DeMinimisRule] = []
    for table in root.tables("rules"):
        table.reject_unknown(_RULE_FIELDS)
        rule = DeMinimisRule(
            id=table.text("id"),
            market=market,
            currency=currency,
            effective_from=table.date("effective_from"),
            effective_to=table.date("effective_to", required=False),
            bands=tuple(_band(band, currency) for band in table.tables("bands")),
            excluded_origins=table.countries("excluded_origins"),
            flat_duty=_flat_duty(table.table("flat_duty"), currency) if "flat_duty" in table else None,
            seller_collection=table.choice("seller_collection", SellerCollection, SellerCollection.NONE),
            seller_collects_up_to=(
                table.money("seller_collects_up_to", currency) if "seller_collects_up_to" in table else None
            ),
            source=table.text("source"),
            url=table.text("url", ""),
            confirmed=table.flag("confirmed", False),
            note=table.text("note", ""),
        )
        _check_rule(rule, table, rules)
        rules.append(rule)
    if not rules:
        raise DataFileError(file, "rules", "at least one rule is required")
    return tuple(rules)


def _band(table: DataTable, currency: str) -> DeMinimisBand:
    table.reject_unknown({"channel", "shipped_from", "duty_free_up_to", "tax_free_up_to"})
    return DeMinimisBand(
        channel=table.choice("channel", ImportChannel) if "channel" in table else None,
        shipped_from=table.countries("shipped_from"),
        duty_free_up_to=table.money("duty_free_up_to", currency) if "duty_free_up_to" in table else None,
        tax_free_up_to=table.money("tax_free_up_to", currency) if "tax_free_up_to" in table else None,
    )


def _flat_duty(table: DataTable, currency: str) -> FlatDuty:
    table.reject_unknown(
        {
            "per_distinct_subheading",
            "up_to",
            "subheading_digits",
            "requires_seller_collection",
            "confirmed",
            "note",
        }
    )
    digits = table.integer("subheading_digits")
    if digits not in (6, 8, 10):
        raise table.error("subheading_digits", f"expected 6, 8 or 10, got {digits}")
    return FlatDuty(
        per_distinct_subheading=table.money("per_distinct_subheading", currency),
        up_to=table.money("up_to", currency),
        subheading_digits=digits,
        requires_seller_collection=table.flag("requires_seller_collection", False),
        confirmed=table.flag("confirmed", False),
        note=table.text("note", ""),
    )


def _check_rule(rule: DeMinimisRule, table: DataTable, earlier: list[DeMinimisRule]) -> None:
    if rule.effective_to is not None and rule.effective_to < rule.effective_from:
        raise table.error("effective_to", "is before effective_from")
    if rule.seller_collection is not SellerCollection.NONE and rule.seller_collects_up_to is None:
        raise table.error(
            "seller_collects_up_to", f"required when seller_collection is {rule.seller_collection}"
        )
    keys = [(band.channel, band.shipped_from) for band in rule.bands]
    if len(set(keys)) != len(keys):
        raise table.error("bands", "two bands match the same channel and ship-from countries")
    end = rule.effective_to or dt.date.max
    for other in earlier:
        if other.id == rule.id:
            raise table.error("id", f"duplicate rule id {rule.id!r}")
        if rule.effective_from <= (other.effective_to or dt.date.max) and other.effective_from <= end:
            raise table.error("effective_from", f"overlaps rule {other.id!r}")


_MARKET_FILES = ("us.toml", "eu.toml", "gb.toml", "ca.toml", "au.toml", "jp.toml")


@cache
def load_de_minimis() -> DeMinimisBook:
    """The packaged de minimis rules (customs/data/deminimis/)."""
    folder = files("customs.data.deminimis")
    rules: list[DeMinimisRule] = []
    for name in _MARKET_FILES:
        rules.extend(parse_de_minimis(folder.joinpath(name).read_text(encoding="utf-8"), f"deminimis/{name}"))
    return DeMinimisBook(rules)


def decide_de_minimis(
    country: str,
    on: dt.date,
    consignment_value: Money,
    *,
    channel: ImportChannel | None = None,
    shipped_from: str | None = None,
    origins: Iterable[str] = (),
    seller_collects_tax: bool = False,
    hs_codes: Iterable[str] = (),
) -> DeMinimisDecision:
    """`DeMinimisBook.decide` on the packaged rules."""
    return load_de_minimis().decide(
        country,
        on,
        consignment_value,
        channel=channel,
        shipped_from=shipped_from,
        origins=origins,
        seller_collects_tax=seller_collects_tax,
        hs_codes=hs_codes,
    )
