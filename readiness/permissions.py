"""The one permission check used by every page, the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.errors import PermissionDenied
from readiness.models import UNIT_SCOPED_ROLES, Unit

ALL_ROLES = frozenset({"clerk", "keeper", "command", "inspector", "admin"})
READERS = frozenset({"command", "inspector"})

# permission -> roles holding it: the one table, for the core and every feature package.
PERMISSIONS: dict[str, frozenset[str]] = {
    "home.view": ALL_ROLES,
    "account.own": ALL_ROLES,
    "units.view": ALL_ROLES,
    "units.manage": frozenset({"admin"}),
    "users.view": frozenset({"admin", "command", "inspector"}),
    "users.manage": frozenset({"admin"}),
    "audit.view": frozenset({"admin", "command", "inspector"}),
    # handover (人事调整): who holds what after a post change, custodians, reassigning
    "handover.view": frozenset({"admin", "command", "inspector"}),
    "handover.manage": frozenset({"admin", "command"}),
    # inventory
    "items.view": ALL_ROLES,
    "items.manage": frozenset({"admin"}),
    "standard.view": frozenset({"clerk", "keeper", "command", "inspector"}),
    "standard.manage": frozenset({"command"}),
    "stock.view": frozenset({"clerk", "keeper", "command", "inspector"}),
    "stock.write": frozenset({"clerk", "keeper"}),
    "counts.write": frozenset({"clerk", "keeper"}),
    "counts.approve": frozenset({"keeper", "command"}),
    "reports.view": frozenset({"clerk", "keeper", "command", "inspector"}),
    # allocations (调拨)
    "allocations.view": frozenset({"clerk", "keeper", "command", "inspector"}),
    "allocations.request": frozenset({"clerk", "keeper", "command"}),
    "allocations.approve": frozenset({"command"}),
    "allocations.dispatch": frozenset({"clerk", "keeper"}),
    "allocations.receive": frozenset({"clerk", "keeper"}),
    # drills
    "drills.view": frozenset({"clerk", "keeper", "command", "inspector"}),
    "drills.write": frozenset({"clerk", "keeper", "command"}),
    "drills.requirements": frozenset({"command"}),
    "actions.verify": frozenset({"command", "inspector"}),
    # sending a done action back, deciding on a due-date extension: a second person
    "actions.return": frozenset({"command", "inspector"}),
    "actions.approve_extension": frozenset({"command", "inspector"}),
    # cancelling is how "done on paper" would slip through, so only command staff may
    "actions.cancel": frozenset({"command"}),
    # self-inspection (自查): a unit's own people put what they found in the register
    "actions.self": frozenset({"clerk", "keeper", "command"}),
    # inspection visits (督察检查): inspection teams and command staff record what they
    # found; everyone who reads a unit's work reads the visits to it
    "visits.view": frozenset({"clerk", "keeper", "command", "inspector"}),
    "visits.record": frozenset({"command", "inspector"}),
    # weekly ranking and monthly bulletin (每周排名、每月通报): read by command staff and
    # inspectors; issued (frozen and kept) by command staff
    "ranking.view": frozenset({"command", "inspector"}),
    "bulletins.issue": frozenset({"command"}),
    # labels
    "labels.print": frozenset({"clerk", "keeper"}),
    # shelters: towns' clerks register and inspect their own sites; command everywhere
    "shelters.view": frozenset({"clerk", "keeper", "command", "inspector"}),
    "shelters.write": frozenset({"clerk", "keeper", "command"}),
    # a town's village list is reference data kept by the bureau's command staff
    "places.manage": frozenset({"command"}),
    # a site counts as standardized only once command staff accept it (or withdraw that);
    # they also keep their unit's coverage target
    "shelters.accept": frozenset({"command"}),
    "shelters.target": frozenset({"command"}),
    # money (issue 20): the leadership group and its collective decisions (三重一大), the
    # reserve fund, purchase requests; inspectors read all of it, command staff keep it.
    # Whoever approves spending is never whoever asked for it (checked in the services).
    "decisions.view": frozenset({"command", "inspector"}),
    "decisions.record": frozenset({"command"}),
    "funds.view": frozenset({"command", "inspector"}),
    "funds.manage": frozenset({"command"}),
    "purchases.view": frozenset({"command", "inspector"}),
    "purchases.request": frozenset({"command"}),
    "purchases.approve": frozenset({"command"}),
    # a subsidy is proposed by whoever inspects the site and approved by command staff
    "subsidies.view": frozenset({"clerk", "keeper", "command", "inspector"}),
    "subsidies.propose": frozenset({"clerk", "keeper", "command"}),
    "subsidies.approve": frozenset({"command"}),
}


@dataclass(frozen=True)
class SystemActor:
    """Whoever runs the command line on the server: shell access is full trust."""

    username: str = "system"
    role: str = "system"
    id: None = None
    unit_id: None = None
    is_active: bool = True


SYSTEM = SystemActor()


def unit_ids_below(session: Session, unit_id: int) -> set[int]:
    """The unit and every unit under it, at any depth."""
    tree = select(Unit.id).where(Unit.id == unit_id).cte("tree", recursive=True)
    tree = tree.union_all(select(Unit.id).where(Unit.parent_id == tree.c.id))
    return set(session.scalars(select(tree.c.id)))


def parent_map(session: Session) -> dict[int, int | None]:
    """Every unit's parent, in one query: for callers walking up from many units."""
    return {row.id: row.parent_id for row in session.execute(select(Unit.id, Unit.parent_id))}


def unit_ids_above(
    session: Session, unit_id: int, parents: dict[int, int | None] | None = None
) -> list[int]:
    """The unit and its ancestors, nearest first: the order in which settings kept per
    unit (standard editions, count policies, drill requirements, coverage targets) apply,
    the nearest one winning. A setting with no unit (kept before bureaus were separated,
    or by the server's command line) applies everywhere, after all of these."""
    if parents is None:
        parents = parent_map(session)
    out: list[int] = []
    current: int | None = unit_id
    while current is not None and current not in out:
        out.append(current)
        current = parents.get(current)
    return out


def bureau_of(session: Session, unit_id: int) -> int:
    """The bureau a unit belongs to: the nearest unit of kind ``bureau`` at or above it, or
    the top of its tree. Stock moves, drills and their owners stay within one bureau."""
    chain = unit_ids_above(session, unit_id)
    kinds = dict(session.execute(select(Unit.id, Unit.kind).where(Unit.id.in_(chain))).all())
    return next((u for u in chain if kinds.get(u) == "bureau"), chain[-1])


def bureau_map(session: Session) -> dict[int, int]:
    """Every unit's bureau (as ``bureau_of``), in one query: for reports over many units."""
    query = select(Unit.id, Unit.parent_id, Unit.kind)
    rows = {r.id: (r.parent_id, r.kind) for r in session.execute(query)}
    out: dict[int, int] = {}
    for start in rows:
        path: list[int] = []
        current = start
        while True:
            if current in out:
                found = out[current]
                break
            path.append(current)
            parent, kind = rows[current]
            if kind == "bureau" or parent is None or parent not in rows or parent in path:
                found = current
                break
            current = parent
        for unit_id in path:
            out[unit_id] = found
    return out


def same_bureau(session: Session, first: Unit | int, second: Unit | int) -> bool:
    """Do two units work together: in one bureau, or one above the other (a city's unit
    and a bureau under it)?"""
    a, b = (u if isinstance(u, int) else u.id for u in (first, second))
    above_a, above_b = unit_ids_above(session, a), unit_ids_above(session, b)
    return a in above_b or b in above_a or bureau_of(session, a) == bureau_of(session, b)


def in_scope(session: Session, user, unit: Unit | int | None) -> bool:
    """True when the user's reach includes the unit (unit-scoped roles: own subtree)."""
    if user.role not in UNIT_SCOPED_ROLES or unit is None:
        return True
    unit_id = unit if isinstance(unit, int) else unit.id
    if user.unit_id is None:
        return False
    return unit_id in unit_ids_below(session, user.unit_id)


def can(session: Session, user, permission: str, unit: Unit | int | None = None) -> bool:
    """May this user do this, on this unit (if the permission concerns one)?"""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if user is None or not user.is_active:
        return False
    if isinstance(user, SystemActor):
        return True
    if user.role not in PERMISSIONS[permission]:
        return False
    return in_scope(session, user, unit)


def units_allowed(session: Session, user, permission: str, unit_ids) -> set[int]:
    """Those of these units on which the user may do this: the user's reach is read once
    for a whole list (``can`` on each would walk the tree once per unit)."""
    ids = {i for i in unit_ids if i is not None}
    if not ids or not can(session, user, permission):
        return set()
    if isinstance(user, SystemActor) or user.role not in UNIT_SCOPED_ROLES:
        return ids
    if user.unit_id is None:
        return set()
    return ids & unit_ids_below(session, user.unit_id)


def require(session: Session, user, permission: str, unit: Unit | int | None = None) -> None:
    """Raise PermissionDenied unless ``can`` says yes."""
    if not can(session, user, permission, unit):
        if unit is not None and user is not None and user.role in PERMISSIONS.get(permission, ()):
            raise PermissionDenied(_("您只能操作本单位及下级单位的数据。"))
        raise PermissionDenied(_("您的角色无权执行此操作。"))
