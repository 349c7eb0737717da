"""The engine alone and the content loader, timed in a process of their own.

`python -m bench.micro USERS LOADS` prints one JSON line: the time of one engine step
(`Engine.handle`, composing the result on the last step) over USERS users walking the
decline_offer flow after a warm-up, and the time of `load_catalog()` (reading, validating and
building every flow and phrase file) over LOADS runs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from bench.traffic import timed_walks
from bot.content.loader import load_catalog
from bot.engine import Engine

WARM_UP_USERS = 50


def main(argv: list[str]) -> int:
    """Time the engine and the loader; print the figures as JSON."""
    users, loads = int(argv[1]), int(argv[2])
    load_times = []
    for _ in range(loads):
        start = time.perf_counter()
        catalog = load_catalog()
        load_times.append(time.perf_counter() - start)
    engine = Engine(catalog)
    timed_walks(engine, WARM_UP_USERS, first_user=900_000)
    steps = sorted(timed_walks(engine, users))
    result = {
        "step_median_us": statistics.median(steps) * 1e6,
        "step_mean_us": statistics.fmean(steps) * 1e6,
        "step_p99_us": steps[min(len(steps) - 1, round(0.99 * (len(steps) - 1)))] * 1e6,
        "steps": len(steps),
        "load_median_ms": statistics.median(load_times) * 1e3,
        "load_min_ms": min(load_times) * 1e3,
        "load_max_ms": max(load_times) * 1e3,
        "flows": len(catalog.flows),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
