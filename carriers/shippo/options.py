"""The options of a Shippo carrier account (`[accounts.options]` in the carriers file), validated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from carriers.accounts import CarrierAccount
from customs.countries import validate_country
from customs.money import FxTable

DEFAULT_SERVER_URL = "https://api.goshippo.com"
INCOTERMS = frozenset({"DDP", "DDU", "FCA", "DAP", "eDAP"})
DUTIES_PAYOR_TYPES = frozenset({"SENDER", "RECIPIENT", "THIRD_PARTY"})
NON_DELIVERY_OPTIONS = frozenset({"RETURN", "ABANDON"})
SIGNATURE_HEADER = "Shippo-Auth-Signature"
_KNOWN = frozenset(
    {
        "server_url",
        "http_timeout_seconds",
        "workers",
        "carrier_accounts",
        "incoterm",
        "duties_payor",
        "non_delivery_option",
        "customs_fx",
        "webhook_signature_header",
        "webhook_max_age_seconds",
    }
)


@dataclass(frozen=True, slots=True)
class DutiesPayor:
    """Who Shippo bills duties to (FedEx only, per Shippo). Never derived from the incoterm."""

    type: str
    account: str = ""
    name: str = ""
    zip: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class ShippoOptions:
    """`server_url`: Shippo's API (a loopback fake in tests); `http_timeout_seconds` (default: the account
    policy's timeout) and `workers` (default: its max_concurrency); `carrier_accounts`: Shippo carrier
    account object ids to rate with; `incoterm` (default DDU) and `duties_payor` ({type, account, name, zip,
    country}), set independently; `non_delivery_option`: RETURN | ABANDON; `customs_fx`: USD reference rates
    to test the US export threshold for goods priced in other currencies; `webhook_signature_header` and
    `webhook_max_age_seconds` for HMAC-signed webhooks."""

    server_url: str
    http_timeout_seconds: float
    workers: int
    carrier_accounts: tuple[str, ...] = ()
    incoterm: str = "DDU"
    duties_payor: DutiesPayor | None = None
    non_delivery_option: str = "RETURN"
    customs_fx: FxTable | None = None
    webhook_signature_header: str = SIGNATURE_HEADER
    webhook_max_age_seconds: float = 300.0

    @classmethod
    def parse(cls, account: CarrierAccount) -> ShippoOptions:
        options = account.options
        for key in options:
            if key not in _KNOWN:
                raise ValueError(
                    f"options.{key}: unknown option (expected one of: {', '.join(sorted(_KNOWN))})"
                )
        server_url = str(options.get("server_url", DEFAULT_SERVER_URL)).rstrip("/")
        parts = urlsplit(server_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"options.server_url: expected an http(s) URL, got {server_url!r}")
        timeout = _positive_number(options, "http_timeout_seconds", account.policy.timeout_seconds)
        workers = options.get("workers", account.policy.max_concurrency)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"options.workers: expected a positive integer, got {workers!r}")
        carrier_accounts = options.get("carrier_accounts", [])
        if not isinstance(carrier_accounts, list) or not all(isinstance(c, str) for c in carrier_accounts):
            raise ValueError("options.carrier_accounts: expected a list of Shippo carrier account object ids")
        incoterm = options.get("incoterm", "DDU")
        if incoterm not in INCOTERMS:
            raise ValueError(
                f"options.incoterm: expected one of {', '.join(sorted(INCOTERMS))}, got {incoterm!r}"
            )
        non_delivery = options.get("non_delivery_option", "RETURN")
        if non_delivery not in NON_DELIVERY_OPTIONS:
            raise ValueError(f"options.non_delivery_option: expected RETURN or ABANDON, got {non_delivery!r}")
        header = options.get("webhook_signature_header", SIGNATURE_HEADER)
        if not isinstance(header, str) or not header.strip():
            raise ValueError("options.webhook_signature_header: expected a header name")
        fx = options.get("customs_fx")
        return cls(
            server_url=server_url,
            http_timeout_seconds=timeout,
            workers=workers,
            carrier_accounts=tuple(carrier_accounts),
            incoterm=str(incoterm),
            duties_payor=_duties_payor(options.get("duties_payor")),
            non_delivery_option=str(non_delivery),
            customs_fx=None if fx is None else parse_fx(fx, "options.customs_fx"),
            webhook_signature_header=header.strip(),
            webhook_max_age_seconds=_positive_number(options, "webhook_max_age_seconds", 300.0),
        )


def _positive_number(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"options.{key}: expected a positive number, got {value!r}")
    return float(value)


def _duties_payor(value: Any) -> DutiesPayor | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(
            "options.duties_payor: expected a table with type and optionally account, name, zip, country"
        )
    unknown = set(value) - {"type", "account", "name", "zip", "country"}
    if unknown:
        raise ValueError(f"options.duties_payor.{sorted(unknown)[0]}: unknown field")
    payor_type = value.get("type")
    if payor_type not in DUTIES_PAYOR_TYPES:
        raise ValueError(
            f"options.duties_payor.type: expected one of {', '.join(sorted(DUTIES_PAYOR_TYPES))}, "
            f"got {payor_type!r}"
        )
    country = str(value.get("country", ""))
    if country:
        try:
            country = validate_country(country)
        except ValueError as exc:
            raise ValueError(f"options.duties_payor.country: {exc}") from exc
    return DutiesPayor(
        type=str(payor_type),
        account=str(value.get("account", "")),
        name=str(value.get("name", "")),
        zip=str(value.get("zip", "")),
        country=country,
    )


def parse_fx(value: Any, where: str) -> FxTable:
    """An FxTable from `{base, as_of, source, rates}` with decimal strings, naming the bad field."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a table with base, as_of, source and rates")
    unknown = set(value) - {"base", "as_of", "source", "rates"}
    if unknown:
        raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown field")
    as_of = value.get("as_of")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise ValueError(f"{where}.as_of: expected a date such as 2026-11-02")
    rates = value.get("rates")
    if not isinstance(rates, Mapping) or not rates:
        raise ValueError(f'{where}.rates: expected a table of currency = "rate"')
    parsed: dict[str, Decimal] = {}
    for code, rate in rates.items():
        if isinstance(rate, bool) or not isinstance(rate, str | int):
            raise ValueError(f'{where}.rates.{code}: expected a decimal string such as "0.92"')
        try:
            parsed[str(code)] = Decimal(rate)
        except InvalidOperation:
            raise ValueError(f"{where}.rates.{code}: not a decimal number: {rate!r}") from None
    try:
        return FxTable(
            base=str(value.get("base", "USD")), as_of=as_of, rates=parsed, source=str(value.get("source", ""))
        )
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
