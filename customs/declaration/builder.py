"""Builds the customs declaration of a return and reports every problem of the request at once.

Decisions:
- Form (UPU): a parcel always gets CN 23; a letter-post item gets CN 22 up to 300 SDR and CN 23 above,
  converted with the given FX table (its XDR rate). Both figures come from declaration_requirements.toml.
- Currency: all lines must be in one currency, the one the original invoice was issued in. Lines in other
  currencies are refused rather than converted, because a declaration must state the invoiced values; the
  FX table is used only to test thresholds (SDR for the form, USD for the US EEI filing).
- Incoterm and duty payer are separate inputs and are never inferred from each other.
- A party counts as a business, and so may need an EORI, when its address names an organisation.
- A missing FX rate that a threshold needs raises customs.money.MissingFxRate: that is a configuration
  problem of the rate table, not of the request.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from customs.address import InvalidAddress, Party
from customs.countries import UnknownCountry, validate_country
from customs.declaration.eori import Eori, InvalidEori, validate_eori
from customs.declaration.model import (
    ContentsCategory,
    CustomsDeclaration,
    DeclarationForm,
    DeclarationInvalid,
    DeclarationLine,
    DeclarationProblem,
    DeclarationReferences,
    DeclarationRequest,
    DeclarationTotals,
    MailClass,
)
from customs.declaration.requirements import (
    DeclarationRules,
    ExportFilingRule,
    Lane,
    PartyKind,
    PartyRole,
    declaration_required,
    declaration_rules,
)
from customs.goods import ReturnedItem
from customs.hs import (
    HsEditionUnavailable,
    InvalidHsCode,
    edition_in_force,
    normalize_hs_digits,
    validate_hs_code,
)
from customs.money import FxTable, MissingFxRate, Money, total
from customs.territories import customs_territories, customs_territory


class _Problems:
    """Collects problems in the order found, one per path (the first reason wins)."""

    def __init__(self) -> None:
        self._found: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self._found.setdefault(path, message)

    def __len__(self) -> int:
        return len(self._found)

    def raise_if_any(self) -> None:
        if self._found:
            raise DeclarationInvalid([DeclarationProblem(p, m) for p, m in self._found.items()])


def _checked_party(party: Party, role: str, problems: _Problems) -> Party | None:
    if not party.contact.name.strip():
        problems.add(f"{role}.contact.name", "required: the name printed on the declaration")
    try:
        address = party.address.validated()
    except InvalidAddress as exc:
        problems.add(f"{role}.address.{exc.field}", exc.message)
        return None
    return Party(party.contact, address)


def _lane(sender: Party | None, addressee: Party | None, on: dt.date, problems: _Problems) -> Lane | None:
    if sender is None or addressee is None:
        return None
    origin, destination = sender.address.country, addressee.address.country
    if not declaration_required(origin, destination, on):
        territory = customs_territory(origin, on)
        name = customs_territories()[territory].name if territory in customs_territories() else territory
        problems.add(
            "addressee.address.region_code",
            f"{origin} to {destination} stays inside one customs territory ({name}): "
            "a return between them needs no customs declaration",
        )
        return None
    return Lane(customs_territory(origin, on), customs_territory(destination, on))


def _hs_edition(on: dt.date, problems: _Problems) -> str | None:
    try:
        return edition_in_force(on).name
    except HsEditionUnavailable as exc:
        problems.add("declaration_date", str(exc))
        return None


def _line(
    item: ReturnedItem, path: str, on: dt.date, currency: str, edition_known: bool, problems: _Problems
) -> DeclarationLine | None:
    found_before = len(problems)
    if not item.description.strip():
        problems.add(f"{path}.description", "required: say what the goods are (e.g. 'cotton T-shirt')")
    if item.quantity <= 0:
        problems.add(f"{path}.quantity", f"must be at least 1, got {item.quantity}")
    if item.unit_weight_grams <= 0:
        problems.add(f"{path}.unit_weight_grams", f"must be more than 0 g, got {item.unit_weight_grams}")
    if item.unit_value.amount <= 0:
        problems.add(
            f"{path}.unit_value", "must be more than zero: customs needs the value of returned goods"
        )
    if item.unit_value.currency != currency:
        problems.add(
            f"{path}.unit_value.currency",
            f"{item.unit_value.currency} differs from {currency} of items[0]: one currency per declaration",
        )
    origin = ""
    try:
        origin = validate_country(item.origin_country)
    except UnknownCountry as exc:
        problems.add(f"{path}.origin_country", str(exc))
    hs_code = None
    if not item.hs_code.strip():
        problems.add(f"{path}.hs_code", "required: the goods' HS code (6 digits, or 8/10 national digits)")
    else:
        try:
            if edition_known:
                hs_code = validate_hs_code(item.hs_code, on)
            else:
                normalize_hs_digits(item.hs_code)  # still report what is wrong in any edition
        except InvalidHsCode as exc:
            problems.add(f"{path}.hs_code", exc.reason)
    if hs_code is None or len(problems) != found_before:
        return None
    return DeclarationLine(
        description=item.description.strip(),
        quantity=item.quantity,
        net_weight_grams=item.line_weight_grams,
        unit_value=item.unit_value,
        value=item.line_value.rounded(),
        hs_code=hs_code,
        origin_country=origin,
        sku=item.sku.strip(),
    )


def _check_order_dates(request: DeclarationRequest, problems: _Problems) -> None:
    order, on = request.original_order, request.declaration_date
    if order.order_date and order.order_date > on:
        problems.add("original_order.order_date", f"{order.order_date} is after the declaration date {on}")
    if order.delivery_date and order.delivery_date > on:
        problems.add(
            "original_order.delivery_date", f"{order.delivery_date} is after the declaration date {on}"
        )
    if order.order_date and order.delivery_date and order.delivery_date < order.order_date:
        problems.add(
            "original_order.delivery_date",
            f"{order.delivery_date} is before the order date {order.order_date}",
        )


def _tax_id(party: Party, scheme: str) -> tuple[str, str] | None:
    """(key as given, value) of the party's tax id of `scheme`, matching the key case-insensitively."""
    for key, value in party.contact.tax_ids.items():
        if key.strip().upper() == scheme and value.strip():
            return key, value
    return None


def _checked_eoris(request: DeclarationRequest, problems: _Problems) -> dict[str, Eori]:
    """Every EORI given, checked whether or not the lane needs it; valid ones by role."""
    valid: dict[str, Eori] = {}
    for role, party in (("sender", request.sender), ("addressee", request.addressee)):
        given = _tax_id(party, "EORI")
        if given is None:
            continue
        try:
            valid[role] = validate_eori(given[1])
        except InvalidEori as exc:
            problems.add(f"{role}.contact.tax_ids.{given[0]}", exc.reason)
    return valid


def _apply_tax_id_rules(
    request: DeclarationRequest,
    lane: Lane,
    rules: DeclarationRules,
    eoris: dict[str, Eori],
    problems: _Problems,
) -> list[str]:
    applied: list[str] = []
    for rule in rules.tax_ids:
        if not (rule.rule.in_force_on(request.declaration_date) and rule.scope.matches(lane)):
            continue
        party = request.sender if rule.party is PartyRole.SENDER else request.addressee
        if rule.party_kind is PartyKind.BUSINESS and not party.address.organization.strip():
            continue
        applied.append(rule.rule.id)
        given = _tax_id(party, rule.scheme)
        path = f"{rule.party}.contact.tax_ids.{given[0] if given else rule.scheme}"
        if given is None:
            problems.add(path, f"required: {rule.rule.summary} (rule {rule.rule.id})")
            continue
        eori = eoris.get(rule.party)
        if eori is not None and not rule.accepts_issuer(eori.issuer, request.declaration_date):
            problems.add(path, f"an EORI issued under {eori.issuer} does not serve here: {rule.rule.summary}")
    return applied


def _apply_reference_rules(
    request: DeclarationRequest, lane: Lane, rules: DeclarationRules, problems: _Problems
) -> list[str]:
    applied: list[str] = []
    origins = {item.origin_country.strip().upper() for item in request.items}
    for rule in rules.references:
        if not (rule.rule.in_force_on(request.declaration_date) and rule.scope.matches(lane)):
            continue
        if rule.when_origin and rule.when_origin not in origins:
            continue
        applied.append(rule.rule.id)
        for field in rule.fields:
            value = str(getattr(request.original_order, field)).strip()
            path = f"original_order.{field}"
            if not value:
                problems.add(path, f"required: {rule.rule.summary} (rule {rule.rule.id})")
            elif field in rule.formats and not rule.formats[field].accepts(value):
                problems.add(
                    path, f"{value!r} is not {rule.formats[field].description} (rule {rule.rule.id})"
                )
    return applied


def _export_filing(
    request: DeclarationRequest,
    lane: Lane,
    rule: ExportFilingRule,
    lines: Sequence[DeclarationLine],
    fx: FxTable,
    problems: _Problems,
) -> str:
    """The EEL/PFC legend for an export under `rule`; reports a missing or malformed filing number."""
    itn = request.aes_itn.strip()
    if itn and not rule.itn_format.accepts(itn):
        problems.add("aes_itn", f"{itn!r} is not {rule.itn_format.description}")
    if itn:
        return f"{rule.filed_legend_prefix} {itn}"
    exempt = rule.exempt_destinations.get(request.addressee.address.country.strip().upper())
    if exempt:
        return exempt
    per_code: dict[str, Money] = defaultdict(lambda: Money.zero(rule.threshold.currency))
    for line in lines:
        per_code[line.hs_code.digits] += fx.convert(line.value, rule.threshold.currency)
    over = {code: value for code, value in per_code.items() if value > rule.threshold}
    if over:
        detail = ", ".join(f"{code} totals {value}" for code, value in sorted(over.items()))
        problems.add(
            "aes_itn", f"required: {rule.rule.summary}; {detail} (rule {rule.rule.id}, FX as of {fx.as_of})"
        )
    return rule.exemption_legend


def build_customs_declaration(request: DeclarationRequest, fx: FxTable) -> CustomsDeclaration:
    """The declaration for a cross-border return, or DeclarationInvalid listing every problem with its path.

    `fx` converts values for thresholds only (SDR for CN 22/CN 23, USD for the US EEI); its as-of date is
    recorded in the result.
    """
    problems = _Problems()
    rules = declaration_rules()
    on = request.declaration_date
    sender = _checked_party(request.sender, "sender", problems)
    addressee = _checked_party(request.addressee, "addressee", problems)
    lane = _lane(sender, addressee, on, problems)
    hs_edition = _hs_edition(on, problems)

    if not request.items:
        problems.add("items", "at least one returned item is required")
    currency = request.items[0].unit_value.currency if request.items else ""
    built = [
        _line(item, f"items[{i}]", on, currency, hs_edition is not None, problems)
        for i, item in enumerate(request.items)
    ]
    lines = tuple(line for line in built if line is not None)
    complete = bool(request.items) and len(lines) == len(request.items)

    net_grams = sum(line.net_weight_grams for line in lines)
    if request.gross_weight_grams <= 0:
        problems.add("gross_weight_grams", f"must be more than 0 g, got {request.gross_weight_grams}")
    elif complete and request.gross_weight_grams < net_grams:
        problems.add(
            "gross_weight_grams",
            f"{request.gross_weight_grams} g is less than the lines' net weight of {net_grams} g",
        )
    postal = rules.postal_forms
    if (
        request.mail_class is MailClass.LETTER_POST
        and request.gross_weight_grams > postal.letter_post_max_grams
    ):
        problems.add(
            "mail_class",
            f"letter post carries at most {postal.letter_post_max_grams} g and this item weighs "
            f"{request.gross_weight_grams} g: send it as a parcel",
        )

    for field in ("incoterm", "duty_payer", "non_delivery_option"):
        if getattr(request, field) is None:
            problems.add(field, "required")
    certification = request.certification
    if certification is None:
        problems.add("certification", "required: the sender certifies that the particulars are correct")
    else:
        if not certification.signer_name.strip():
            problems.add("certification.signer_name", "required: who certifies the declaration")
        if certification.signed_on > on:
            problems.add(
                "certification.signed_on", f"{certification.signed_on} is after the declaration date {on}"
            )
    _check_order_dates(request, problems)

    eoris = _checked_eoris(request, problems)
    applied: list[str] = []
    eel_pfc = ""
    if lane is not None:
        applied += _apply_tax_id_rules(request, lane, rules, eoris, problems)
        applied += _apply_reference_rules(request, lane, rules, problems)
        filings = [r for r in rules.export_filings if r.rule.in_force_on(on) and r.territory == lane.origin]
        for filing in filings:
            applied.append(filing.rule.id)
            if complete:
                eel_pfc = _export_filing(request, lane, filing, lines, fx, problems)
        if not filings and request.aes_itn.strip():
            problems.add(
                "aes_itn", f"an AES filing belongs to exports from the US; this return leaves {lane.origin}"
            )

    value = total((line.value for line in lines), currency) if complete else None
    value_sdr = None
    if value is not None:
        try:
            value_sdr = fx.convert(value, postal.cn22_max_value.currency)
        except MissingFxRate:
            if request.mail_class is MailClass.LETTER_POST:
                raise  # the form cannot be chosen without it
    problems.raise_if_any()
    # Everything below was checked above; the asserts only narrow types for the checker.
    assert sender is not None
    assert addressee is not None
    assert value is not None
    assert certification is not None
    assert hs_edition is not None
    assert request.incoterm is not None
    assert request.duty_payer is not None
    assert request.non_delivery_option is not None

    cn22 = (
        request.mail_class is MailClass.LETTER_POST
        and value_sdr is not None
        and value_sdr <= postal.cn22_max_value
    )
    order = request.original_order
    return CustomsDeclaration(
        form=DeclarationForm.CN22 if cn22 else DeclarationForm.CN23,
        category=ContentsCategory.RETURNED_GOODS,
        mail_class=request.mail_class,
        lines=lines,
        totals=DeclarationTotals(
            value=value,
            value_sdr=value_sdr,
            net_weight_grams=net_grams,
            gross_weight_grams=request.gross_weight_grams,
            quantity=sum(line.quantity for line in lines),
        ),
        references=DeclarationReferences(
            order_id=order.order_id.strip(),
            outbound_tracking_number=order.outbound_tracking_number.strip(),
            invoice_number=order.invoice_number.strip(),
            export_reference=order.export_reference.strip(),
            import_entry_number=order.import_entry_number.strip(),
            aes_itn=request.aes_itn.strip(),
            eel_pfc=eel_pfc,
        ),
        sender=sender,
        addressee=addressee,
        incoterm=request.incoterm,
        duty_payer=request.duty_payer,
        non_delivery_option=request.non_delivery_option,
        certification=certification,
        declaration_date=on,
        hs_edition=hs_edition,
        fx_as_of=fx.as_of,
        rules_applied=tuple(applied),
    )
