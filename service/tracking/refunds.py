"""When a customer can expect the refund of a return: N business days after the merchant has the goods.

Business days are Monday to Friday; public holidays are not counted out (they differ per merchant and
country, and the date is an expectation shown to the customer, not a commitment). N comes from the
merchant's refund terms: a service-wide default, overridden per merchant in an optional data file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from service.tracking.milestones import MilestoneProgress, ReturnMilestone

_SATURDAY = 5


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date `days` business days after `start` (counting from the next day; weekends skipped)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += dt.timedelta(days=1)
        if current.weekday() < _SATURDAY:
            remaining -= 1
    return current


@dataclass(frozen=True, slots=True)
class RefundTerms:
    default_business_days: int
    merchant_business_days: Mapping[str, int] = field(default_factory=dict)

    def business_days(self, merchant_id: str) -> int:
        return self.merchant_business_days.get(merchant_id, self.default_business_days)

    def expected_refund_date(
        self,
        merchant_id: str,
        milestones: tuple[MilestoneProgress, ...],
        estimated_delivery: dt.date | None,
    ) -> dt.date | None:
        """From the day the merchant received the goods (UTC date) or, until then, from the carrier's
        estimated delivery date; None when neither is known."""
        received = next(
            (p for p in milestones if p.milestone is ReturnMilestone.DELIVERED_TO_MERCHANT and p.reached),
            None,
        )
        if received is not None and received.reached_at is not None:
            start = received.reached_at.astimezone(dt.UTC).date()
        elif estimated_delivery is not None:
            start = estimated_delivery
        else:
            return None
        return add_business_days(start, self.business_days(merchant_id))
