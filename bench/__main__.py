"""`make bench`: build a city-scale data set and time the reports against hand-written SQL.

    python -m bench [--movements N] [--drills N] [--villages N] [--shelters N]
                    [--backend sqlite|postgresql|both] [--runs N] [--scale N]

``--scale N`` (default 4) builds N times the city (units, movements, drills, villages, sites;
the same catalog) in a second database and measures the shortfall and the dashboard there
too, printing how much each grew against the city's (linear: at most N).

Figures are printed and written to bench/results/latest.md. The big downloads alone (shortfall
PDF, drill package PDF and ZIP, a year of the ledger as CSV, each in a fresh process):
``python -m bench.downloads`` (see bench/downloads.py).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select, text

from bench.timing import median_ms, report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

SHORTFALL_SQL = """
WITH v AS (
  SELECT id FROM standard_versions WHERE effective_from <= :today
  ORDER BY effective_from DESC, id DESC LIMIT 1
),
req AS (
  SELECT u.id AS unit_id, l.item_id, i.tracking,
         COALESCE(o.qty, {ceil}) AS required
  FROM units u
  JOIN standard_lines l ON l.unit_kind = u.kind AND l.version_id = (SELECT id FROM v)
  JOIN items i ON i.id = l.item_id AND i.is_active
  LEFT JOIN requirement_overrides o ON o.unit_id = u.id AND o.item_id = l.item_id
  WHERE u.is_active
),
stock AS (
  SELECT p.unit_id, p.item_id,
         SUM(CASE WHEN lt.expires_on <= :today THEN 0 ELSE p.qty END) AS on_hand,
         SUM(CASE WHEN lt.expires_on <= :today THEN p.qty ELSE 0 END) AS expired
  FROM positions p LEFT JOIN lots lt ON lt.id = p.lot_id
  WHERE p.qty > 0
  GROUP BY p.unit_id, p.item_id
),
pieces AS (
  SELECT unit_id, item_id, COUNT(*) AS n FROM assets
  WHERE unit_id IS NOT NULL AND status = 'in_service' GROUP BY unit_id, item_id
),
rows AS (
  SELECT r.unit_id, r.item_id, r.required,
         CASE WHEN r.tracking = 'serial' THEN COALESCE(a.n, 0) ELSE COALESCE(s.on_hand, 0) END
           AS on_hand,
         COALESCE(s.expired, 0) AS expired
  FROM req r
  LEFT JOIN stock s ON s.unit_id = r.unit_id AND s.item_id = r.item_id
  LEFT JOIN pieces a ON a.unit_id = r.unit_id AND a.item_id = r.item_id
  WHERE r.required > 0
)
SELECT unit_id, item_id, required, on_hand, expired,
       {greatest}(required - on_hand, 0) AS gap,
       CAST(on_hand AS FLOAT) / required AS coverage
FROM rows
ORDER BY coverage, gap DESC
"""

DIALECT = {
    "sqlite": {
        # SQLite has no CEIL in every build: floor of the value plus one when it has a fraction.
        "ceil": "(CAST(l.base_qty + l.per_officer * u.headcount AS INTEGER) + "
        "((l.base_qty + l.per_officer * u.headcount) > "
        "CAST(l.base_qty + l.per_officer * u.headcount AS INTEGER)))",
        "greatest": "MAX",
    },
    "postgresql": {
        "ceil": "CAST(CEIL(l.base_qty + l.per_officer * u.headcount) AS INTEGER)",
        "greatest": "GREATEST",
    },
}


def run_backend(backend: str, args) -> list[tuple[str, str]]:
    """Every figure on the city data set, then (``--scale N``, N > 1) the shortfall and the
    dashboard again on N times the city, with how much each grew."""
    server = None
    if backend == "postgresql":
        sys.path.insert(0, str(ROOT))
        from tests import pgserver

        server = pgserver.start({"shared_buffers": "256MB", "work_mem": "64MB"})
    try:
        figures = run_city(backend, args, server, scale=1)
        if args.scale > 1:
            bigger = run_city(backend, args, server, scale=args.scale)
            figures += bigger + growth(figures, bigger, args.scale)
            figures.append(("scale", str(args.scale)))
    finally:
        if server:
            server.stop()
    return figures


# the figures measured again on N times the city, and compared with the city's
SCALED = (
    "shortfall: hand-written SQL",
    "shortfall: service",
    "shortfall: API call",
    "dashboard: service, computed",
)


def scaled_label(name: str, scale: int) -> str:
    return name if scale == 1 else f"{scale}× city: {name}"


def growth(city, bigger, scale: int) -> list[tuple[str, str]]:
    """Each scaled figure's median on N× the city over the city's, beside N (linear)."""
    out = []
    for name in SCALED:
        one = next((v for k, v in city if k.startswith(name)), "")
        many = next((v for k, v in bigger if k.startswith(scaled_label(name, scale))), "")
        a, b = re.search(r"median ([0-9.]+) ms", one), re.search(r"median ([0-9.]+) ms", many)
        if a and b and float(a.group(1)) > 0:
            ratio = float(b.group(1)) / float(a.group(1))
            verdict = "linear or better" if ratio <= scale else "worse than linear"
            out.append((f"growth {scale}× / 1×: {name}", f"{ratio:.2f} ({verdict})"))
    return out


def run_city(backend: str, args, server, *, scale: int) -> list[tuple[str, str]]:
    """Build ``scale`` × the city in a fresh database and measure it: everything at 1×, only
    the shortfall and the dashboard on bigger ones."""
    from flask_migrate import upgrade

    from bench.dataset import Sizes, build
    from bench.drills import build_drills, drill_figures
    from inventory.ledger import verify_balances
    from inventory.shortfall import shortfall
    from readiness import cache, create_app, services, tune_garbage_collector
    from readiness.extensions import db
    from readiness.models import Unit
    from readiness.permissions import SYSTEM

    full = scale == 1
    if backend == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / ("bench.db" if full else f"bench-{scale}x.db")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = server.create_database("readiness_bench" if full else f"readiness_bench_{scale}x")
    figures: list[tuple[str, str]] = []
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
        with app.app_context():
            upgrade()
            t0 = time.perf_counter()
            with db.engine.begin() as conn:
                made = build(
                    conn,
                    Sizes(
                        brigades=20 * scale,
                        stations=360 * scale,
                        squads=20 * scale,
                        warehouses=10 * scale,
                        movements=args.movements * scale,
                    ),
                )
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            with db.engine.begin() as conn:
                made |= build_drills(conn, drills=args.drills * scale, today=date.today())
            drills_s = time.perf_counter() - t0
            from bench.shelters import build_shelters, shelter_figures

            with db.engine.begin() as conn:
                made |= build_shelters(
                    conn,
                    towns=30 * scale,
                    villages=args.villages * scale,
                    shelters=args.shelters * scale,
                    today=date.today(),
                )
            figures.append(("data set", ", ".join(f"{v:,} {k}" for k, v in made.items())))
            figures.append(("build time", f"{build_s:.1f} s, drills {drills_s:.1f} s"))
            # A database that has been in use has its planner statistics, and PostgreSQL has
            # vacuumed what was loaded: measured right after a bulk load, the reports raced
            # the autovacuum for the two cores and were planned without statistics.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE" if backend == "postgresql" else "ANALYZE")
            # from here on this process measures as a worker serves: loaded once, then frozen
            tune_garbage_collector()

            t0 = time.perf_counter()
            diffs = verify_balances(db.session)
            figures.append(
                (
                    "inventory verify",
                    f"{(time.perf_counter() - t0):.2f} s, {len(diffs)} differences",
                )
            )
            if diffs:
                raise SystemExit("balances disagree with the ledger")

            user = services.create_user(
                db.session,
                username="bench",
                password="measure-9-Readiness",
                role="command",
                # the city, the top unit: its command staff reach every unit
                unit=db.session.get(Unit, 1),
                actor=SYSTEM,
            )
            token = services.issue_token(db.session, user, actor=SYSTEM)
            db.session.commit()
            bench_user_id = user.id
            today = date.today()
            sql = text(SHORTFALL_SQL.format(**DIALECT[backend]))

            def run_sql():
                with db.engine.connect() as conn:
                    return conn.execute(sql, {"today": today}).all()

            def run_service():
                report = shortfall(db.session, today=today, use_cache=False)
                db.session.rollback()
                return report

            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}

            def run_api():
                response = client.get("/api/v1/reports/shortfall", headers=headers)
                assert response.status_code == 200
                return response

            def run_api_after_write():
                # what the first reader after any write waits for: the report is computed
                cache.clear()
                return run_api()

            # Same numbers, or the comparison means nothing.
            report = run_service()
            by_sql = {(r[0], r[1]): tuple(r[2:6]) for r in run_sql()}
            by_app = {
                (r.unit.id, r.item.id): (r.required, r.on_hand, r.expired, r.gap)
                for r in report.rows
            }
            if by_sql != by_app:
                raise SystemExit("the hand-written SQL and the report disagree")
            figures.append(
                (
                    "report rows",
                    f"{len(report.rows):,} (unit × item), "
                    f"{len(report.transfers):,} suggested transfers",
                )
            )

            sql_ms, sql_max = median_ms(run_sql, args.runs)
            svc_ms, svc_max = median_ms(run_service, args.runs)
            api_ms, api_max = median_ms(run_api_after_write, args.runs)
            hot_ms, hot_max = median_ms(run_api, args.runs)
            body = run_api().data
            figures += [
                ("shortfall: hand-written SQL", f"median {sql_ms:.0f} ms (max {sql_max:.0f})"),
                ("shortfall: service", f"median {svc_ms:.0f} ms (max {svc_max:.0f})"),
                (
                    f"shortfall: API call (JSON, {len(body) / 1e6:.1f} MB)",
                    f"median {api_ms:.0f} ms (max {api_max:.0f})",
                ),
                (
                    "shortfall: API call, data unchanged since (cached report)",
                    f"median {hot_ms:.0f} ms (max {hot_max:.0f})",
                ),
                ("ratio API / SQL", f"{api_ms / sql_ms:.2f}"),
                ("ratio service / SQL", f"{svc_ms / sql_ms:.2f}"),
            ]
            db.session.rollback()
            if not full:
                figures += dashboard_figures(app, db, bench_user_id, today, args.runs)
                figures = [(scaled_label(k, scale), v) for k, v in figures]
                db.engine.dispose()
                return figures
            figures += drill_figures(
                app,
                db,
                runs=args.runs,
                headers=headers,
                username="bench",
                password="measure-9-Readiness",
                today=today,
            )
            from bench.package import package_figures

            figures += package_figures(app, db, headers, today, args.runs)
            figures += shelter_figures(
                app,
                db,
                runs=args.runs,
                headers=headers,
                username="bench",
                password="measure-9-Readiness",
            )
            figures += dashboard_figures(app, db, bench_user_id, today, args.runs)
            from bench.labels import label_figures
            from bench.load import load_figures
            from labels.models import LabelCode

            figures += label_figures(db.session, "http://127.0.0.1:5000")
            codes = list(db.session.scalars(select(LabelCode.code)))
            db.session.commit()
            figures += load_figures(url, codes, "bench", "measure-9-Readiness")
            db.engine.dispose()
    finally:
        if not full and backend == "sqlite":
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    from bench.downloads import download_figures

    # each big download in a fresh process, so its peak memory is its own
    figures += download_figures(url)
    return figures


def dashboard_figures(app, db, user_id: int, today: date, runs: int) -> list[tuple[str, str]]:
    """The dashboard's figures for command staff, gathered by the service (one shortfall
    report and aggregate counts), beside the shortfall SQL that dominates it."""
    from decimal import Decimal

    from overview.dashboard import gather
    from readiness import cache
    from readiness.models import User

    def run(use_cache: bool):
        def once():
            if not use_cache:
                cache.clear()  # the first look after any write: everything computed
            try:
                return gather(
                    db.session,
                    db.session.get(User, user_id),
                    today=today,
                    shelter_target=Decimal("0.6"),
                    use_cache=use_cache,
                )
            finally:
                db.session.remove()

        return once

    text = "median {:.0f} ms (max {:.0f})"
    return [
        (
            "dashboard: service, computed (all tiles, command)",
            text.format(*median_ms(run(False), runs)),
        ),
        ("dashboard: service, data unchanged (cached)", text.format(*median_ms(run(True), runs))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--drills", type=int, default=10_000)
    parser.add_argument("--villages", type=int, default=600)
    parser.add_argument("--shelters", type=int, default=400)
    parser.add_argument(
        "--scale",
        type=int,
        default=4,
        help="also measure the shortfall and the dashboard on N times the city (1: only the city)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    report(
        "Readiness benchmark",
        backends,
        lambda backend: run_backend(backend, args),
        RESULTS / "latest.md",
    )


if __name__ == "__main__":
    main()
