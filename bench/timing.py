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


def request_cost(app, headers: dict, runs: int) -> tuple[float, float]:
    """What an API request costs before any work of its own: ``GET /api/v1/me`` (the token
    checked, its owner read, a small answer written) in a fresh app context. No API figure
    can be below it: a report whose SQL takes less than this cannot be within 2× of it."""
    return median_ms(get_ok(app, app.test_client(), "/api/v1/me", headers=headers), runs)


def own_work_ratio(api_ms: float, cost_ms: float, sql_ms: float) -> str:
    """(API − a request's own cost) / SQL: what the answer itself costs over its SQL."""
    return f"{max(api_ms - cost_ms, 0) / sql_ms:.2f}"


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
    # a page of 100 overdue actions through the API over the SQL for that page (issue 21,
    # item 2); the whole list's ratio is kept apart
    "overdue_page_api_over_sql": (r"^overdue page: ratio API / SQL$", "number"),
    "overdue_list_api_over_sql": (r"^overdue list: ratio API / SQL$", "number"),
    "compliance_api_over_sql": (r"^drill compliance: ratio API / SQL$", "number"),
    "coverage_api_over_sql": (r"^coverage: ratio API / SQL$", "number"),
    # an authenticated API request that does nothing (GET /api/v1/me), and the two small
    # answers' ratios without it (what the report itself costs over its SQL)
    "api_request_ms": (r"^API request's own cost", "median"),
    "coverage_own_work_over_sql": (r"^coverage: ratio \(API − a request's own", "number"),
    "overdue_page_own_work_over_sql": (
        r"^overdue page: ratio \(API − a request's own",
        "number",
    ),
    "package_preview_ms": (r"^drill package preview page, command \(this year\)$", "median"),
    # --scale N: the same figures on N times the city, over the city's (linear: at most N)
    "shortfall_service_growth": (r"^growth \d+× / 1×: shortfall: service$", "number"),
    "shortfall_api_growth": (r"^growth \d+× / 1×: shortfall: API call$", "number"),
    "dashboard_computed_growth": (r"^growth \d+× / 1×: dashboard: service, computed", "number"),
    "scale": (r"^scale$", "number"),
}

# Issue 21's aims, each read from NUMBERS: (what, the figure, at most).
AIMS = [
    ("shortfall: service at most 1.5× the hand-written SQL", "shortfall_service_over_sql", 1.5),
    ("shortfall: API at most 2× the hand-written SQL", "shortfall_api_over_sql", 2),
    ("dashboard computed in at most 150 ms", "dashboard_computed_ms", 150),
    ("drill compliance: API at most 2× the hand-written SQL", "compliance_api_over_sql", 2),
    ("shelter coverage: API at most 2× the hand-written SQL", "coverage_api_over_sql", 2),
    ("drill package preview in at most 150 ms", "package_preview_ms", 150),
    ("a page of 100 overdue actions: API at most 3× its SQL", "overdue_page_api_over_sql", 3),
    ("dashboard p95 at most 2× the scan page's", "dashboard_over_scan_p95", 2),
    ("shortfall service grows at most linearly (N× city)", "shortfall_service_growth", "scale"),
    ("dashboard computed grows at most linearly (N× city)", "dashboard_computed_growth", "scale"),
]


def aims(got: dict[str, float | None]) -> list[tuple[str, str, bool]]:
    """Each aim whose figure was measured: (what, the figure against its bound, met)."""
    got = dict(got)
    if got.get("dashboard_p95_ms") and got.get("scan_p95_ms"):
        got["dashboard_over_scan_p95"] = round(got["dashboard_p95_ms"] / got["scan_p95_ms"], 2)
    out = []
    for what, key, bound in AIMS:
        limit = got.get(bound) if isinstance(bound, str) else bound
        value = got.get(key)
        if value is not None and limit is not None:
            out.append((what, f"{value:g} (at most {limit:g})", value <= limit))
    return out


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
        checked = aims(compared[backend])
        if checked:
            compared[backend]["aims_met"] = {what: met for what, _, met in checked}
            figures = figures + [
                (f"aim {'met' if met else 'NOT met'}: {what}", figure)
                for what, figure, met in checked
            ]
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
        # a run of one backend keeps the other's figures from an earlier run
        kept = path.with_suffix(".json")
        earlier = json.loads(kept.read_text()) if kept.exists() else {}
        compared = {**{k: v for k, v in earlier.items() if k not in compared}, **compared}
        kept.write_text(json.dumps(compared, indent=2) + "\n")
        print(f"written to {path.with_suffix('.json')}")
