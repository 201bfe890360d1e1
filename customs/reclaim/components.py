"""The components of what an import paid: duty, trade-remedy duties, import tax, US fees, other charges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from enum import StrEnum

from customs.money import Money


class ChargeComponent(StrEnum):
    DUTY = "duty"  # customs duty, including a flat duty on low-value parcels
    AD_CVD = "ad_cvd"  # antidumping and countervailing duties (Canada: SIMA duties)
    VAT = "vat"  # import VAT, GST/HST/PST, consumption tax
    MPF = "mpf"  # US merchandise processing fee
    HMT = "hmt"  # US harbor maintenance tax
    OTHER = "other"  # any other tax, fee or levy (excise, ...)


@dataclass(frozen=True, slots=True)
class ChargesPaid:
    """What was paid per component; None means unknown (the calculator estimates it and says so)."""

    duty: Money | None = None
    ad_cvd: Money | None = None
    vat: Money | None = None
    mpf: Money | None = None
    hmt: Money | None = None
    other: Money | None = None

    def get(self, component: ChargeComponent) -> Money | None:
        value: Money | None = getattr(self, component.value)
        return value

    def known(self) -> Iterator[tuple[ChargeComponent, Money]]:
        for component in ChargeComponent:
            amount = self.get(component)
            if amount is not None:
                yield component, amount

    @classmethod
    def of(cls, **amounts: Money) -> ChargesPaid:
        """Built from component names: `ChargesPaid.of(duty=Money.of("10", "EUR"))`."""
        names = {field.name for field in fields(cls)}
        unknown = set(amounts) - names
        if unknown:
            raise ValueError(f"unknown charge component(s): {', '.join(sorted(unknown))}")
        return cls(**amounts)
