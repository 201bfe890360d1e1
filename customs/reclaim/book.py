"""The regime book: every reclaim regime loaded from customs/data/reclaim/*.toml and validated.

Errors name the file and the field (`reclaim/au_b807.toml: refunds[0].percent: ...`). A regime id may have
several versions with non-overlapping effective dates; the case's date picks the version (never today's date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from importlib.resources import files

from customs.countries import UnknownCountry, validate_country
from customs.datafile import DataFileError, DataTable, parse_toml
from customs.goods import ItemCondition, ReturnReason
from customs.reclaim.components import ChargeComponent
from customs.reclaim.regime import (
    ComponentExclusion,
    ComponentRefundRule,
    DesignatedImportRule,
    ExclusionCondition,
    ImporterType,
    ReclaimForm,
    RefundMethod,
    Regime,
    RegimeConditions,
    Source,
)
from customs.reclaim.timelimits import Anchor, LimitScope, Period, TimeLimit

_TOP_FIELDS = {
    "id", "market", "name", "legal_basis", "sources", "effective_from", "effective_to", "selected_by",
    "claimant", "filing_effort", "combines_with", "export_required", "claim_before_export", "refund_method",
    "currency", "minimum_claim", "conditions", "time_limits", "refunds", "exclusions", "forms", "documents",
    "proof_of_export", "confirmed", "note",
}  # fmt: skip
_CONDITION_FIELDS = {
    "reasons", "reasons_rule", "conditions", "unused_required", "used_rule", "importer_types",
    "tax_collected_at_sale", "identification_at_import", "designated_import", "min_export_value_percent",
    "confirmed", "note",
}  # fmt: skip
_PERIOD_FIELDS = {"years", "months", "days", "end_of_month"}


def _market(record: DataTable) -> str:
    market = record.text("market")
    if market == "EU":
        return market
    try:
        return validate_country(market)
    except UnknownCountry as exc:
        raise record.error("market", f"{exc} or 'EU'") from None


def _period(record: DataTable) -> Period:
    years, months, days = (record.integer(key, 0) for key in ("years", "months", "days"))
    try:
        return Period(years, months, days, end_of_month=record.flag("end_of_month", False))
    except ValueError as exc:
        raise record.error("years", str(exc)) from None


def _conditions(record: DataTable | None) -> RegimeConditions:
    if record is None:
        return RegimeConditions()
    record.reject_unknown(_CONDITION_FIELDS)
    designated: DesignatedImportRule | None = None
    if "designated_import" in record:
        table = record.table("designated_import")
        table.reject_unknown(_PERIOD_FIELDS | {"hs_digits", "confirmed", "citation"})
        digits = table.integer("hs_digits")
        if digits not in (6, 8, 10):
            raise table.error("hs_digits", f"expected 6, 8 or 10, got {digits}")
        designated = DesignatedImportRule(
            _period(table), digits, table.flag("confirmed", False), table.text("citation", "")
        )
    export_share = (
        record.percent("min_export_value_percent") if "min_export_value_percent" in record else None
    )
    return RegimeConditions(
        reasons=frozenset(record.choices("reasons", ReturnReason)) if "reasons" in record else None,
        reasons_rule=record.text("reasons_rule", ""),
        conditions=frozenset(record.choices("conditions", ItemCondition)) if "conditions" in record else None,
        unused_required=record.flag("unused_required", False),
        used_rule=record.text("used_rule", ""),
        importer_types=(
            frozenset(record.choices("importer_types", ImporterType)) if "importer_types" in record else None
        ),
        tax_collected_at_sale=(
            record.flag("tax_collected_at_sale") if "tax_collected_at_sale" in record else None
        ),
        identification_at_import=record.flag("identification_at_import", False),
        designated_import=designated,
        min_export_value_percent=export_share,
        confirmed=record.flag("confirmed", False),
        note=record.text("note", ""),
    )


def _time_limit(record: DataTable) -> TimeLimit:
    record.reject_unknown(_PERIOD_FIELDS | {"anchor", "applies_to", "confirmed", "citation", "note"})
    scopes = record.choices("applies_to", LimitScope)
    if not scopes:
        raise record.error("applies_to", "missing (export, claim or both)")
    return TimeLimit(
        anchor=record.choice("anchor", Anchor),
        period=_period(record),
        applies_to=frozenset(scopes),
        confirmed=record.flag("confirmed", False),
        citation=record.text("citation", ""),
        note=record.text("note", ""),
    )


def _refund(record: DataTable) -> ComponentRefundRule:
    record.reject_unknown({"component", "percent", "confirmed", "retained_reason", "citation", "note"})
    percent = record.percent("percent")
    if percent == 0:
        raise record.error("percent", "a refund of 0 % is an exclusion: list it under [[exclusions]]")
    rule = ComponentRefundRule(
        component=record.choice("component", ChargeComponent),
        percent=percent,
        confirmed=record.flag("confirmed", False),
        retained_reason=record.text("retained_reason", ""),
        citation=record.text("citation", ""),
        note=record.text("note", ""),
    )
    if percent < 100 and not rule.retained_reason:
        raise record.error("retained_reason", "required when percent is below 100")
    return rule


def _exclusion(record: DataTable) -> ComponentExclusion:
    record.reject_unknown({"component", "reason", "when"})
    return ComponentExclusion(
        component=record.choice("component", ChargeComponent),
        reason=record.text("reason"),
        when=record.choice("when", ExclusionCondition) if "when" in record else None,
    )


def _form(record: DataTable) -> ReclaimForm:
    record.reject_unknown({"code", "name", "authority"})
    return ReclaimForm(record.text("code"), record.text("name"), record.text("authority"))


def _source(record: DataTable) -> Source:
    record.reject_unknown({"citation", "url"})
    url = record.text("url", "")
    if url and not url.startswith(("https://", "http://")):
        raise record.error("url", f"expected a web address, got {url!r}")
    return Source(record.text("citation"), url)


def parse_regime(text: str, file: str) -> Regime:
    """One regime file; raises DataFileError naming the file and the field."""
    root = parse_toml(text, file, exact_decimals=True)
    root.reject_unknown(_TOP_FIELDS)
    currency = root.currency("currency")
    selected_by = root.choice("selected_by", Anchor, Anchor.IMPORT_DATE)
    if selected_by not in (Anchor.IMPORT_DATE, Anchor.EXPORT_DATE):
        raise root.error("selected_by", "expected import_date or export_date")
    effort = root.integer("filing_effort", 1)
    if effort < 1:
        raise root.error("filing_effort", "expected 1 (simplest) or more")
    regime = Regime(
        id=root.text("id"),
        market=_market(root),
        name=root.text("name"),
        legal_basis=root.text("legal_basis"),
        sources=tuple(_source(record) for record in root.tables("sources")),
        effective_from=root.date("effective_from"),
        effective_to=root.date("effective_to", required=False),
        selected_by=selected_by,
        claimant=root.text("claimant"),
        filing_effort=effort,
        combines_with=frozenset(root.strings("combines_with")),
        export_required=root.flag("export_required", True),
        claim_before_export=root.flag("claim_before_export", False),
        refund_method=root.choice("refund_method", RefundMethod, RefundMethod.SHARE_OF_PAID),
        currency=currency,
        minimum_claim=root.money("minimum_claim", currency) if "minimum_claim" in root else None,
        conditions=_conditions(root.table("conditions", required=False)),
        time_limits=tuple(_time_limit(record) for record in root.tables("time_limits")),
        refunds=tuple(_refund(record) for record in root.tables("refunds")),
        exclusions=tuple(_exclusion(record) for record in root.tables("exclusions")),
        forms=tuple(_form(record) for record in root.tables("forms")),
        documents=tuple(root.strings("documents")),
        proof_of_export=tuple(root.strings("proof_of_export")),
        confirmed=root.flag("confirmed", False),
        note=root.text("note", ""),
        file=file,
    )
    _check(regime, root)
    return regime


def _check(regime: Regime, root: DataTable) -> None:
    if not regime.sources:
        raise root.error("sources", "at least one source is required")
    if regime.effective_to is not None and regime.effective_to < regime.effective_from:
        raise root.error("effective_to", "is before effective_from")
    if not regime.time_limits:
        raise root.error("time_limits", "at least one time limit is required")
    if not regime.limits(LimitScope.CLAIM):
        raise root.error("time_limits", "no time limit applies to the claim")
    if not regime.refunds:
        raise root.error("refunds", "at least one refundable component is required")
    seen: set[ChargeComponent] = set()
    for index, rule in enumerate(regime.refunds):
        if rule.component in seen:
            raise root.error(f"refunds[{index}].component", f"{rule.component.value} listed twice")
        seen.add(rule.component)
    for index, exclusion in enumerate(regime.exclusions):
        if exclusion.when is None and exclusion.component in seen:
            raise root.error(
                f"exclusions[{index}].component",
                f"{exclusion.component.value} is both refundable and always excluded",
            )
    if regime.refund_method is RefundMethod.PRICE_REBATE and {rule.component for rule in regime.refunds} != {
        ChargeComponent.DUTY
    }:
        raise root.error("refunds", "the price_rebate method refunds duty only")
    if regime.id in regime.combines_with:
        raise root.error("combines_with", "a regime cannot combine with itself")
    if not regime.forms:
        raise root.error("forms", "at least one form or filing channel is required")


class RegimeBook:
    """All regimes, by market and date."""

    def __init__(self, regimes: Iterable[Regime]) -> None:
        self.regimes = tuple(
            sorted(regimes, key=lambda regime: (regime.market, regime.id, regime.effective_from))
        )
        self._check_versions()
        self._check_combinations()

    def _check_versions(self) -> None:
        for index, regime in enumerate(self.regimes):
            for other in self.regimes[:index]:
                if other.id != regime.id:
                    continue
                if other.market != regime.market:
                    raise DataFileError(
                        regime.file, "market", f"{regime.id} is also a regime of {other.market}"
                    )
                if regime.effective_from <= (other.effective_to or dt.date.max):
                    raise DataFileError(
                        regime.file, "effective_from", f"overlaps the version of {regime.id} in {other.file}"
                    )

    def _check_combinations(self) -> None:
        by_id = {regime.id: regime for regime in self.regimes}
        for regime in self.regimes:
            for partner_id in sorted(regime.combines_with):
                partner = by_id.get(partner_id)
                if partner is None:
                    raise DataFileError(regime.file, "combines_with", f"unknown regime {partner_id!r}")
                if partner.market != regime.market:
                    raise DataFileError(
                        regime.file, "combines_with", f"{partner_id} belongs to {partner.market}"
                    )
                if regime.id not in partner.combines_with:
                    raise DataFileError(
                        partner.file, "combines_with", f"must list {regime.id!r} (combinations are mutual)"
                    )

    def markets(self) -> tuple[str, ...]:
        return tuple(sorted({regime.market for regime in self.regimes}))

    def regime_ids(self, market: str) -> tuple[str, ...]:
        return tuple(sorted({regime.id for regime in self.regimes if regime.market == market}))

    def versions(self, regime_id: str) -> tuple[Regime, ...]:
        return tuple(regime for regime in self.regimes if regime.id == regime_id)

    def version_on(self, regime_id: str, on: dt.date) -> Regime | None:
        return next((regime for regime in self.versions(regime_id) if regime.in_effect(on)), None)


def parse_regime_book(texts: Iterable[tuple[str, str]]) -> RegimeBook:
    """A book from (file name, TOML text) pairs."""
    return RegimeBook(parse_regime(text, name) for name, text in texts)


@cache
def load_regime_book() -> RegimeBook:
    """The packaged regimes (customs/data/reclaim/*.toml)."""
    folder = files("customs.data.reclaim")
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".toml")), key=lambda e: e.name
    )
    return parse_regime_book(
        (f"reclaim/{entry.name}", entry.read_text(encoding="utf-8")) for entry in entries
    )
