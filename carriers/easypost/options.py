"""The options of an EasyPost carrier account (`[accounts.options]` in the carriers file), validated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from carriers.accounts import CarrierAccount
from customs.money import FxTable

DEFAULT_API_BASE = "https://api.easypost.com/v2"
NON_DELIVERY_OPTIONS = frozenset({"return", "abandon"})
_KNOWN = frozenset(
    {"api_base", "http_timeout_seconds", "workers", "carrier_accounts", "non_delivery_option", "customs_fx"}
)


@dataclass(frozen=True, slots=True)
class EasyPostOptions:
    """`api_base`: EasyPost's v2 URL (a loopback fake in tests); `http_timeout_seconds`: per HTTP request
    (default: the account policy's timeout); `workers`: threads for the synchronous SDK (default: the
    policy's max_concurrency); `carrier_accounts`: EasyPost carrier account ids to rate with (default: all);
    `non_delivery_option`: return | abandon; `customs_fx`: USD reference rates for customs values of goods
    priced in other currencies ({base, as_of, source, rates = {EUR = "0.92"}}: units per one `base`)."""

    api_base: str
    http_timeout_seconds: float
    workers: int
    carrier_accounts: tuple[str, ...] = ()
    non_delivery_option: str = "return"
    customs_fx: FxTable | None = None

    @classmethod
    def parse(cls, account: CarrierAccount) -> EasyPostOptions:
        options = account.options
        for key in options:
            if key not in _KNOWN:
                raise ValueError(
                    f"options.{key}: unknown option (expected one of: {', '.join(sorted(_KNOWN))})"
                )
        api_base = str(options.get("api_base", DEFAULT_API_BASE)).rstrip("/")
        parts = urlsplit(api_base)
        if parts.scheme not in {"http", "https"} or not parts.netloc or not parts.path.endswith("/v2"):
            raise ValueError(f"options.api_base: expected an http(s) URL ending in /v2, got {api_base!r}")
        timeout = options.get("http_timeout_seconds", account.policy.timeout_seconds)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"options.http_timeout_seconds: expected a positive number, got {timeout!r}")
        workers = options.get("workers", account.policy.max_concurrency)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"options.workers: expected a positive integer, got {workers!r}")
        carrier_accounts = options.get("carrier_accounts", [])
        if not isinstance(carrier_accounts, list) or not all(isinstance(c, str) for c in carrier_accounts):
            raise ValueError("options.carrier_accounts: expected a list of EasyPost carrier account ids")
        non_delivery = options.get("non_delivery_option", "return")
        if non_delivery not in NON_DELIVERY_OPTIONS:
            raise ValueError(f"options.non_delivery_option: expected return or abandon, got {non_delivery!r}")
        fx = options.get("customs_fx")
        return cls(
            api_base=api_base,
            http_timeout_seconds=float(timeout),
            workers=workers,
            carrier_accounts=tuple(carrier_accounts),
            non_delivery_option=str(non_delivery),
            customs_fx=None if fx is None else parse_fx(fx, "options.customs_fx"),
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
