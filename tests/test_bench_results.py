"""make bench writes the figures a script compares as JSON beside its Markdown table: the keys
issue 21 fixes, read from the measures as the benchmark names them."""

import json

from bench.timing import NUMBERS, report

# A backend's measures as bench/__main__.py, bench/load.py and bench/drills.py label them.
FIGURES = [
    ("shortfall: hand-written SQL", "median 65 ms (max 185)"),
    ("ratio API / SQL", "4.65"),
    ("ratio service / SQL", "3.28"),
    ("drill compliance: ratio API / SQL", "1.57"),
    ("overdue list: ratio API / SQL", "42.09"),
    ("dashboard: service, computed (all tiles, command)", "median 319 ms (max 330)"),
    ("bare Flask endpoint, 16 clients, gunicorn 2 workers × 4 threads", "median 2 ms, p95 5 ms"),
    ("scan page /l/<code>, 16 clients, gunicorn 2 workers × 4 threads", "median 75 ms, p95 100 ms"),
    ("dashboard /, 16 clients, gunicorn 2 workers × 4 threads", "median 61 ms, p95 101 ms"),
    (
        "dashboard /, 16 clients, gunicorn 2 workers × 4 threads, a write every 0.5 s",
        "median 56 ms, p95 414 ms",
    ),
]


def test_latest_json_holds_each_backends_figures_under_stable_keys(tmp_path):
    report("bench", ["sqlite", "postgresql"], lambda backend: FIGURES, tmp_path / "latest.md")
    written = json.loads((tmp_path / "latest.json").read_text())
    assert set(written) == {"sqlite", "postgresql"}
    got = written["sqlite"]
    assert set(NUMBERS) <= set(got)
    assert got["shortfall_service_over_sql"] == 3.28 and got["shortfall_api_over_sql"] == 4.65
    assert got["dashboard_computed_ms"] == 319 and got["dashboard_p95_ms"] == 101
    assert got["dashboard_p95_under_writes_ms"] == 414
    assert (got["scan_p95_ms"], got["bare_p95_ms"]) == (100, 5)
    assert got["overdue_list_api_over_sql"] == 42.09
    assert got["overdue_page_api_over_sql"] is None  # until the actions API is paged
    assert "| ratio service / SQL | 3.28 |" in (tmp_path / "latest.md").read_text()
