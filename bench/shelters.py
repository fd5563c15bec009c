"""Shelter figures: 30 towns, 600 villages, 400 sites with their inspections, then the coverage
report against hand-written SQL, and the coverage and site-list pages."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.engine import Connection

from bench.dataset import _insert
from bench.drills import _fmt, _login
from bench.timing import get_ok, median_ms, own_work_ratio, request_cost

COVERAGE_SQL = """
WITH counting AS (
  SELECT id, capacity FROM shelters WHERE status = 'active' AND is_standardized
    AND id IN (SELECT shelter_id FROM shelter_acceptances WHERE status = 'accepted')
),
load AS (
  SELECT c.id, c.capacity, SUM(v.to_relocate) AS need
  FROM counting c
  JOIN shelter_villages sv ON sv.shelter_id = c.id
  JOIN villages v ON v.id = sv.village_id
  GROUP BY c.id, c.capacity
),
village_state AS (
  SELECT v.id, v.town_id, v.to_relocate,
         MAX(CASE WHEN l.id IS NULL THEN 0 ELSE 1 END) AS covered,
         MAX(CASE WHEN l.capacity >= l.need THEN 1 ELSE 0 END) AS with_capacity
  FROM villages v
  LEFT JOIN shelter_villages sv ON sv.village_id = v.id
  LEFT JOIN load l ON l.id = sv.shelter_id
  GROUP BY v.id, v.town_id, v.to_relocate
)
SELECT town_id, COUNT(*) AS villages, SUM(covered) AS covered,
       SUM(with_capacity) AS with_capacity, SUM(to_relocate) AS to_relocate
FROM village_state
GROUP BY town_id
ORDER BY town_id
"""


def build_shelters(
    conn: Connection,
    *,
    towns: int = 30,
    villages: int = 600,
    shelters: int = 400,
    seed: int = 7,
    today: date,
) -> dict:
    """Add towns (units), villages, sites serving 1–4 villages of their town, and inspections."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    uid = conn.execute(text("SELECT MAX(id) FROM units")).scalar() + 1
    root = conn.execute(text("SELECT id FROM units WHERE parent_id IS NULL ORDER BY id")).scalar()
    town_ids = list(range(uid, uid + towns))
    _insert(
        conn,
        "units",
        [
            "id",
            "code",
            "name",
            "kind",
            "parent_id",
            "headcount",
            "is_active",
            "created_at",
            "version",
        ],
        [
            (t, f"TOWN{n:02d}", f"第{n + 1}镇", "town", root, 0, True, now, 1)
            for n, t in enumerate(town_ids)
        ],
    )
    village_rows, by_town = [], {t: [] for t in town_ids}
    for v in range(1, villages + 1):
        town = town_ids[v % towns]
        population = rng.randint(500, 4000)
        village_rows.append(
            (
                v,
                town,
                f"村{v:04d}",
                "village",
                population,
                population * rng.randint(3, 12) // 100,
                now,
            )
        )
        by_town[town].append(v)
    _insert(
        conn,
        "villages",
        ["id", "town_id", "name", "kind", "population", "to_relocate", "created_at"],
        village_rows,
    )
    site_rows, served, inspections, defects = [], [], [], []
    statuses = ["active"] * 7 + ["suspended", "planned", "construction"]
    ins_id = defect_id = 1
    for s in range(1, shelters + 1):
        town = town_ids[s % towns]
        status = rng.choice(statuses)
        standardized = status in ("active", "suspended") and rng.random() < 0.6
        level = rng.choice(["village"] * 6 + ["town"] * 3 + ["county"])
        capacity = {"village": 50, "town": 100, "county": 200}[level] * rng.randint(1, 4)
        site_rows.append(
            (
                s,
                f"场所{s:04d}",
                town,
                level,
                capacity,
                Decimal(capacity * 2),
                "frame",
                False,
                False,
                False,
                standardized,
                date(2021, 5, 1) if standardized else None,
                status,
                "",
                "",
                "",
                "",
                "",
                now,
                1,
            )
        )
        for village in rng.sample(by_town[town], min(len(by_town[town]), rng.randint(1, 4))):
            served.append((s, village))
        if status != "active":
            continue
        for k in range(rng.randint(1, 3)):
            on = today - timedelta(days=rng.randint(10, 500))
            inspections.append(
                (
                    ins_id,
                    s,
                    on,
                    "检查组",
                    {},
                    rng.randint(0, 40),
                    rng.randint(0, 10),
                    Decimal(rng.choice([0, 5000, 20000])),
                    "",
                    now,
                )
            )
            if k == 0 and rng.random() < 0.2:
                defects.append((defect_id, s, ins_id, "指示牌缺失", False, None, ""))
                defect_id += 1
            ins_id += 1
    _insert(
        conn,
        "shelters",
        [
            "id",
            "name",
            "town_id",
            "level",
            "capacity",
            "area_m2",
            "structure",
            "is_accessible",
            "has_generator",
            "is_in_floodplain",
            "is_standardized",
            "standardized_on",
            "status",
            "address",
            "manager_name",
            "manager_phone",
            "contacts",
            "note",
            "created_at",
            "version",
        ],
        site_rows,
    )
    # a standardized site counts once command staff have accepted it (issue 16)
    acceptances = [
        (n, row[0], "accepted", row[11], now, "", "", "")
        for n, row in enumerate((r for r in site_rows if r[10]), start=1)
    ]
    _insert(
        conn,
        "shelter_acceptances",
        [
            "id",
            "shelter_id",
            "status",
            "accepted_on",
            "accepted_at",
            "note",
            "request_note",
            "withdrawal_reason",
        ],
        acceptances,
    )
    _insert(conn, "shelter_villages", ["shelter_id", "village_id"], served)
    if conn.dialect.name == "sqlite":
        # JSON is stored as text on SQLite
        inspections = [(*r[:4], "{}", *r[5:]) for r in inspections]
    else:
        import json

        inspections = [(*r[:4], json.dumps(r[4]), *r[5:]) for r in inspections]
    _insert(
        conn,
        "shelter_inspections",
        [
            "id",
            "shelter_id",
            "inspected_on",
            "inspector",
            "checklist",
            "replenished_qty",
            "rotated_qty",
            "subsidy",
            "note",
            "created_at",
        ],
        inspections,
    )
    _insert(
        conn,
        "shelter_defects",
        ["id", "shelter_id", "inspection_id", "text", "is_resolved", "resolved_on", "resolution"],
        defects,
    )
    if conn.dialect.name == "postgresql":
        for table in ("units", "villages", "shelters", "shelter_inspections", "shelter_defects"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            )
    conn.execute(text("ANALYZE"))
    return {
        "towns": towns,
        "villages": len(village_rows),
        "shelters": len(site_rows),
        "inspections": len(inspections),
    }


def shelter_figures(
    app, db, *, runs: int, headers: dict, username: str, password: str
) -> list[tuple[str, str]]:
    """Coverage by hand-written SQL, the service, the API and the page; the site list page."""
    from shelters import coverage

    target = Decimal("0.6")

    def run_sql():
        with db.engine.connect() as conn:
            return conn.execute(text(COVERAGE_SQL)).all()

    def run_service():
        try:
            return coverage.coverage(db.session, target)
        finally:
            db.session.remove()

    def get(client, path, **kwargs):
        return get_ok(app, client, path, **kwargs)

    # Same numbers first, or the comparison means nothing.
    by_sql = {r[0]: (r[1], r[2], r[3], r[4]) for r in run_sql()}
    report = coverage.coverage(db.session, target)
    by_app = {
        t.town_id: (t.villages, t.covered, t.covered_with_capacity, t.to_relocate)
        for t in report.towns
        if t.villages
    }
    db.session.remove()
    if by_sql != by_app:
        raise SystemExit("shelter coverage: the hand-written SQL and the service disagree")
    api = app.test_client()
    run_api = get(api, "/api/v1/reports/shelter-coverage", headers=headers)
    overall = run_api().get_json()["overall"]
    if (overall["villages"], overall["covered"]) != (report.villages, report.covered):
        raise SystemExit("shelter coverage: the API and the service disagree")
    sql_ms, svc_ms, api_ms = (median_ms(f, runs) for f in (run_sql, run_service, run_api))
    cost_ms = request_cost(app, headers, runs)
    command = _login(app, username, password)
    page_ms = median_ms(get(command, "/shelters/"), runs)
    sites_ms = median_ms(get(command, "/shelters/sites"), runs)
    return [
        (
            "shelter coverage",
            f"{report.villages:,} villages in {len(report.towns)} towns, "
            f"{report.covered:,} covered ({report.coverage:.1%}), "
            f"{report.covered_with_capacity:,} with capacity, {report.needed:,} still needed",
        ),
        ("coverage: hand-written SQL", _fmt(sql_ms)),
        ("coverage: service", _fmt(svc_ms)),
        ("coverage: API call (JSON)", _fmt(api_ms)),
        ("coverage: ratio API / SQL", f"{api_ms[0] / sql_ms[0]:.2f}"),
        ("API request's own cost (GET /api/v1/me)", _fmt(cost_ms)),
        (
            "coverage: ratio (API − a request's own cost) / SQL",
            own_work_ratio(api_ms[0], cost_ms[0], sql_ms[0]),
        ),
        ("coverage page /shelters/, command", _fmt(page_ms)),
        ("site list /shelters/sites, command", _fmt(sites_ms)),
    ]
