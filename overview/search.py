"""The header's search (issue 22): one box that finds a unit, an item, a label, a person, a
drill or a shelter site by name or code — each only within the searcher's reach, and only
the kinds of record the searcher's role may open."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, case, func, or_, select, true
from sqlalchemy.orm import Session

from drills.models import Drill, drill_units
from inventory.models import Item
from labels import services as lab
from readiness.errors import NotFound
from readiness.models import Unit, User
from readiness.permissions import can, in_scope
from readiness.services import visible_unit_ids
from shelters.models import Shelter

# Shown per kind of record; the rest is one click away in that kind's own list.
LIMIT = 10


@dataclass
class Group:
    """What one kind of record matched: at most LIMIT rows, and whether there were more."""

    rows: list = field(default_factory=list)
    more: bool = False


@dataclass
class Found:
    units: Group
    items: Group
    people: Group
    drills: Group
    sites: Group

    @property
    def empty(self) -> bool:
        return not any(
            g.rows for g in (self.units, self.items, self.people, self.drills, self.sites)
        )


def label_code(session: Session, actor, q: str) -> str | None:
    """The label ``q`` is the code (or the scanned address) of, when the searcher may open its
    scan page; another bureau's label is not found, as if it did not exist."""
    if not can(session, actor, "stock.view"):
        return None
    try:
        found = lab.resolve(session, q)
    except NotFound:
        return None
    if found.unit is None or not in_scope(session, actor, found.unit):
        return None
    return found.label.code


def find(session: Session, actor, q: str) -> Found:
    """Everything in the searcher's reach whose name or code contains ``q``; exact codes
    first. Kinds the role may not open (people for a clerk, drills for the administrator)
    stay empty."""
    reach = visible_unit_ids(session, actor)

    def within(column) -> ColumnElement[bool]:
        return true() if reach is None else column.in_(reach)

    def may(permission: str) -> bool:
        return can(session, actor, permission)

    units = _search(
        select(Unit).where(within(Unit.id)), q, Unit.code, (Unit.code, Unit.name), Unit.code
    )
    # an item by its Chinese or its English name, whichever language the searcher types
    items = _search(select(Item), q, Item.code, (Item.code, Item.name, Item.name_en), Item.code)
    people = _search(
        select(User).where(within(User.unit_id)),
        q,
        User.username,
        (User.username, User.name),
        User.username,
    )
    involved = select(drill_units.c.drill_id).where(within(drill_units.c.unit_id))
    drills = _search(
        select(Drill).where(or_(within(Drill.lead_unit_id), Drill.id.in_(involved))),
        q,
        None,
        (Drill.title, Drill.hazard, Drill.location),
        Drill.held_on.desc(),
    )
    sites = _search(
        select(Shelter).where(within(Shelter.town_id)),
        q,
        None,
        (Shelter.name, Shelter.address),
        Shelter.name,
    )
    return Found(
        units=_group(session, units) if may("units.view") else Group(),
        items=_group(session, items) if may("items.view") else Group(),
        people=_group(session, people) if may("users.view") else Group(),
        drills=_group(session, drills) if may("drills.view") else Group(),
        sites=_group(session, sites) if may("shelters.view") else Group(),
    )


def _search(stmt: Select, q: str, code, columns, order) -> Select:
    """``stmt`` narrowed to rows whose columns contain ``q`` (any case), the row whose code
    is exactly ``q`` first."""
    stmt = stmt.where(or_(*(c.icontains(q, autoescape=True) for c in columns)))
    if code is not None:
        stmt = stmt.order_by(case((func.lower(code) == q.lower(), 0), else_=1))
    return stmt.order_by(order).limit(LIMIT + 1)


def _group(session: Session, stmt: Select) -> Group:
    rows = list(session.scalars(stmt))
    return Group(rows=rows[:LIMIT], more=len(rows) > LIMIT)
