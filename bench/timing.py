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


def report(title: str, backends: list[str], run, path, *, echo: bool = True) -> None:
    """Run ``run(backend)`` for each backend, print its (measure, figure) pairs (unless it
    printed them itself: ``echo=False``) and write them all as a Markdown table to ``path``."""
    from datetime import date

    lines = [f"# {title}, {date.today().isoformat()}", ""]
    for backend in backends:
        print(f"== {backend}", flush=True)
        figures = run(backend)
        lines += [f"## {backend}", "", "| measure | figure |", "| --- | --- |"]
        for name, value in figures:
            if echo:
                print(f"  {name:<42} {value}", flush=True)
            lines.append(f"| {name} | {value} |")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    print(f"written to {path}")
