"""Return-leg milestones, derived from canonical tracking events (pure: no I/O).

A return's journey as a merchant follows it: the customer drops the parcel off, it travels to the returns
hub, arrives there, and is handed to the merchant once the hub has inspected it (or, for a return sent
straight to the merchant, on delivery). Rules, in log order, never going backwards:

- DROPPED_OFF: the first event showing the parcel in the carrier's hands (any status but pre-transit,
  unknown, cancelled or returned to sender);
- IN_TRANSIT_TO_HUB: a later in-network event (the parcel moved on from where it was handed over);
- ARRIVED_AT_HUB: the carrier reports it delivered;
- DELIVERED_TO_MERCHANT: on a direct route, the delivery itself; via a hub, an event whose code is one of
  the hub's release codes (`MilestoneRules.merchant_receipt_codes`, from data).

An event that jumps ahead (a first scan that already says delivered) reaches every earlier milestone at
the same moment, so progress is always a prefix of the journey.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from carriers.tracking import TrackingEvent, TrackingStatus


class ReturnMilestone(StrEnum):
    DROPPED_OFF = "dropped_off"
    IN_TRANSIT_TO_HUB = "in_transit_to_hub"
    ARRIVED_AT_HUB = "arrived_at_hub"
    DELIVERED_TO_MERCHANT = "delivered_to_merchant"

    @property
    def rank(self) -> int:
        return JOURNEY.index(self)


JOURNEY: tuple[ReturnMilestone, ...] = tuple(ReturnMilestone)


class ReturnRoute(StrEnum):
    VIA_HUB = "via_hub"  # to a returns hub, which inspects and then releases the goods to the merchant
    DIRECT = "direct"  # straight to the merchant's own address


_NOT_IN_CARRIER_HANDS = frozenset(
    {
        TrackingStatus.PRE_TRANSIT,
        TrackingStatus.UNKNOWN,
        TrackingStatus.CANCELLED,
        TrackingStatus.RETURNED_TO_SENDER,
    }
)


@dataclass(frozen=True, slots=True)
class MilestoneRules:
    # Event codes a returns hub reports when it releases an inspected return to the merchant.
    merchant_receipt_codes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MilestoneProgress:
    milestone: ReturnMilestone
    reached_at: dt.datetime | None = None
    cursor: int = 0  # of the event that reached it; 0 when not reached

    @property
    def reached(self) -> bool:
        return self.reached_at is not None


def milestone_reached(
    highest: ReturnMilestone | None, event: TrackingEvent, route: ReturnRoute, rules: MilestoneRules
) -> ReturnMilestone | None:
    """The milestone `event` takes the parcel to, when it is beyond `highest` (the one reached so far)."""
    target = _target(highest, event, route, rules)
    if target is None or (highest is not None and target.rank <= highest.rank):
        return None
    return target


def _target(
    highest: ReturnMilestone | None, event: TrackingEvent, route: ReturnRoute, rules: MilestoneRules
) -> ReturnMilestone | None:
    if route is ReturnRoute.VIA_HUB and event.code and event.code.upper() in rules.merchant_receipt_codes:
        return ReturnMilestone.DELIVERED_TO_MERCHANT
    if event.status in _NOT_IN_CARRIER_HANDS:
        return None
    if event.status is TrackingStatus.DELIVERED:
        if route is ReturnRoute.DIRECT:
            return ReturnMilestone.DELIVERED_TO_MERCHANT
        return ReturnMilestone.ARRIVED_AT_HUB
    if highest is None:
        return ReturnMilestone.DROPPED_OFF
    return ReturnMilestone.IN_TRANSIT_TO_HUB


def milestones_of(
    events: Iterable[tuple[int, TrackingEvent]], route: ReturnRoute, rules: MilestoneRules
) -> list[tuple[int, ReturnMilestone]]:
    """(cursor, milestone) for each event that reached one, events given as (cursor, event) in log order."""
    reached: list[tuple[int, ReturnMilestone]] = []
    highest: ReturnMilestone | None = None
    for cursor, event in events:
        milestone = milestone_reached(highest, event, route, rules)
        if milestone is not None:
            highest = milestone
            reached.append((cursor, milestone))
    return reached


def progress(reached: Iterable[tuple[ReturnMilestone, dt.datetime, int]]) -> tuple[MilestoneProgress, ...]:
    """The four milestones in journey order, from (milestone, occurred_at, cursor) of reaching events.

    A milestone reached implies the earlier ones: those not reached by an event of their own take the time
    and cursor of the first event that went past them.
    """
    by_rank: list[MilestoneProgress] = [MilestoneProgress(m) for m in JOURNEY]
    for milestone, reached_at, cursor in reached:
        for rank in range(milestone.rank + 1):
            if not by_rank[rank].reached:
                by_rank[rank] = MilestoneProgress(JOURNEY[rank], reached_at, cursor)
    return tuple(by_rank)
