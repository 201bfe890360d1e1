"""Benchmark: HS lookups of random 6-digit codes against a plain dict.get over the same keys.

Run: .venv/bin/python tests/perf/bench_hs_lookup.py --iterations 100000
Prints one JSON object on its last line. The ratio to the same-run baseline is what to compare between
machines; absolute times on shared machines are noise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from collections.abc import Callable

from customs.hs import load_nomenclature, lookup_hs_code, nomenclature_in_force, validate_hs_code

ON = dt.date(2026, 11, 20)


def _per_call_us(call: Callable[[str], object], keys: list[str]) -> float:
    started = time.perf_counter()
    for key in keys:
        call(key)
    return (time.perf_counter() - started) / len(keys) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    nomenclature = nomenclature_in_force(ON)
    load_ms = (time.perf_counter() - started) * 1e3
    codes = [e.code for e in nomenclature.subheadings()]
    keys = random.Random(args.seed).choices(codes, k=args.iterations)
    plain = dict(load_nomenclature(nomenclature.edition.name).entries)

    _per_call_us(lambda k: lookup_hs_code(k, ON), keys[:1000])  # warm caches
    baseline_us = _per_call_us(lambda k: plain.get(k), keys)
    lookup_us = _per_call_us(lambda k: lookup_hs_code(k, ON), keys)
    validate_us = _per_call_us(lambda k: validate_hs_code(k, ON), keys)
    print(
        json.dumps(
            {
                "benchmark": "hs_lookup",
                "edition": nomenclature.edition.name,
                "iterations": args.iterations,
                "first_load_ms": round(load_ms, 1),
                "lookup_us": round(lookup_us, 3),
                "validate_us": round(validate_us, 3),
                "baseline_dict_get_us": round(baseline_us, 4),
                "lookup_to_baseline_ratio": round(lookup_us / baseline_us, 1),
                "validate_to_baseline_ratio": round(validate_us / baseline_us, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
