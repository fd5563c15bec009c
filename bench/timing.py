"""How the benchmark times one thing."""

from __future__ import annotations

import statistics
import time


def median_ms(fn, runs: int) -> tuple[float, float]:
    """Median and max of ``runs`` calls in milliseconds, after one warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)
