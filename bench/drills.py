"""Drill figures: 10,000 drills over three years with their findings and corrective actions,
then drill compliance, overdue actions and the actions page against hand-written SQL."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Date, bindparam, text
from sqlalchemy.engine import Connection

from bench.dataset import _insert
from bench.timing import get_ok, median_ms, own_work_ratio, request_cost

PASSWORD = "measure-9-Readiness"  # every user made here signs in with it

# What each kind of unit leads, and how often (weights).
LEADS = {
    "station": [("flood_drill", 2), ("field_exercise", 4), ("training_drill", 5), ("tabletop", 1)],
    "squad": [("combat_unit_drill", 3), ("training_drill", 1)],
    "brigade": [("flood_drill", 3), ("tabletop", 2), ("field_exercise", 1)],
}
# The demo's requirements (drills/demo.py): (unit kind, drill kind, per year, interval days).
REQUIREMENTS = [
    ("station", "flood_drill", 1, None),
    ("station", "field_exercise", None, 182),
    ("station", "training_drill", 2, None),
    ("squad", "combat_unit_drill", 1, None),
]
TITLES = {
    "flood_drill": "防汛抢险救灾综合演练",
    "field_exercise": "实战大练兵",
    "training_drill": "防汛应急培训演练",
    "combat_unit_drill": "最小作战单元训练",
    "tabletop": "防汛桌面推演",
}
ELEMENTS = ["planning", "organisation", "equipment", "training", "exercise"]
PROBLEMS = [
    "参演人员岗位任务不明确",
    "救生衣、警戒带数量与警力不匹配",
    "专业救援器材无实操经验",
    "通讯联络中断后无备用方案",
    "预案未以正式文件印发",
    "群众转移路线标识不清",
    "现场指挥部设置位置不当",
]
STRENGTHS = ["交通管制按预案快速到位", "群众转移组织有序", "器材清点及时准确"]


def build_drills(conn: Connection, *, drills: int = 10_000, seed: int = 7, today: date) -> dict:
    """Add drills, owners, objectives, findings and corrective actions to a built data set."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    units = conn.execute(
        text("SELECT id, code, kind, parent_id FROM units WHERE is_active ORDER BY id")
    ).all()
    by_kind: dict[str, list] = {}
    for u in units:
        by_kind.setdefault(u.kind, []).append(u)
    children: dict[int, list[int]] = {}
    for u in units:
        if u.kind in ("station", "squad") and u.parent_id is not None:
            children.setdefault(u.parent_id, []).append(u.id)
    parent = {u.id: u.parent_id for u in units}

    # One clerk per station, squad and brigade owns its unit's actions; inspectors verify.
    first_user = (conn.scalar(text("SELECT MAX(id) FROM users")) or 0) + 1
    password_hash = _password_hash()
    users = []
    owner_of: dict[int, int] = {}
    uid = first_user
    for kind in ("brigade", "station", "squad"):
        for u in by_kind.get(kind, []):
            users.append((uid, f"clerk-{u.code.lower()}", f"{u.code} 内勤", "clerk", u.id))
            owner_of[u.id] = uid
            uid += 1
    inspectors = []
    for n in range(10):
        # inspectors sit at the city (the top unit): they reach every unit
        users.append((uid, f"inspector-{n:02d}", f"督察 {n + 1}", "inspector", 1))
        inspectors.append(uid)
        uid += 1
    _insert(
        conn,
        "users",
        [
            "id",
            "username",
            "name",
            "role",
            "unit_id",
            "password_hash",
            "language",
            "is_active",
            "session_version",
            "must_change_password",
            "created_at",
            "version",
        ],
        [(*u, password_hash, "zh", True, 1, False, now, 1) for u in users],
    )

    _insert(
        conn,
        "drill_requirements",
        ["id", "unit_kind", "drill_kind", "per_year", "interval_days"],
        [(n, *r) for n, r in enumerate(REQUIREMENTS, start=1)],
    )

    # Leads: stations hold most drills, squads and brigades the rest; some units are keen,
    # some hardly drill at all, so compliance comes out mixed.
    lead_pool, lead_weights = [], []
    for kind, share in (("station", 12), ("squad", 20), ("brigade", 18)):
        for u in by_kind.get(kind, []):
            lead_pool.append((u, kind))
            lead_weights.append(share * rng.choice([0.05, 0.2, 0.6, 1, 1.5]))
    start = today - timedelta(days=3 * 365)
    span = (today - start).days
    drill_rows, unit_rows, objective_rows, finding_rows, action_rows = [], [], [], [], []
    drill_id = (conn.scalar(text("SELECT MAX(id) FROM drills")) or 0) + 1
    objective_id = (conn.scalar(text("SELECT MAX(id) FROM drill_objectives")) or 0) + 1
    finding_id = (conn.scalar(text("SELECT MAX(id) FROM findings")) or 0) + 1
    action_id = (conn.scalar(text("SELECT MAX(id) FROM corrective_actions")) or 0) + 1
    for _ in range(drills):
        lead, lead_kind = rng.choices(lead_pool, lead_weights)[0]
        kinds, weights = zip(*LEADS[lead_kind], strict=True)
        kind = rng.choices(kinds, weights)[0]
        planned = rng.random() < 0.02
        incident = not planned and rng.random() < 0.01
        if planned:
            held_on = today + timedelta(days=rng.randint(1, 120))
            status = "planned"
        elif rng.random() < 0.01:  # its date passed and nobody recorded it: does not count
            held_on = start + timedelta(days=rng.randint(0, span))
            status, planned = "planned", True
        else:
            held_on = start + timedelta(days=rng.randint(0, span))
            age = (today - held_on).days
            status = rng.choices(
                ["held", "evaluated", "closed"],
                [1, 1, 0] if age < 120 else [1, 2, 3],
            )[0]
        # Participants: the lead, and up to four units from the same brigade.
        brigade = lead.id if lead_kind == "brigade" else parent[lead.id]
        near = [i for i in children.get(brigade, []) if i != lead.id]
        if lead_kind != "brigade":
            near.append(brigade)
        others = rng.choices(range(5), [45, 25, 15, 10, 5])[0]
        taking_part = [lead.id, *rng.sample(near, min(len(near), others))]
        people = sum(rng.randint(8, 30) for _ in taking_part)
        drill_rows.append(
            (
                drill_id,
                f"{held_on.year}年{TITLES[kind]}（{lead.code}）",
                kind,
                "tabletop" if kind == "tabletop" else "live",
                rng.choice(["comprehensive", "single"]),
                "洪涝",
                "强降雨致河道水位超警戒，沿河群众需转移安置" if not planned else "",
                held_on,
                rng.choice([60, 90, 120, 180, 240]),
                f"{lead.code} 辖区",
                lead.id,
                people,
                "",
                kind in ("field_exercise", "training_drill"),
                "" if planned else "完成群众转移、交通管制和水域搜救科目。",
                "",
                "",
                "",
                incident,
                status,
                None,
                owner_of.get(lead.id),
                now,
            )
        )
        unit_rows += [(drill_id, u) for u in taking_part]
        if not planned:
            objectives = []
            for k in range(rng.randint(0, 3)):
                rating = None if status == "held" else rng.choice("PPSSMU")
                objective_rows.append((objective_id, drill_id, f"演练目标 {k + 1}", rating))
                objectives.append(objective_id)
                objective_id += 1
            for _ in range(rng.randint(0, 3)):
                strength = rng.random() < 0.25
                linked = rng.choice([None, *objectives])
                words = rng.choice(STRENGTHS if strength else PROBLEMS)
                finding_rows.append((finding_id, drill_id, linked, strength, words))
                if not strength:
                    owner_unit = rng.choice([u for u in taking_part if u in owner_of])
                    owner = owner_of[owner_unit]
                    due_on = held_on + timedelta(days=rng.randint(30, 180))
                    action_rows.append(
                        _action(rng, action_id, finding_id, words, owner, owner_unit, due_on)
                        + _progress(rng, status, due_on, today, inspectors, now)
                        + ("drill", "", "")  # the register's source, measures, leader
                    )
                    action_id += 1
                finding_id += 1
        drill_id += 1

    _insert(
        conn,
        "drills",
        [
            "id",
            "title",
            "kind",
            "form",
            "scope",
            "hazard",
            "scenario",
            "held_on",
            "duration_minutes",
            "location",
            "lead_unit_id",
            "participants",
            "roster",
            "hands_on_training",
            "summary",
            "purpose",
            "problems",
            "lessons",
            "is_real_incident",
            "status",
            "request_key",
            "created_by_id",
            "created_at",
        ],
        drill_rows,
    )
    _insert(conn, "drill_units", ["drill_id", "unit_id"], unit_rows)
    _insert(conn, "drill_objectives", ["id", "drill_id", "text", "rating"], objective_rows)
    _insert(
        conn, "findings", ["id", "drill_id", "objective_id", "is_strength", "text"], finding_rows
    )
    _insert(
        conn,
        "corrective_actions",
        [
            "id",
            "finding_id",
            "text",
            "element",
            "owner_id",
            "unit_id",
            "due_on",
            "created_at",
            "status",
            "evidence",
            "done_at",
            "verified_at",
            "verified_by_id",
            "cancel_reason",
            "source",
            "measures",
            "leader",
        ],
        action_rows,
    )
    if conn.dialect.name == "postgresql":
        for table in (
            "users",
            "drill_requirements",
            "drills",
            "drill_objectives",
            "findings",
            "corrective_actions",
        ):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            )
    conn.execute(text("ANALYZE"))
    overdue = sum(1 for a in action_rows if a[6] < today and a[8] in ("open", "in_progress"))
    return {
        "users": len(users),
        "drills": len(drill_rows),
        "drill_units": len(unit_rows),
        "objectives": len(objective_rows),
        "findings": len(finding_rows),
        "corrective_actions": len(action_rows),
        "overdue actions": overdue,
    }


def _password_hash() -> str:
    from werkzeug.security import generate_password_hash

    from readiness.services import PASSWORD_METHOD

    return generate_password_hash(PASSWORD, method=PASSWORD_METHOD)


def _action(rng, action_id, finding_id, words, owner, unit_id, due_on) -> tuple:
    return (action_id, finding_id, words, rng.choice(ELEMENTS), owner, unit_id, due_on)


def _progress(rng, drill_status, due_on, today, inspectors, now) -> tuple:
    """created_at, status, evidence, done_at, verified_at, verified_by_id, cancel_reason —
    as the services leave them (done and verified carry evidence, a verifier is not the
    owner, a closed drill has nothing left open)."""
    if drill_status == "closed":
        status = rng.choices(["verified", "cancelled"], [9, 1])[0]
    elif due_on < today:
        status = rng.choices(
            ["open", "in_progress", "done", "verified", "cancelled"], [2, 2, 2, 3, 1]
        )[0]
    else:
        status = rng.choices(["open", "in_progress", "done", "verified"], [4, 3, 2, 1])[0]
    done_at = now - timedelta(days=rng.randint(15, 60)) if status in ("done", "verified") else None
    return (
        now,
        status,
        "整改报告及签到表已上传" if done_at else "",
        done_at,
        done_at + timedelta(days=rng.randint(1, 14)) if status == "verified" else None,
        rng.choice(inspectors) if status == "verified" else None,
        "已并入年度装备采购计划" if status == "cancelled" else "",
    )


# ---------------------------------------------------------------- figures

COMPLIANCE_SQL = """
WITH req AS (
  SELECT u.id AS unit_id, r.drill_kind, r.per_year, r.interval_days,
         CASE WHEN r.per_year IS NOT NULL THEN r.per_year
              WHEN 365 / r.interval_days < 1 THEN 1
              ELSE 365 / r.interval_days END AS required
  FROM units u JOIN drill_requirements r ON r.unit_kind = u.kind
  WHERE u.is_active
),
held AS (
  SELECT du.unit_id, d.kind,
         SUM(CASE WHEN d.held_on >= :year_start THEN 1 ELSE 0 END) AS n,
         MAX(CASE WHEN d.held_on >= :year_start THEN d.held_on END) AS last_held_on,
         MAX(d.held_on) AS last_ever
  FROM drill_units du JOIN drills d ON d.id = du.drill_id
  WHERE (d.status <> 'planned' OR d.is_real_incident)
    AND d.held_on <= :today AND d.held_on <= :year_end
  GROUP BY du.unit_id, d.kind
)
SELECT req.unit_id, req.drill_kind, req.per_year, req.interval_days, req.required,
       COALESCE(held.n, 0), held.last_held_on, held.last_ever
FROM req LEFT JOIN held ON held.unit_id = req.unit_id AND held.kind = req.drill_kind
"""

OVERDUE_BY_OWNER_SQL = """
SELECT owner_id, COUNT(*), MIN(due_on) FROM corrective_actions
WHERE due_on < :today AND status IN ('open', 'in_progress')
GROUP BY owner_id
"""

# What GET /api/v1/actions?overdue=1 sends, row for row.
OVERDUE_LIST_SQL = """
SELECT a.id, a.text, o.username, u.code, a.due_on, a.status, a.evidence, v.username,
       a.cancel_reason
FROM corrective_actions a
JOIN users o ON o.id = a.owner_id
JOIN units u ON u.id = a.unit_id
LEFT JOIN users v ON v.id = a.verified_by_id
WHERE a.due_on < :today AND a.status IN ('open', 'in_progress')
ORDER BY a.due_on, a.id
"""
# The API's page of overdue actions (issue 21): the first 100 of the list.
OVERDUE_PAGE = 100
OVERDUE_PAGE_SQL = OVERDUE_LIST_SQL.rstrip() + f"\nLIMIT {OVERDUE_PAGE}\n"

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _fmt(ms: tuple[float, float]) -> str:
    return f"median {ms[0]:.0f} ms (max {ms[1]:.0f})"


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _login(app, username: str, password: str):
    client = app.test_client()
    with app.app_context():
        page = client.get("/login").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    with app.app_context():
        response = client.post(
            "/login", data={"csrf_token": token, "username": username, "password": password}
        )
    if response.status_code != 302:
        raise SystemExit(f"bench login as {username} failed ({response.status_code})")
    return client


def drill_figures(
    app, db, *, runs: int, headers: dict, username: str, password: str, today: date
) -> list[tuple[str, str]]:
    """Compliance, overdue actions and the actions page, each against hand-written SQL.
    Every request and service call starts from an empty session, as in production."""
    from drills import requirements
    from drills.models import DrillRequirement
    from rectification import actions

    year = today.year
    dates = [bindparam(name, type_=Date) for name in ("year_start", "year_end", "today")]
    compliance_sql = text(COMPLIANCE_SQL).bindparams(*dates)
    overdue_sql = text(OVERDUE_BY_OWNER_SQL).bindparams(bindparam("today", type_=Date))
    list_sql = text(OVERDUE_LIST_SQL).bindparams(bindparam("today", type_=Date))
    page_sql = text(OVERDUE_PAGE_SQL).bindparams(bindparam("today", type_=Date))
    window = {"year_start": date(year, 1, 1), "year_end": date(year, 12, 31), "today": today}

    def sql(stmt, params):
        def run():
            with db.engine.connect() as conn:
                return conn.execute(stmt, params).all()

        return run

    def service(fn):
        def run():
            try:
                return fn()
            finally:
                db.session.remove()

        return run

    def get(client, path, **kwargs):
        return get_ok(app, client, path, **kwargs)

    api = app.test_client()
    figures: list[tuple[str, str]] = []

    # Compliance: same numbers first, or the comparison means nothing. The SQL gives what the
    # service reads (held this year, last held, last ever); the due date is the same pure
    # function on both sides.
    run_sql = sql(compliance_sql, window)
    run_svc = service(lambda: requirements.compliance(db.session, year, today=today))
    run_api = get(api, f"/api/v1/reports/drill-compliance?year={year}", headers=headers)
    by_sql = {}
    for unit_id, kind, per_year, interval, required, n, last, last_ever in run_sql():
        last, last_ever = _as_date(last), _as_date(last_ever)
        rule = DrillRequirement(per_year=per_year, interval_days=interval)
        due = requirements.next_due(rule, n, last_ever if interval else last, year)
        by_sql[unit_id, kind] = (required, n, last, due)
    rows = requirements.compliance(db.session, year, today=today)
    by_app = {
        (r.unit.id, r.drill_kind): (r.required, r.held, r.last_held_on, r.next_due_on) for r in rows
    }
    by_code = {
        (r.unit.code, r.drill_kind): (r.required, r.held, r.status, r.next_due_on) for r in rows
    }
    statuses = {s: sum(1 for r in rows if r.status == s) for s in ("ok", "due", "overdue")}
    db.session.remove()
    if by_sql != by_app:
        raise SystemExit("drill compliance: the hand-written SQL and the service disagree")
    by_api = {
        (r["unit"], r["drill_kind"]): (
            r["required"],
            r["held"],
            r["status"],
            _as_date(r["next_due_on"]),
        )
        for r in run_api().get_json()["rows"]
    }
    if by_api != by_code:
        raise SystemExit("drill compliance: the API and the service disagree")
    sql_ms, svc_ms, api_ms = (median_ms(f, runs) for f in (run_sql, run_svc, run_api))
    figures += [
        (
            f"drill compliance {year} rows",
            f"{len(rows):,} (unit × required kind): "
            + ", ".join(f"{n:,} {s}" for s, n in statuses.items()),
        ),
        ("drill compliance: hand-written SQL", _fmt(sql_ms)),
        ("drill compliance: service", _fmt(svc_ms)),
        ("drill compliance: API call (JSON)", _fmt(api_ms)),
        ("drill compliance: ratio API / SQL", f"{api_ms[0] / sql_ms[0]:.2f}"),
        ("drill compliance: ratio service / SQL", f"{svc_ms[0] / sql_ms[0]:.2f}"),
    ]

    # Overdue actions per owner.
    params = {"today": today}
    run_sql = sql(overdue_sql, params)
    run_svc = service(lambda: actions.overdue_by(db.session, "owner", unit_ids=None, today=today))
    by_sql = {r[0]: (r[1], _as_date(r[2])) for r in run_sql()}
    groups = actions.overdue_by(db.session, "owner", unit_ids=None, today=today)
    by_app = {g.key.id: (g.count, g.oldest_due_on) for g in groups}
    db.session.remove()
    if by_sql != by_app:
        raise SystemExit("overdue actions: the hand-written SQL and the service disagree")
    sql_ms, svc_ms = median_ms(run_sql, runs), median_ms(run_svc, runs)
    overdue = sum(n for n, _ in by_sql.values())
    figures += [
        (f"overdue per owner: hand-written SQL ({len(by_sql)} owners)", _fmt(sql_ms)),
        ("overdue per owner: service", _fmt(svc_ms)),
        ("overdue per owner: ratio service / SQL", f"{svc_ms[0] / sql_ms[0]:.2f}"),
    ]

    # The overdue list through the API (every page, 1,000 rows a page), against the one
    # query that gives the same rows.
    run_sql = sql(list_sql, params)
    first_page = get(api, "/api/v1/actions?overdue=1&limit=1000", headers=headers)

    def run_api():
        answer = first_page().get_json()
        rows = answer["actions"]
        while answer["next_cursor"]:
            path = f"/api/v1/actions?overdue=1&limit=1000&cursor={answer['next_cursor']}"
            answer = get(api, path, headers=headers)().get_json()
            rows += answer["actions"]
        return rows

    listed = run_api()
    if [a["id"] for a in listed] != [r[0] for r in run_sql()] or len(listed) != overdue:
        raise SystemExit("overdue actions: the API list and the hand-written SQL disagree")
    sql_ms, api_ms = median_ms(run_sql, runs), median_ms(run_api, runs)
    figures += [
        (f"overdue list: hand-written SQL ({overdue:,} rows)", _fmt(sql_ms)),
        ("overdue list: GET /api/v1/actions?overdue=1&limit=1000, every page", _fmt(api_ms)),
        ("overdue list: ratio API / SQL", f"{api_ms[0] / sql_ms[0]:.2f}"),
    ]

    # One page of them: what a client reads first (issue 21: at most 3× the SQL for it).
    run_sql = sql(page_sql, params)
    run_api = get(api, f"/api/v1/actions?overdue=1&limit={OVERDUE_PAGE}", headers=headers)
    page = run_api().get_json()["actions"]
    if [a["id"] for a in page] != [r[0] for r in run_sql()]:
        raise SystemExit("overdue page: the API page and the hand-written SQL disagree")
    sql_ms, api_ms = median_ms(run_sql, runs), median_ms(run_api, runs)
    cost_ms = request_cost(app, headers, runs)
    figures += [
        (f"overdue page: hand-written SQL ({len(page)} rows)", _fmt(sql_ms)),
        (f"overdue page: GET /api/v1/actions?overdue=1&limit={OVERDUE_PAGE}", _fmt(api_ms)),
        ("overdue page: ratio API / SQL", f"{api_ms[0] / sql_ms[0]:.2f}"),
        (
            "overdue page: ratio (API − a request's own cost) / SQL",
            own_work_ratio(api_ms[0], cost_ms[0], sql_ms[0]),
        ),
    ]

    # The actions page as people see it: command staff (everything), a station clerk.
    total = db.session.scalar(text("SELECT COUNT(*) FROM corrective_actions"))
    clerk = db.session.execute(
        text(
            "SELECT u.username, COUNT(a.id) FROM users u "
            "JOIN units s ON s.id = u.unit_id AND s.kind = 'station' "
            "JOIN corrective_actions a ON a.unit_id = u.unit_id "
            "WHERE u.role = 'clerk' GROUP BY u.username ORDER BY COUNT(a.id) DESC, u.username"
        )
    ).first()
    db.session.remove()
    command = _login(app, username, password)
    pages = [
        ("/actions page, command", command, "/actions", total, runs),
        (
            "/actions page, station clerk",
            _login(app, clerk[0], PASSWORD),
            "/actions",
            clerk[1],
            runs,
        ),
        # the export is much slower: fewer runs
        ("/actions CSV export, command", command, "/actions?format=csv", total, min(runs, 3)),
    ]
    for name, client, path, n, times in pages:
        run_page = get(client, path)
        size = len(run_page().data)
        figures.append(
            (
                f"{name} ({n:,} actions, {size / 1e6:.1f} MB)",
                _fmt(median_ms(run_page, times)),
            )
        )
    return figures
