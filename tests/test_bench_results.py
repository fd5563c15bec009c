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
    ("overdue page: ratio API / SQL", "2.41"),
    ("dashboard: service, computed (all tiles, command)", "median 319 ms (max 330)"),
    ("bare Flask endpoint, 16 clients, gunicorn 2 workers × 4 threads", "median 2 ms, p95 5 ms"),
    ("scan page /l/<code>, 16 clients, gunicorn 2 workers × 4 threads", "median 75 ms, p95 100 ms"),
    ("dashboard /, 16 clients, gunicorn 2 workers × 4 threads", "median 61 ms, p95 101 ms"),
    (
        "dashboard /, 16 clients, gunicorn 2 workers × 4 threads, a write every 0.5 s",
        "median 56 ms, p95 414 ms",
    ),
    ("coverage: ratio API / SQL", "3.10"),
    ("API request's own cost (GET /api/v1/me)", "median 2 ms (max 3)"),
    ("coverage: ratio (API − a request's own cost) / SQL", "1.85"),
    ("overdue page: ratio (API − a request's own cost) / SQL", "2.20"),
    ("drill package preview page, CITY (93 drills, 33 kB)", ""),
    ("drill package preview page, command (this year)", "median 24 ms (max 30)"),
    ("4× city: shortfall: service", "median 300 ms (max 320)"),
    ("growth 4× / 1×: shortfall: service", "3.61 (linear or better)"),
    ("growth 4× / 1×: dashboard: service, computed", "3.20 (linear or better)"),
    ("scale", "4"),
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
    assert got["overdue_page_api_over_sql"] == 2.41
    assert got["compliance_api_over_sql"] == 1.57 and got["coverage_api_over_sql"] == 3.1
    assert got["package_preview_ms"] == 24
    # the small answers beside what any API request costs, and their ratios without it
    assert got["api_request_ms"] == 2
    assert got["coverage_own_work_over_sql"] == 1.85
    assert got["overdue_page_own_work_over_sql"] == 2.2
    # the 4× city's figures never stand in for the city's
    assert got["shortfall_service_growth"] == 3.61 and got["dashboard_computed_growth"] == 3.2
    assert "| ratio service / SQL | 3.28 |" in (tmp_path / "latest.md").read_text()


def test_the_bench_says_which_of_issue_21s_aims_are_met(tmp_path):
    report("bench", ["sqlite"], lambda backend: FIGURES, tmp_path / "latest.md")
    met = json.loads((tmp_path / "latest.json").read_text())["sqlite"]["aims_met"]
    assert met["shortfall: service at most 1.5× the hand-written SQL"] is False  # 3.28
    assert met["drill compliance: API at most 2× the hand-written SQL"] is True  # 1.57
    assert met["dashboard p95 at most 2× the scan page's"] is True  # 101 against 100
    assert met["shortfall service grows at most linearly (N× city)"] is True  # 3.61, N = 4
    table = (tmp_path / "latest.md").read_text()
    assert "| aim NOT met: dashboard computed in at most 150 ms | 319 (at most 150) |" in table
    # a run of the other backend alone keeps this one's figures
    report("bench", ["postgresql"], lambda backend: FIGURES[:3], tmp_path / "latest.md")
    both = json.loads((tmp_path / "latest.json").read_text())
    assert set(both) == {"sqlite", "postgresql"} and "aims_met" in both["sqlite"]


def test_growth_compares_each_figure_with_the_citys_and_says_whether_it_stayed_linear():
    from bench.__main__ import growth

    city = [
        ("shortfall: service", "median 100 ms (max 120)"),
        ("shortfall: API call (JSON, 3.2 MB)", "median 150 ms (max 160)"),
        ("dashboard: service, computed (all tiles, command)", "median 140 ms (max 150)"),
    ]
    bigger = [
        ("4× city: shortfall: service", "median 380 ms (max 400)"),
        ("4× city: shortfall: API call (JSON, 12.8 MB)", "median 900 ms (max 950)"),
        ("4× city: dashboard: service, computed (all tiles, command)", "median 420 ms (max 450)"),
    ]
    found = dict(growth(city, bigger, 4))
    assert found["growth 4× / 1×: shortfall: service"] == "3.80 (linear or better)"
    assert found["growth 4× / 1×: shortfall: API call"] == "6.00 (worse than linear)"
    assert found["growth 4× / 1×: dashboard: service, computed"] == "3.00 (linear or better)"
    assert "growth 4× / 1×: shortfall: hand-written SQL" not in found  # not measured here
