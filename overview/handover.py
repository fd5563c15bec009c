"""Handover (人事调整): a unit's named custodian, what a person still holds when they move
post or leave, and passing all of it to a successor in one step.

Who may hold what, checked the same way for a unit's custodian, for a successor and for the
holder themselves (so the lists show what a moved person can no longer carry):

- custodian (保管责任人) of a unit: an active clerk or keeper — a person who may keep that
  unit's books (``stock.write``) — whose own unit is the unit or one above it;
- owner of an open corrective action: a person who may record that unit's drills
  (``drills.write`` on the action's unit);
- requester of an open allocation: a person who may request for the receiving unit and has
  not already approved that request (the requester never approves their own request);
- starter of an open stocktake: a person who may count that unit (``counts.write``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from drills.models import CorrectiveAction, Finding
from inventory.models import Allocation, Count
from readiness import audit
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import UNIT_SCOPED_ROLES, AuditEntry, Unit, User
from readiness.permissions import PERMISSIONS, require
from readiness.services import visible_unit_ids

OPEN_ACTION_STATUSES = ("open", "in_progress", "done")  # not verified, not cancelled
OPEN_ALLOCATION_STATUSES = ("draft", "submitted", "approved")  # not yet dispatched
OPEN_COUNT_STATUSES = ("open", "returned")  # still being counted, or counted again

KINDS = ("custodian", "action", "allocation", "count")
# The audit actions that (re)assign each kind of object to a person.
ASSIGN_ACTIONS = {
    "custodian": "unit.set_custodian",
    "action": "action.reassign",
    "allocation": "allocation.reassign",
    "count": "count.reassign",
}
OBJECT_TYPES = {
    "custodian": "units",
    "action": "corrective_actions",
    "allocation": "allocations",
    "count": "counts",
}
MAX_LISTED_PROBLEMS = 5


def _sep() -> str:
    return _("；")


class _Reach:
    """Who may take on what; unit subtrees are looked up once per unit."""

    def __init__(self, session: Session):
        self.session = session
        self._below: dict[int, set[int]] = {}
        self._children: dict[int | None, list[int]] | None = None

    def _subtree(self, unit_id: int) -> set[int]:
        """The unit and every unit under it, from the unit tree read once (a recursive query
        per unit made the handover page's query count grow with the units: issue 21)."""
        if self._children is None:
            self._children = {}
            for uid, parent_id in self.session.execute(select(Unit.id, Unit.parent_id)):
                self._children.setdefault(parent_id, []).append(uid)
        out, todo = set(), [unit_id]
        while todo:
            current = todo.pop()
            if current not in out:
                out.add(current)
                todo.extend(self._children.get(current, ()))
        return out

    def covers(self, user: User, unit_id: int) -> bool:
        if user.role not in UNIT_SCOPED_ROLES:
            return True
        if user.unit_id is None:
            return False
        if user.unit_id not in self._below:
            self._below[user.unit_id] = self._subtree(user.unit_id)
        return unit_id in self._below[user.unit_id]

    def may(self, user: User, permission: str, unit_id: int) -> bool:
        return (
            user.is_active and user.role in PERMISSIONS[permission] and self.covers(user, unit_id)
        )

    def custodian_problem(self, user: User, unit: Unit) -> str | None:
        name = user.display_name
        if not user.is_active:
            return _("{name} 的账号已停用。").format(name=name)
        if user.role not in PERMISSIONS["stock.write"]:
            return _("{name} 是{role}，保管责任人须是本单位登记员或仓库保管员。").format(
                name=name, role=user.role_label
            )
        if not self.covers(user, unit.id):
            return _("{name} 所在单位不管辖{unit}，保管责任人须属于该单位或其上级单位。").format(
                name=name, unit=unit.name
            )
        return None

    def problem(self, user: User, held: Held) -> str | None:
        """Why this user cannot hold this thing, or None."""
        obj = held.obj
        name = user.display_name
        if held.kind == "custodian":
            return self.custodian_problem(user, obj)
        if not user.is_active:
            return _("{name} 的账号已停用。").format(name=name)
        if held.kind == "action":
            if not self.may(user, "drills.write", obj.unit_id):
                return _("{name} 不能负责{unit}的整改事项（第 {id} 号）。").format(
                    name=name, unit=obj.unit.name, id=obj.id
                )
        elif held.kind == "allocation":
            if not self.may(user, "allocations.request", obj.to_unit_id):
                return _("{name} 不能为{unit}申请调拨（调拨单第 {id} 号）。").format(
                    name=name, unit=obj.to_unit.name, id=obj.id
                )
            if any(ap.approver_id == user.id for ap in obj.approvals):
                return _("{name} 已审批过调拨单第 {id} 号，申请人不能是审批人。").format(
                    name=name, id=obj.id
                )
        elif held.kind == "count" and not self.may(user, "counts.write", obj.unit_id):
            return _("{name} 不能清点{unit}（盘点第 {id} 号）。").format(
                name=name, unit=obj.unit.name, id=obj.id
            )
        return None


# ---------------------------------------------------------------- custodians


def custodian_candidates(session: Session, unit: Unit) -> list[User]:
    """Active clerks and keepers of the unit or a unit above it: who may be its custodian."""
    chain: list[int] = []
    current: Unit | None = unit
    while current is not None and current.id not in chain:
        chain.append(current.id)
        current = current.parent
    return list(
        session.scalars(
            select(User)
            .where(
                User.is_active.is_(True),
                User.role.in_(sorted(PERMISSIONS["stock.write"])),
                User.unit_id.in_(chain),
            )
            .order_by(User.username)
        )
    )


def custodian_problem(session: Session, user: User, unit: Unit) -> str | None:
    """Why this user cannot be (or no longer is fit to be) the unit's custodian, or None."""
    return _Reach(session).custodian_problem(user, unit)


def set_custodian(
    session: Session,
    unit: Unit,
    user: User | None,
    *,
    actor,
    expected_version: int | None = None,
) -> Unit:
    """Name the unit's custodian (保管责任人), or clear it with None."""
    require(session, actor, "handover.manage", unit)
    if expected_version is not None and unit.version != expected_version:
        raise Conflict(_("该记录已被他人修改，请刷新页面后重新操作。"))
    if user is not None:
        if not unit.is_active:
            raise DomainError(_("单位 {name} 已停用。").format(name=unit.name), field="custodian")
        problem = custodian_problem(session, user, unit)
        if problem:
            raise DomainError(problem, field="custodian")
    if unit.custodian_id == (user.id if user else None):
        return unit
    before = unit.custodian
    unit.custodian = user
    _flush(session)
    audit.record(
        session,
        actor,
        ASSIGN_ACTIONS["custodian"],
        unit,
        unit_id=unit.id,
        before={"custodian": before.username if before else None},
        after={"custodian": user.username if user else None},
    )
    return unit


@dataclass(frozen=True)
class CustodianGap:
    unit: Unit
    custodian: User | None
    reason: str


def units_without_custodian(
    session: Session, *, kind: str | None = None, scope: set[int] | None = None
) -> list[CustodianGap]:
    """Active units with no custodian fit to hold the post: none named, the custodian's account
    is deactivated, or they moved to a post that no longer keeps this unit's books."""
    stmt = (
        select(Unit)
        .where(Unit.is_active.is_(True))
        .options(selectinload(Unit.custodian))
        .order_by(Unit.code)
    )
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    if scope is not None:
        stmt = stmt.where(Unit.id.in_(scope))
    reach = _Reach(session)
    gaps = []
    for unit in session.scalars(stmt):
        if unit.custodian is None:
            gaps.append(CustodianGap(unit, None, _("未指定保管责任人。")))
            continue
        problem = reach.custodian_problem(unit.custodian, unit)
        if problem:
            gaps.append(CustodianGap(unit, unit.custodian, problem))
    return gaps


# ---------------------------------------------------------------- what a person holds


@dataclass
class Held:
    """One thing assigned to a person; ``reason`` says why it must be handed over (None when
    it still fits them)."""

    kind: str  # custodian | action | allocation | count
    obj: Unit | CorrectiveAction | Allocation | Count
    assigned_at: datetime | None = None
    reason: str | None = None


@dataclass
class Assignments:
    user: User
    custodian_of: list[Held] = field(default_factory=list)
    actions: list[Held] = field(default_factory=list)
    allocations: list[Held] = field(default_factory=list)
    counts: list[Held] = field(default_factory=list)
    # When the person last changed unit or role (from the audit log), if ever.
    moved_at: datetime | None = None

    @property
    def all(self) -> list[Held]:
        return [*self.custodian_of, *self.actions, *self.allocations, *self.counts]

    @property
    def total(self) -> int:
        return len(self.all)

    @property
    def left_behind(self) -> list[Held]:
        """What no longer fits the person: they left, moved post, or cannot carry it now."""
        return [h for h in self.all if h.reason]

    def __bool__(self) -> bool:
        return self.total > 0


def _held_by(session: Session, user_ids: Iterable[int]) -> dict[int, Assignments]:
    ids = sorted(set(user_ids))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    out = {uid: Assignments(users[uid]) for uid in ids if uid in users}
    if not out:
        return out
    ids = list(out)
    for unit in session.scalars(select(Unit).where(Unit.custodian_id.in_(ids)).order_by(Unit.code)):
        out[unit.custodian_id].custodian_of.append(Held("custodian", unit))
    for a in session.scalars(
        select(CorrectiveAction)
        .where(
            CorrectiveAction.owner_id.in_(ids),
            CorrectiveAction.status.in_(OPEN_ACTION_STATUSES),
        )
        .options(
            selectinload(CorrectiveAction.unit),
            selectinload(CorrectiveAction.finding).selectinload(Finding.drill),
        )
        .order_by(CorrectiveAction.due_on, CorrectiveAction.id)
    ):
        out[a.owner_id].actions.append(Held("action", a, a.created_at))
    for a in session.scalars(
        select(Allocation)
        .where(
            Allocation.requested_by_id.in_(ids),
            Allocation.status.in_(OPEN_ALLOCATION_STATUSES),
        )
        .options(
            selectinload(Allocation.from_unit),
            selectinload(Allocation.to_unit),
            selectinload(Allocation.approvals),
        )
        .order_by(Allocation.id)
    ):
        out[a.requested_by_id].allocations.append(Held("allocation", a, a.created_at))
    for c in session.scalars(
        select(Count)
        .where(Count.started_by_id.in_(ids), Count.status.in_(OPEN_COUNT_STATUSES))
        .options(selectinload(Count.unit))
        .order_by(Count.id)
    ):
        out[c.started_by_id].counts.append(Held("count", c, c.started_at))
    _add_times(session, out)
    reach = _Reach(session)
    for held in out.values():
        for h in held.all:
            h.reason = _left_behind_reason(reach, held, h)
    return out


def _add_times(session: Session, out: dict[int, Assignments]) -> None:
    """When each thing was last (re)assigned, and when each person last moved post."""
    by_key = {(OBJECT_TYPES[h.kind], str(h.obj.id)): h for a in out.values() for h in a.all}
    if by_key:
        rows = session.execute(
            select(AuditEntry.object_type, AuditEntry.object_id, AuditEntry.at).where(
                AuditEntry.action.in_(list(ASSIGN_ACTIONS.values())),
                or_(
                    *(
                        (AuditEntry.object_type == t)
                        & AuditEntry.object_id.in_([i for tt, i in by_key if tt == t])
                        for t in {t for t, _i in by_key}
                    )
                ),
            )
        )
        for object_type, object_id, at in rows:
            h = by_key.get((object_type, object_id))
            if h is not None and (h.assigned_at is None or at > h.assigned_at):
                h.assigned_at = at
    moves = session.execute(
        select(AuditEntry.object_id, AuditEntry.at, AuditEntry.before, AuditEntry.after).where(
            AuditEntry.action == "user.update",
            AuditEntry.object_type == "users",
            AuditEntry.object_id.in_([str(uid) for uid in out]),
        )
    )
    for object_id, at, before, after in moves:
        before, after = before or {}, after or {}
        if any(before.get(k) != after.get(k) for k in ("unit_id", "role")):
            held = out[int(object_id)]
            if held.moved_at is None or at > held.moved_at:
                held.moved_at = at


def _left_behind_reason(reach: _Reach, held: Assignments, h: Held) -> str | None:
    user = held.user
    if not user.is_active:
        return _("账号已停用")
    if reach.problem(user, h):
        return _("现岗位不能负责此项")
    if held.moved_at and h.assigned_at and h.assigned_at < held.moved_at:
        return _("调整岗位前交办")
    return None


def assignments(session: Session, user: User) -> Assignments:
    """Everything still assigned to a person: custodian posts, open corrective actions they
    own, open allocation requests they made, open stocktakes they started."""
    return _held_by(session, [user.id])[user.id]


def _unit_of(held: Held) -> int | None:
    obj = held.obj
    if isinstance(obj, Unit):
        return obj.id
    if isinstance(obj, Allocation):
        return obj.to_unit_id
    return obj.unit_id


def awaiting_handover(session: Session, scope: set[int] | None = None) -> list[Assignments]:
    """People who still hold something they should pass on: deactivated accounts, and people
    whose unit or role changed after it was given to them or who can no longer carry it.
    With a ``scope`` (a bureau's units), those of that bureau or holding something in it."""
    holders: set[int] = set()
    holders.update(session.scalars(select(Unit.custodian_id).where(Unit.custodian_id.is_not(None))))
    holders.update(
        session.scalars(
            select(CorrectiveAction.owner_id).where(
                CorrectiveAction.status.in_(OPEN_ACTION_STATUSES)
            )
        )
    )
    holders.update(
        session.scalars(
            select(Allocation.requested_by_id).where(
                Allocation.requested_by_id.is_not(None),
                Allocation.status.in_(OPEN_ALLOCATION_STATUSES),
            )
        )
    )
    holders.update(
        session.scalars(
            select(Count.started_by_id).where(
                Count.started_by_id.is_not(None), Count.status.in_(OPEN_COUNT_STATUSES)
            )
        )
    )
    rows = [
        a
        for a in _held_by(session, holders).values()
        if a.left_behind
        and (scope is None or a.user.unit_id in scope or any(_unit_of(h) in scope for h in a.all))
    ]
    rows.sort(key=lambda a: (a.user.is_active, a.user.username))
    return rows


# ---------------------------------------------------------------- passing it on


def successor_problems(session: Session, held: Assignments, successor: User) -> list[str]:
    """Why this person cannot take over everything held (empty when they can)."""
    reach = _Reach(session)
    return [p for h in held.all if (p := reach.problem(successor, h))]


def fitting_successors(session: Session, held: Assignments) -> list[User]:
    """Active people (other than the holder) who could take over everything held."""
    reach = _Reach(session)
    candidates = session.scalars(
        select(User)
        .where(User.is_active.is_(True), User.id != held.user.id)
        .order_by(User.username)
    )
    return [u for u in candidates if not any(reach.problem(u, h) for h in held.all)]


@dataclass(frozen=True)
class HandoverResult:
    successor: User
    custodian_of: int
    actions: int
    allocations: int
    counts: int

    @property
    def total(self) -> int:
        return self.custodian_of + self.actions + self.allocations + self.counts


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(_("有事项刚被他人修改，请刷新页面后重新操作。")) from None


def reassign(
    session: Session,
    user: User,
    successor: User | None,
    *,
    actor,
    expected_total: int | None = None,
) -> HandoverResult:
    """Pass everything still assigned to a person to one successor, in one step: each object
    gets an audit entry naming the person before and after. If the successor cannot take
    over every item, nothing changes."""
    require(session, actor, "handover.manage")
    if successor is None:
        raise DomainError(_("请选择接替人。"), field="successor")
    reach = visible_unit_ids(session, actor)
    if reach is not None and (user.unit_id not in reach or successor.unit_id not in reach):
        raise PermissionDenied(_("您只能操作本单位及下级单位的数据。"))
    if successor.id == user.id:
        raise DomainError(
            _("接替人不能是 {name} 本人。").format(name=user.display_name), field="successor"
        )
    if not successor.is_active:
        raise DomainError(
            _("接替人 {name} 的账号已停用，不能接手工作。").format(name=successor.display_name),
            field="successor",
        )
    held = assignments(session, user)
    if not held:
        raise Conflict(_("{name} 名下没有需要移交的事项。").format(name=user.display_name))
    if expected_total is not None and expected_total != held.total:
        raise Conflict(
            _("{name} 名下的事项刚有变化（现有 {n} 项），请核对后重新提交。").format(
                name=user.display_name, n=held.total
            )
        )
    problems = successor_problems(session, held, successor)
    if problems:
        shown = _sep().join(problems[:MAX_LISTED_PROBLEMS])
        if len(problems) > MAX_LISTED_PROBLEMS:
            shown += _sep() + _("等 {n} 项").format(n=len(problems))
        raise DomainError(
            _("不能移交给 {name}，未做任何修改：{problems}").format(
                name=successor.display_name, problems=shown
            ),
            field="successor",
        )
    old, new = user.username, successor.username
    summary = _("移交：{old} → {new}").format(old=old, new=new)
    for h in held.custodian_of:
        h.obj.custodian = successor
    for h in held.actions:
        h.obj.owner = successor
    for h in held.allocations:
        h.obj.requested_by = successor
    for h in held.counts:
        h.obj.started_by = successor
    _flush(session)
    fields = {
        "custodian": ("custodian", lambda o: o.id),
        "action": ("owner", lambda o: o.unit_id),
        "allocation": ("requested_by", lambda o: o.to_unit_id),
        "count": ("started_by", lambda o: o.unit_id),
    }
    for h in held.all:
        name, unit_of = fields[h.kind]
        audit.record(
            session,
            actor,
            ASSIGN_ACTIONS[h.kind],
            h.obj,
            unit_id=unit_of(h.obj),
            before={name: old},
            after={name: new},
            summary=summary,
        )
    result = HandoverResult(
        successor,
        len(held.custodian_of),
        len(held.actions),
        len(held.allocations),
        len(held.counts),
    )
    audit.record(
        session,
        actor,
        "user.handover",
        user,
        unit_id=user.unit_id,
        before={"holder": old},
        after={
            "holder": new,
            "custodian_of": [h.obj.code for h in held.custodian_of],
            "actions": [h.obj.id for h in held.actions],
            "allocations": [h.obj.id for h in held.allocations],
            "counts": [h.obj.id for h in held.counts],
        },
        summary=summary,
    )
    return result
