"""The cyclic garbage collector, tuned for a long-running server holding many open streams.

With CPython's default thresholds (700, 10, 10) a serving replica with a thousand tracking streams ran a
full collection every few seconds under load, each one stopping the event loop for 50-90 ms: the oldest
generation holds every module, table definition and nomenclature entry loaded at start, plus every open
stream's state, and a full collection walks all of it. Two changes, applied once the server is up:

- what exists once the server has started (modules, schemas, rule data, connection pools) is collected
  once and then frozen, so later collections never walk it again. It lives as long as the process does;
  a frozen object that later becomes unreachable is still freed by reference counting, only a cycle among
  frozen objects would stay.
- larger thresholds for the young generations, so the objects of events in flight (alive for a few
  milliseconds) are far less often promoted into the old generation, which is what schedules full
  collections.

tests/perf/bench_tracking.py measured the effect (see the tracking issue's closing note).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CollectorThresholds:
    young: int  # allocations (net of frees) between collections of the youngest generation
    middle: int  # youngest-generation collections per middle-generation collection
    old: int  # middle-generation collections before a full collection is considered

    @classmethod
    def parse(cls, value: str) -> CollectorThresholds:
        try:
            young, middle, old = (int(part) for part in value.split(","))
        except ValueError:  # not three parts, or one is not a whole number
            raise ValueError("expected three whole numbers separated by commas, e.g. 5000,20,10") from None
        if min(young, middle, old) <= 0:
            raise ValueError("each threshold must be greater than zero")
        return cls(young, middle, old)

    def __str__(self) -> str:
        return f"{self.young},{self.middle},{self.old}"


def settle_after_start(thresholds: CollectorThresholds) -> None:
    """Collect and freeze what start-up built, then apply `thresholds` (once the server is serving)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(thresholds.young, thresholds.middle, thresholds.old)
