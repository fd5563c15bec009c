"""A city-scale data set, written straight into a fresh database.

The rows are generated in bulk (not through the services, which would take
hours for a million movements), with the same invariants the services keep:
every balance equals the sum of its ledger and every running balance is ≥ 0.
``verify_balances`` is run on the result to prove it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.engine import Connection

CATEGORIES = [
    "防汛救生",
    "警戒",
    "照明",
    "通讯",
    "破拆",
    "医疗",
    "排涝",
    "侦察",
    "个人防护",
    "后勤",
]


@dataclass
class Sizes:
    brigades: int = 20
    stations: int = 360
    squads: int = 20
    warehouses: int = 10
    items: int = 80
    serial_items: int = 5
    lot_items: int = 10
    movements: int = 1_000_000


def _insert(conn: Connection, table: str, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    conn.connection.driver_connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        ([_sqlite_value(v) for v in row] for row in rows),
    )


def _sqlite_value(value):
    """Store values the way SQLAlchemy's SQLite types do."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def build(conn: Connection, sizes: Sizes, *, seed: int = 7, today: date | None = None) -> dict:
    """Fill an empty, migrated database. Returns counts of what was made."""
    rng = random.Random(seed)
    today = today or date.today()
    now = datetime.now(UTC).replace(tzinfo=None)
    start = now - timedelta(days=730)

    # Units: bureau → brigades → stations and squads; warehouses under the bureau.
    units = [(1, "CITY", "市公安局", "bureau", None, 3000)]
    uid = 2
    brigade_ids = []
    for b in range(sizes.brigades):
        units.append((uid, f"BR{b:02d}", f"第{b + 1}大队", "brigade", 1, rng.randint(30, 90)))
        brigade_ids.append(uid)
        uid += 1
    for s in range(sizes.stations):
        parent = brigade_ids[s % len(brigade_ids)]
        units.append((uid, f"ST{s:03d}", f"第{s + 1}派出所", "station", parent, rng.randint(8, 80)))
        uid += 1
    for q in range(sizes.squads):
        parent = brigade_ids[q % len(brigade_ids)]
        units.append((uid, f"SQ{q:02d}", f"第{q + 1}中队", "squad", parent, rng.randint(10, 30)))
        uid += 1
    for w in range(sizes.warehouses):
        units.append((uid, f"WH{w:02d}", f"第{w + 1}物资仓库", "warehouse", 1, rng.randint(3, 10)))
        uid += 1
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
        [(*u, True, now, 1) for u in units],
    )

    items = []
    for i in range(sizes.items):
        tracking = "serial" if i >= sizes.items - sizes.serial_items else "bulk"
        cost = Decimal(rng.choice([5, 8, 25, 30, 60, 85, 120, 150, 680, 4800]))
        if tracking == "serial":
            cost = Decimal(rng.choice([4800, 26000, 56000]))
        shelf = 730 if i < sizes.lot_items else None
        items.append(
            (
                i + 1,
                f"IT{i:03d}",
                f"物资{i + 1:03d}",
                CATEGORIES[i % len(CATEGORIES)],
                "件",
                cost,
                shelf,
                tracking,
                True,
                now,
            )
        )
    _insert(
        conn,
        "items",
        [
            "id",
            "code",
            "name",
            "category",
            "uom",
            "unit_cost",
            "shelf_life_days",
            "tracking",
            "is_active",
            "created_at",
        ],
        items,
    )

    # The standard: stations need 60 items, squads 20, brigades 15, warehouses 30.
    _insert(
        conn,
        "standard_versions",
        ["id", "effective_from", "note", "published_at"],
        [(1, date(2022, 7, 1), "bench", now)],
    )
    lines = []
    line_id = 1
    for kind, n in (("station", 60), ("squad", 20), ("brigade", 15), ("warehouse", 30)):
        for item in rng.sample(items, n):
            base = Decimal(rng.choice([0, 1, 2, 4, 10]))
            per = Decimal(rng.choice(["0", "0.1", "0.2", "0.5", "1"]))
            if item[7] == "serial":
                base, per = Decimal(rng.choice([1, 2])), Decimal(0)
            lines.append((line_id, 1, kind, item[0], base, per))
            line_id += 1
    _insert(
        conn,
        "standard_lines",
        ["id", "version_id", "unit_kind", "item_id", "base_qty", "per_officer"],
        lines,
    )

    # Lots for the first lot_items items: one fresh, one expired each.
    lots = []
    lot_id = 1
    lots_by_item: dict[int, list[int]] = {}
    for item in items[: sizes.lot_items]:
        for code, days in (("A", 400), ("B", -30)):
            lots.append((lot_id, item[0], f"L{item[0]:03d}{code}", today + timedelta(days=days)))
            lots_by_item.setdefault(item[0], []).append(lot_id)
            lot_id += 1
    _insert(conn, "lots", ["id", "item_id", "code", "expires_on"], lots)

    # Positions: every unit holds ~60 bulk items (lot items in both lots).
    bulk = [i for i in items if i[7] == "bulk"]
    positions = []  # (id, unit_id, item_id, lot_id)
    pid = 1
    for u in units:
        for item in rng.sample(bulk, 60):
            for lot in lots_by_item.get(item[0], [None]):
                positions.append((pid, u[0], item[0], lot))
                pid += 1

    # Movements: spread over the positions, receipts first, issues never below zero.
    per_position = sizes.movements // len(positions)
    extra = sizes.movements - per_position * len(positions)
    movements = []
    balances = []
    mid = 1
    span = (now - start).total_seconds()
    for index, (pid_, unit_id, item_id, lot) in enumerate(positions):
        n = per_position + (1 if index < extra else 0)
        balance = 0
        for k in range(n):
            if balance == 0 or k == 0 or rng.random() < 0.55:
                kind, qty = "receipt", rng.randint(1, 20)
            else:
                kind = "issue" if rng.random() < 0.9 else "write_off"
                qty = -rng.randint(1, max(1, min(balance, 10)))
            balance += qty
            at = start + timedelta(seconds=span * (k + 1) / (n + 1))
            movements.append(
                (
                    mid,
                    pid_,
                    unit_id,
                    item_id,
                    lot,
                    kind,
                    qty,
                    balance,
                    at,
                    "bench",
                    "",
                    "damaged" if kind == "write_off" else "",
                    "",
                    "",
                )
            )
            mid += 1
        balances.append((pid_, unit_id, item_id, lot, balance, 0, now))
    _insert(
        conn,
        "positions",
        ["id", "unit_id", "item_id", "lot_id", "qty", "reserved", "updated_at"],
        balances,
    )
    for chunk in range(0, len(movements), 200_000):
        _insert(
            conn,
            "movements",
            [
                "id",
                "position_id",
                "unit_id",
                "item_id",
                "lot_id",
                "kind",
                "qty",
                "balance_after",
                "at",
                "actor_name",
                "note",
                "reason",
                "document",
                "serials",
            ],
            movements[chunk : chunk + 200_000],
        )

    # Serial pieces: a few per unit, some under repair.
    assets = []
    aid = 1
    serial_items = [i for i in items if i[7] == "serial"]
    for u in units:
        for item in serial_items:
            for _ in range(rng.randint(0, 2)):
                status = "under_repair" if rng.random() < 0.15 else "in_service"
                assets.append((aid, item[0], f"SN{aid:07d}", u[0], status, "", now))
                aid += 1
    _insert(
        conn,
        "assets",
        ["id", "item_id", "serial", "unit_id", "status", "note", "registered_at"],
        assets,
    )

    if conn.dialect.name == "postgresql":
        for table in (
            "units",
            "items",
            "standard_versions",
            "standard_lines",
            "lots",
            "positions",
            "movements",
            "assets",
        ):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            )
        conn.execute(text("ANALYZE"))
    else:
        conn.execute(text("ANALYZE"))
    return {
        "units": len(units),
        "items": len(items),
        "standard_lines": len(lines),
        "positions": len(positions),
        "movements": len(movements),
        "assets": len(assets),
    }
