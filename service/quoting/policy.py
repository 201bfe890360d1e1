"""Return policies per market and their decision for one return (service/defaults/return_policies.toml).

The policy is the one for the customer's country in force on the order date (the decision date when the
order date is unknown): a customer keeps the terms they bought under.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from importlib.resources.abc import Traversable
from pathlib import Path

from customs.countries import validate_country
from customs.datafile import DataTable, read_toml
from customs.goods import OriginalOrder, ReturnReason
from customs.money import Money, validate_currency


class ReturnCostPayer(StrEnum):
    MERCHANT = "merchant"
    CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    id: str
    countries: frozenset[str]
    currency: str
    window_days: int
    payer: ReturnCostPayer
    customer_fee: Money
    effective_from: dt.date
    effective_until: dt.date | None = None  # exclusive
    merchant_pays_reasons: frozenset[ReturnReason] = frozenset()
    conformity_window_days: int | None = None  # window for merchant_pays_reasons, when longer
    fallback: bool = False

    def in_force_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day < self.effective_until)


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    policy_id: str
    eligible: bool
    reason: str
    window_end: dt.date | None
    payer: ReturnCostPayer
    customer_fee: Money  # zero when the merchant pays


class NoReturnPolicy(LookupError):
    pass


_CHOSEN_KEPT = 4096  # (country, day) answers kept; more are forgotten all at once (days move on)


@dataclass(frozen=True, slots=True)
class ReturnPolicyBook:
    policies: tuple[ReturnPolicy, ...]
    source: str = ""
    # The policy chosen for (country, day): a lookup in fixed data, made for every quote.
    _chosen: dict[tuple[str, dt.date], ReturnPolicy] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def policy_for(self, country: str, on: dt.date) -> ReturnPolicy:
        chosen = self._chosen.get((country, on))
        if chosen is not None:
            return chosen
        in_force = [p for p in self.policies if p.in_force_on(on)]
        chosen = next((p for p in in_force if country in p.countries), None) or next(
            (p for p in in_force if p.fallback), None
        )
        if chosen is None:
            raise NoReturnPolicy(f"no return policy for {country} in force on {on.isoformat()}")
        if len(self._chosen) >= _CHOSEN_KEPT:
            self._chosen.clear()
        self._chosen[country, on] = chosen
        return chosen

    def decide(
        self,
        country: str,
        order: OriginalOrder | None,
        reasons: Sequence[ReturnReason],
        today: dt.date,
    ) -> PolicyDecision:
        order_date = order.order_date if order else None
        delivery_date = order.delivery_date if order else None
        policy = self.policy_for(country, order_date or today)
        conformity = sorted({r for r in reasons if r in policy.merchant_pays_reasons})
        window_days = policy.window_days
        if conformity and policy.conformity_window_days:
            window_days = max(window_days, policy.conformity_window_days)
        if conformity:
            payer, fee = ReturnCostPayer.MERCHANT, Money.zero(policy.currency).rounded()
            cost_note = f"the merchant pays for returns because {', '.join(r.value for r in conformity)}"
        elif policy.payer is ReturnCostPayer.MERCHANT:
            payer, fee = ReturnCostPayer.MERCHANT, Money.zero(policy.currency).rounded()
            cost_note = "the merchant pays for returns"
        else:
            payer, fee = ReturnCostPayer.CUSTOMER, policy.customer_fee
            cost_note = f"the customer pays {fee}"
        start, start_name = (delivery_date, "delivery") if delivery_date else (order_date, "order")
        if start is None:
            reason = (
                f"no delivery or order date given: the {window_days}-day window was not checked; {cost_note}"
            )
            return PolicyDecision(policy.id, True, reason, None, payer, fee)
        window_end = start + dt.timedelta(days=window_days)
        if today > window_end:
            reason = f"the {window_days}-day window from {start_name} ended on {window_end.isoformat()}"
            return PolicyDecision(policy.id, False, reason, window_end, payer, fee)
        reason = f"within the {window_days}-day window from {start_name} ({policy.id}); {cost_note}"
        return PolicyDecision(policy.id, True, reason, window_end, payer, fee)


def load_return_policies(path: Path | Traversable, source: str | None = None) -> ReturnPolicyBook:
    return parse_return_policies(read_toml(path, source))


_POLICY_FIELDS = frozenset(
    {
        "id",
        "countries",
        "fallback",
        "currency",
        "window_days",
        "payer",
        "customer_fee",
        "merchant_pays_reasons",
        "conformity_window_days",
        "effective_from",
        "effective_until",
    }
)


def parse_return_policies(document: DataTable) -> ReturnPolicyBook:
    document.reject_unknown({"source", "policies"})
    policies = tuple(_parse_policy(entry) for entry in document.tables("policies", required=True))
    ids = [p.id for p in policies]
    if len(ids) != len(set(ids)):
        raise document.error("policies", f"duplicate policy ids in {ids}")
    return ReturnPolicyBook(policies, document.text("source", ""))


def _parse_policy(entry: DataTable) -> ReturnPolicy:
    entry.reject_unknown(_POLICY_FIELDS)
    currency = entry.checked("currency", entry.text("currency"), validate_currency)
    payer = entry.checked("payer", entry.text("payer"), ReturnCostPayer)
    fee = entry.decimal("customer_fee", Decimal(0), minimum=Decimal(0))
    if payer is ReturnCostPayer.CUSTOMER and "customer_fee" not in entry:
        raise entry.error("customer_fee", "required when the customer pays")
    effective_from = entry.date("effective_from")
    assert effective_from is not None
    effective_until = entry.date("effective_until", required=False)
    if effective_until is not None and effective_until <= effective_from:
        raise entry.error("effective_until", "must be after effective_from")
    fallback = entry.flag("fallback", False)
    countries = frozenset(entry.checked("countries", c, validate_country) for c in entry.strings("countries"))
    if not countries and not fallback:
        raise entry.error("countries", "list the countries, or set fallback = true for the rest of the world")
    conformity = entry.integer("conformity_window_days", 0, minimum=0) or None
    return ReturnPolicy(
        id=entry.text("id"),
        countries=countries,
        currency=currency,
        window_days=entry.integer("window_days", minimum=0),
        payer=payer,
        customer_fee=Money(fee, currency).rounded(),
        effective_from=effective_from,
        effective_until=effective_until,
        merchant_pays_reasons=frozenset(
            entry.checked("merchant_pays_reasons", r, ReturnReason)
            for r in entry.strings("merchant_pays_reasons")
        ),
        conformity_window_days=conformity,
        fallback=fallback,
    )
