"""Which events a stream or a history read wants: every parcel of a merchant, or some of its labels or
tracking numbers. Always within one merchant."""

from __future__ import annotations

from dataclasses import dataclass

from service.tracking.model import LoggedEvent


@dataclass(frozen=True, slots=True)
class EventSelection:
    merchant_id: str
    label_ids: frozenset[str] = frozenset()  # set: only these labels
    tracking_numbers: frozenset[str] = frozenset()  # set: only these tracking numbers (normalised)

    def __post_init__(self) -> None:
        if self.label_ids and self.tracking_numbers:
            raise ValueError("select by label ids or by tracking numbers, not both")

    @property
    def whole_merchant(self) -> bool:
        return not self.label_ids and not self.tracking_numbers

    def matches(self, event: LoggedEvent) -> bool:
        if event.merchant_id != self.merchant_id:
            return False
        if self.label_ids:
            return event.label_id in self.label_ids
        if self.tracking_numbers:
            return event.tracking_number in self.tracking_numbers
        return True
