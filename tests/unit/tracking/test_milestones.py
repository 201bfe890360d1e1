"""Return milestones derived from tracking events: worked journeys and the prefix property."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.tracking import ExceptionReason, TrackingEvent, TrackingStatus
from service.tracking.milestones import (
    JOURNEY,
    MilestoneRules,
    ReturnMilestone,
    ReturnRoute,
    milestones_of,
    progress,
)
from tests.unit.tracking.events import START, scan

RULES = MilestoneRules(frozenset({"HUB_RELEASED"}))
S = TrackingStatus


def _numbered(*events: TrackingEvent) -> list[tuple[int, TrackingEvent]]:
    return list(enumerate(events, start=1))


def test_a_sandbox_return_via_a_hub_reaches_three_milestones_then_the_hub_release() -> None:
    journey = _numbered(
        scan(S.PRE_TRANSIT, 0, code="LC"),
        scan(S.IN_TRANSIT, 60, code="AC"),
        scan(S.IN_TRANSIT, 120, code="DP"),
        scan(S.OUT_FOR_DELIVERY, 180, code="OD"),
        scan(S.DELIVERED, 240, code="DL"),
        scan(S.DELIVERED, 2880, code="HUB_RELEASED"),
    )
    assert milestones_of(journey, ReturnRoute.VIA_HUB, RULES) == [
        (2, ReturnMilestone.DROPPED_OFF),
        (3, ReturnMilestone.IN_TRANSIT_TO_HUB),
        (5, ReturnMilestone.ARRIVED_AT_HUB),
        (6, ReturnMilestone.DELIVERED_TO_MERCHANT),
    ]


def test_a_direct_return_is_with_the_merchant_on_delivery() -> None:
    journey = _numbered(scan(S.IN_TRANSIT, 0), scan(S.IN_TRANSIT, 30), scan(S.DELIVERED, 90))
    assert milestones_of(journey, ReturnRoute.DIRECT, RULES)[-1] == (3, ReturnMilestone.DELIVERED_TO_MERCHANT)


def test_a_hub_release_code_means_nothing_on_a_direct_route() -> None:
    journey = _numbered(scan(S.IN_TRANSIT, 0), scan(S.IN_TRANSIT, 30, code="HUB_RELEASED"))
    assert milestones_of(journey, ReturnRoute.DIRECT, RULES) == [
        (1, ReturnMilestone.DROPPED_OFF),
        (2, ReturnMilestone.IN_TRANSIT_TO_HUB),
    ]


def test_label_creation_cancellation_and_return_to_sender_are_not_a_drop_off() -> None:
    journey = _numbered(
        scan(S.PRE_TRANSIT, 0), scan(S.UNKNOWN, 1), scan(S.CANCELLED, 2), scan(S.RETURNED_TO_SENDER, 3)
    )
    assert milestones_of(journey, ReturnRoute.VIA_HUB, RULES) == []


def test_an_exception_after_drop_off_counts_as_moving_on_and_never_goes_back() -> None:
    journey = _numbered(
        scan(S.IN_TRANSIT, 0),
        scan(S.EXCEPTION, 60, reason=ExceptionReason.CUSTOMS_DELAY),
        scan(S.DELIVERED, 120),
        scan(S.IN_TRANSIT, 180),  # a stray late scan after delivery reaches nothing
    )
    assert [m for _, m in milestones_of(journey, ReturnRoute.VIA_HUB, RULES)] == [
        ReturnMilestone.DROPPED_OFF,
        ReturnMilestone.IN_TRANSIT_TO_HUB,
        ReturnMilestone.ARRIVED_AT_HUB,
    ]


def test_a_first_scan_that_says_delivered_fills_the_earlier_milestones_at_its_time() -> None:
    reached = milestones_of(_numbered(scan(S.DELIVERED, 15)), ReturnRoute.VIA_HUB, RULES)
    assert reached == [(1, ReturnMilestone.ARRIVED_AT_HUB)]
    rows = progress((m, START + dt.timedelta(minutes=15), cursor) for cursor, m in reached)
    assert [(p.milestone, p.reached, p.cursor) for p in rows] == [
        (ReturnMilestone.DROPPED_OFF, True, 1),
        (ReturnMilestone.IN_TRANSIT_TO_HUB, True, 1),
        (ReturnMilestone.ARRIVED_AT_HUB, True, 1),
        (ReturnMilestone.DELIVERED_TO_MERCHANT, False, 0),
    ]
    assert rows[0].reached_at == START + dt.timedelta(minutes=15)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(list(S)), st.sampled_from(["", "HUB_RELEASED", "X"])), max_size=12),
    st.sampled_from(list(ReturnRoute)),
)
def test_milestones_only_move_forward_and_progress_is_a_prefix(
    statuses: list[tuple[TrackingStatus, str]], route: ReturnRoute
) -> None:
    journey = _numbered(*(scan(status, index, code=code) for index, (status, code) in enumerate(statuses)))
    reached = milestones_of(journey, route, RULES)
    ranks = [m.rank for _, m in reached]
    assert ranks == sorted(set(ranks))
    rows = progress((m, journey[c - 1][1].occurred_at, c) for c, m in reached)
    flags = [p.reached for p in rows]
    assert flags == sorted(flags, reverse=True)
    assert [p.milestone for p in rows] == list(JOURNEY)
    times = [p.reached_at for p in rows if p.reached_at is not None]
    assert times == sorted(times)
