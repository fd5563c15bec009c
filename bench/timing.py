"""How the benchmark times one thing."""

from __future__ import annotations

import re
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


# The figures a script compares between runs (bench/results/latest.json): key → a regular
# expression matching the measure's label, and what to read from its figure. The keys stay
# as they are; add others freely.
NUMBERS = {
    "shortfall_service_over_sql": (r"^ratio service / SQL$", "number"),
    "shortfall_api_over_sql": (r"^ratio API / SQL$", "number"),
    "dashboard_computed_ms": (r"^dashboard: service, computed", "median"),
    "dashboard_p95_ms": (r"^dashboard /, 16 clients, gunicorn [^,]*$", "p95"),
    "dashboard_p95_under_writes_ms": (r"^dashboard /, 16 clients, .*a write every", "p95"),
    "scan_p95_ms": (r"^scan page /l/<code>, 16 clients", "p95"),
    "bare_p95_ms": (r"^bare Flask endpoint, 16 clients", "p95"),
    # a page of 100 overdue actions through the API over the SQL for that page: null until
    # the actions API is paged (issue 21, item 2); the whole list's ratio is kept apart
    "overdue_page_api_over_sql": (None, None),
    "overdue_list_api_over_sql": (r"^overdue list: ratio API / SQL$", "number"),
}
_READ = {"number": r"^([0-9.]+)", "median": r"median ([0-9.]+) ms", "p95": r"p95 ([0-9.]+) ms"}


def numbers(figures: list[tuple[str, str]]) -> dict[str, float | None]:
    """The figures of ``NUMBERS`` read from one backend's (measure, figure) pairs."""
    out: dict[str, float | None] = {}
    for key, (label, kind) in NUMBERS.items():
        found = None
        if label is not None:
            value = next((v for name, v in figures if re.search(label, name)), "")
            found = re.search(_READ[kind], value)
        out[key] = float(found.group(1)) if found else None
    return out


def report(title: str, backends: list[str], run, path, *, echo: bool = True) -> None:
    """Run ``run(backend)`` for each backend, print its (measure, figure) pairs (unless it
    printed them itself: ``echo=False``) and write them all as a Markdown table to ``path``
    and the figures a script compares (``NUMBERS``) as JSON beside it."""
    import json
    from datetime import date

    lines = [f"# {title}, {date.today().isoformat()}", ""]
    compared: dict[str, dict] = {}
    for backend in backends:
        print(f"== {backend}", flush=True)
        figures = run(backend)
        compared[backend] = numbers(figures)
        lines += [f"## {backend}", "", "| measure | figure |", "| --- | --- |"]
        for name, value in figures:
            if echo:
                print(f"  {name:<42} {value}", flush=True)
            lines.append(f"| {name} | {value} |")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    print(f"written to {path}")
    if path.name == "latest.md":
        path.with_suffix(".json").write_text(json.dumps(compared, indent=2) + "\n")
        print(f"written to {path.with_suffix('.json')}")
