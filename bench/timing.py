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


def get_ok(app, client, path: str, **kwargs):
    """A GET to time: a fresh app context per request, as in production (its own g, the
    signed-in user, and its own session, removed at the end); anything but 200 stops."""

    def run():
        with app.app_context():
            response = client.get(path, **kwargs)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}")
        return response

    return run
