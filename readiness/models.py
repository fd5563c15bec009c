"""Units, users, API tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from readiness.db import Base, UTCDateTime, utcnow

# Unit kinds: the code is stored, the label is shown.
UNIT_KINDS = {
    "bureau": _l("局"),
    "brigade": _l("大队"),
    "station": _l("派出所"),
    "squad": _l("中队"),
    "centre": _l("中心"),
    "warehouse": _l("仓库"),
    "town": _l("镇/街道"),
    "shelter": _l("避灾安置场所"),
}

ROLES = {
    "clerk": _l("本单位登记员"),
    "keeper": _l("仓库保管员"),
    "command": _l("指挥部/装备科"),
    "inspector": _l("巡察/督察"),
    "admin": _l("系统管理员"),
}

# Who a clerk is depends on their unit: a police station's duty officer, a town's emergency
# office staff, a shelter's manager. Kinds not named here read as the plain role.
CLERK_BY_UNIT_KIND = {
    "station": _l("值班民警（本单位登记）"),
    "brigade": _l("值班民警（本单位登记）"),
    "squad": _l("值班民警（本单位登记）"),
    "bureau": _l("局机关工作人员（本单位登记）"),
    "centre": _l("中心工作人员（本单位登记）"),
    "warehouse": _l("仓库工作人员（本单位登记）"),
    "town": _l("乡镇应急办工作人员（本单位登记）"),
    "shelter": _l("安置场所管理员（本单位登记）"),
}


def role_label(role: str, unit_kind: str | None = None) -> str:
    """The role as people at that kind of unit call it (a town's clerk is no police officer)."""
    if role == "clerk" and unit_kind in CLERK_BY_UNIT_KIND:
        return str(CLERK_BY_UNIT_KIND[unit_kind])
    return str(ROLES.get(role, role))


# Roles whose reach is their own unit and the units below it: every role but the
# administrator, who keeps users, units and the catalog and reaches no records.
UNIT_SCOPED_ROLES = frozenset({"clerk", "keeper", "command", "inspector"})

LANGUAGES = {"zh": "中文", "en": "English"}


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (CheckConstraint("headcount >= 0", name="headcount_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    headcount: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The named custodian (保管责任人, 专人负责); see overview/handover.py for who may be one.
    custodian_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.code")
    users: Mapped[list[User]] = relationship(back_populates="unit", foreign_keys="User.unit_id")
    custodian: Mapped[User | None] = relationship(foreign_keys=[custodian_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def kind_label(self) -> str:
        return str(UNIT_KINDS.get(self.kind, self.kind))

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60), default="")
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(5), default="zh")
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped on sign-out, password change, post change or deactivation: every older
    # session and remember-me cookie of this user dies (checked on every request).
    session_version: Mapped[int] = mapped_column(default=1)
    # Set when an administrator chose the password (new account or reset): the owner
    # must pick their own at the next sign-in before doing anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped by administrative edits only (not by sign-ins), to catch stale forms.
    version: Mapped[int] = mapped_column(default=1)

    unit: Mapped[Unit | None] = relationship(back_populates="users", foreign_keys=[unit_id])
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    # Flask-Login protocol. ``is_active`` is the column above.
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def role_label(self) -> str:
        kind = self.unit.kind if self.role == "clerk" and self.unit is not None else None
        return role_label(self.role, kind)

    @property
    def display_name(self) -> str:
        return self.name or self.username

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginThrottle(Base):
    """Failed sign-ins counted per key (client address, typed username, or both).

    Kept in the database so every gunicorn worker sees the same counts.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One write, as it happened. Rows are never updated or deleted (a trigger refuses)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_object", "object_type", "object_id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Kept as written so the entry reads the same after the user is renamed.
    actor_name: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
