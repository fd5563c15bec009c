"""Rows written straight into a database at an older revision, for the migration tests:
the application's models describe the newest schema only."""

from __future__ import annotations

from sqlalchemy import text

from readiness.db import db


def insert_warehouse(unit_id: int = 1, code: str = "WH", name: str = "中心仓库") -> None:
    """A top-level warehouse (the columns every revision since 0015 has)."""
    db.session.execute(
        text(
            "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
            " created_at, version) VALUES (:id, :code, :name, 'warehouse', NULL, 5, :t,"
            " '2022-01-01 00:00:00', 1)"
        ),
        {"id": unit_id, "code": code, "name": name, "t": True},
    )


def insert_item(code: str, name: str, *, item_id: int = 1, tracking: str = "bulk") -> None:
    """A catalog item (the columns every revision up to 0020 has)."""
    db.session.execute(
        text(
            "INSERT INTO items (id, code, name, category, uom, unit_cost, shelf_life_days,"
            " tracking, is_active, created_at) VALUES (:id, :code, :name, '防汛', '件', 100,"
            " NULL, :tracking, :t, '2022-01-01 00:00:00')"
        ),
        {"id": item_id, "code": code, "name": name, "tracking": tracking, "t": True},
    )


def insert_user(username: str, role: str, *, user_id: int = 1, unit_id: int = 1) -> None:
    """An account of a unit (the columns every revision since 0015 has)."""
    db.session.execute(
        text(
            "INSERT INTO users (id, username, name, role, unit_id, password_hash, language,"
            " is_active, session_version, created_at, version, must_change_password)"
            " VALUES (:id, :username, '', :role, :unit, 'h', 'zh', :t, 1,"
            " '2022-01-01 00:00:00', 1, :f)"
        ),
        {"id": user_id, "username": username, "role": role, "unit": unit_id, "t": True, "f": False},
    )
