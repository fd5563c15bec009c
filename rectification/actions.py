"""Corrective actions: their life from open to verified (closed only with evidence and by a
second person, or returned for rework), due dates moved only by an extension someone else
approves, cancellation, and the lists of open, overdue and orphaned actions."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from readiness import audit
from readiness import checks as core
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import Unit, User
from readiness.permissions import require, unit_ids_above, unit_ids_below
from rectification.models import (
    ACTION_STATUSES,
    ActionExtension,
    ActionReturn,
    CorrectiveAction,
    DueDateChange,
)

TEXT_MAX = 5000
_LABELS = {"evidence": _l("整改证据"), "reason": _l("原因")}


def check_text(value, field: str, *, limit: int = TEXT_MAX) -> str:
    """Required text up to ``limit``, named as the forms name the field."""
    return core.check_text(value, field, limit=limit, required=True, label=str(_LABELS[field]))


def _action_snapshot(a: CorrectiveAction) -> dict:
    return {
        "status": a.status,
        "due_on": a.due_on.isoformat(),
        "evidence": a.evidence or None,
        "owner": a.owner.username,
    }


def _changed(
    session: Session, actor, event: str, action: CorrectiveAction, before: dict, summary: str = ""
) -> CorrectiveAction:
    """Flush a change to an action and audit it with its state before and after."""
    session.flush()
    audit.record(
        session,
        actor,
        event,
        action,
        unit_id=action.unit_id,
        before=before,
        after=_action_snapshot(action),
        summary=summary,
    )
    return action


def start_action(session: Session, action: CorrectiveAction, *, actor) -> CorrectiveAction:
    """The owner starts work on an action."""
    _owner_or_command(session, action, actor)
    if action.status != "open":
        raise Conflict(_("只有未开始的整改事项可以标记为整改中。"))
    before = _action_snapshot(action)
    action.status = "in_progress"
    return _changed(session, actor, "action.start", action, before)


def _owner_or_command(session: Session, action: CorrectiveAction, actor) -> None:
    if getattr(actor, "id", None) == action.owner_id:
        return
    require(session, actor, "drills.write", action.unit_id)


def mark_done(
    session: Session, action: CorrectiveAction, evidence: str, *, actor
) -> CorrectiveAction:
    """Report an action done; without evidence it is refused. Who reported it is kept:
    they may not verify or return it."""
    _owner_or_command(session, action, actor)
    if action.status not in ("open", "in_progress"):
        raise Conflict(
            _("该整改事项当前为“{status}”，不能再标记完成。").format(status=_status(action))
        )
    evidence = check_text(evidence, "evidence")
    before = _action_snapshot(action)
    action.status = "done"
    action.evidence = evidence
    action.done_at = utcnow()
    action.done_by_id = getattr(actor, "id", None)
    return _changed(session, actor, "action.done", action, before)


def _second_person(action: CorrectiveAction, actor, owner_message: str, done_message: str) -> None:
    """Refuse the owner and whoever reported the action done (the second person rule)."""
    actor_id = getattr(actor, "id", None)
    if actor_id is not None and actor_id == action.owner_id:
        raise PermissionDenied(owner_message)
    if actor_id is not None and actor_id == action.done_by_id:
        raise PermissionDenied(done_message)


def verify_action(session: Session, action: CorrectiveAction, *, actor) -> CorrectiveAction:
    """Confirm the fix is real: by command staff or an inspector who is neither the owner
    nor whoever reported it done."""
    require(session, actor, "actions.verify", action.unit_id)
    if getattr(actor, "id", None) == action.owner_id:
        raise PermissionDenied(_("负责人不能验证自己的整改事项，须由他人核验。"))
    if action.status != "done":
        raise Conflict(
            _("只有已完成并附有证据的整改事项才能验证（当前为“{status}”）。").format(
                status=_status(action)
            )
        )
    if action.done_by_id is not None and getattr(actor, "id", None) == action.done_by_id:
        raise PermissionDenied(_("整改由您报告完成，须由另一位指挥人员或督察人员核验。"))
    before = _action_snapshot(action)
    action.status = "verified"
    action.verified_at = utcnow()
    action.verified_by_id = actor.id
    return _changed(session, actor, "action.verify", action, before)


def return_action(
    session: Session, action: CorrectiveAction, reason: str, *, actor
) -> CorrectiveAction:
    """Send a done action back for rework (command staff or an inspector, neither the owner
    nor whoever reported it done): it is in progress again, and the reason and the evidence
    it was sent back with stay in its history."""
    require(session, actor, "actions.return", action.unit_id)
    _second_person(
        action,
        actor,
        _("负责人不能退回自己的整改事项，须由他人核验。"),
        _("整改由您报告完成，不能由您退回，须由另一位指挥人员或督察人员核验。"),
    )
    if action.status != "done":
        raise Conflict(
            _("只有已完成待验证的整改事项才能退回（当前为“{status}”）。").format(
                status=_status(action)
            )
        )
    reason = check_text(reason, "reason", limit=REASON_MAX)
    before = _action_snapshot(action)
    session.add(
        ActionReturn(
            action=action,
            reason=reason,
            evidence=action.evidence,
            done_by_id=action.done_by_id,
            returned_by_id=actor.id,
        )
    )
    # The next report of done needs its own evidence; the returned text stays in the
    # history and the evidence files stay with the action.
    action.status = "in_progress"
    action.evidence = ""
    action.done_at = None
    action.done_by_id = None
    return _changed(session, actor, "action.return", action, before, reason)


# ---------------------------------------------------------------- extensions

REASON_MAX = 500
EXTENDABLE = ("open", "in_progress", "done")


def _new_due_on(action: CorrectiveAction, due_on, today: date) -> date:
    if not isinstance(due_on, date):
        raise DomainError(_("请填写新的完成期限。"), field="due_on")
    if due_on < today:
        raise DomainError(_("新的完成期限不能早于今天。"), field="due_on")
    if due_on <= action.due_on:
        raise DomainError(
            _("新的完成期限须晚于原期限（{due}）。").format(due=action.due_on.isoformat()),
            field="due_on",
        )
    return due_on


def _extension_snapshot(e: ActionExtension) -> dict:
    return {
        "extension": e.id,
        "old_due_on": e.old_due_on.isoformat(),
        "due_on": e.due_on.isoformat(),
        "status": e.status,
        "reason": e.reason,
        "decision_reason": e.decision_reason or None,
    }


def request_extension(
    session: Session,
    action: CorrectiveAction,
    due_on: date | None,
    reason: str,
    *,
    actor,
    today: date | None = None,
) -> ActionExtension:
    """Ask for a later due date (the owner or a writer of the unit), with the reason. The old
    date stands, and an overdue action stays overdue, until someone else approves it."""
    _owner_or_command(session, action, actor)
    if action.status not in EXTENDABLE:
        raise Conflict(
            _("该整改事项当前为“{status}”，不能申请延期。").format(status=_status(action))
        )
    if action.pending_extension is not None:
        raise Conflict(_("该整改事项已有待审批的延期申请，请等待审批结果。"))
    reason = check_text(reason, "reason", limit=REASON_MAX)
    due_on = _new_due_on(action, due_on, today or date.today())
    extension = ActionExtension(
        action=action,
        old_due_on=action.due_on,
        due_on=due_on,
        reason=reason,
        status="pending",
        requested_by_id=actor.id,
        decision_reason="",
    )
    session.add(extension)
    try:
        session.flush()
    except IntegrityError:  # another request for the same action, at the same moment
        raise Conflict(_("该整改事项已有待审批的延期申请，请等待审批结果。")) from None
    audit.record(
        session,
        actor,
        "action.extension_request",
        action,
        unit_id=action.unit_id,
        after=_extension_snapshot(extension),
        summary=reason,
    )
    return extension


def _pending_for_decision(session: Session, action: CorrectiveAction, actor) -> ActionExtension:
    require(session, actor, "actions.approve_extension", action.unit_id)
    extension = action.pending_extension
    if extension is None:
        raise Conflict(_("该整改事项没有待审批的延期申请。"))
    actor_id = getattr(actor, "id", None)
    if actor_id is not None and actor_id == extension.requested_by_id:
        raise PermissionDenied(_("延期由您申请，须由另一位指挥人员或督察人员审批。"))
    if actor_id is not None and actor_id == action.owner_id:
        raise PermissionDenied(_("负责人不能审批自己整改事项的延期。"))
    return extension


def approve_extension(
    session: Session, action: CorrectiveAction, *, actor, today: date | None = None
) -> ActionExtension:
    """Approve the pending extension (command staff or an inspector, not the requester nor
    the owner): the due date moves, and the move is kept in the action's history."""
    extension = _pending_for_decision(session, action, actor)
    if action.status not in EXTENDABLE:
        raise Conflict(_("该整改事项当前为“{status}”，不能再延期。").format(status=_status(action)))
    if extension.due_on < (today or date.today()):
        # the request has gone stale while it waited: refuse it, or ask for a new one
        raise Conflict(_("新的完成期限不能早于今天。"), field="due_on")
    before = _extension_snapshot(extension)
    session.add(
        DueDateChange(
            action=action,
            old_due_on=action.due_on,
            new_due_on=extension.due_on,
            reason=extension.reason,
            changed_by_id=actor.id,
        )
    )
    action.due_on = extension.due_on
    extension.status = "approved"
    extension.decided_by_id = actor.id
    extension.decided_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "action.extension_approve",
        action,
        unit_id=action.unit_id,
        before=before,
        after=_extension_snapshot(extension),
        summary=extension.reason,
    )
    return extension


def reject_extension(
    session: Session, action: CorrectiveAction, reason: str, *, actor
) -> ActionExtension:
    """Refuse the pending extension, with the reason: the due date stays."""
    extension = _pending_for_decision(session, action, actor)
    reason = check_text(reason, "reason", limit=REASON_MAX)
    before = _extension_snapshot(extension)
    extension.status = "rejected"
    extension.decided_by_id = actor.id
    extension.decided_at = utcnow()
    extension.decision_reason = reason
    session.flush()
    audit.record(
        session,
        actor,
        "action.extension_reject",
        action,
        unit_id=action.unit_id,
        before=before,
        after=_extension_snapshot(extension),
        summary=reason,
    )
    return extension


@dataclass(frozen=True)
class HistoryEvent:
    at: datetime
    who: User | None
    text: str
    reason: str = ""


def action_history(action: CorrectiveAction) -> list[HistoryEvent]:
    """Every extension request and decision, and every return, oldest first."""
    events = []
    for e in action.extensions:
        events.append(
            HistoryEvent(
                e.requested_at,
                e.requested_by,
                _("申请延期：{old} → {new}").format(
                    old=e.old_due_on.isoformat(), new=e.due_on.isoformat()
                ),
                e.reason,
            )
        )
        if e.status == "approved":
            events.append(
                HistoryEvent(
                    e.decided_at,
                    e.decided_by,
                    _("批准延期，完成期限改为 {new}").format(new=e.due_on.isoformat()),
                )
            )
        elif e.status == "rejected":
            events.append(
                HistoryEvent(
                    e.decided_at,
                    e.decided_by,
                    _("驳回延期申请，完成期限仍为 {old}").format(old=e.old_due_on.isoformat()),
                    e.decision_reason,
                )
            )
    for r in action.returns:
        events.append(
            HistoryEvent(
                r.returned_at,
                r.returned_by,
                _("退回整改（退回时的证据：{evidence}）").format(evidence=r.evidence or "—"),
                r.reason,
            )
        )
    events.sort(key=lambda ev: ev.at)
    return events


def cancel_action(
    session: Session, action: CorrectiveAction, reason: str, *, actor
) -> CorrectiveAction:
    """Cancel an action that no longer applies (command staff only), with the reason kept on
    the record; an owner cannot cancel their own action."""
    require(session, actor, "actions.cancel")
    if getattr(actor, "id", None) == action.owner_id:
        raise PermissionDenied(_("负责人不能取消自己的整改事项。"))
    if action.status in ("verified", "cancelled"):
        raise Conflict(_("该整改事项当前为“{status}”，不能取消。").format(status=_status(action)))
    reason = check_text(reason, "reason", limit=REASON_MAX)
    before = _action_snapshot(action)
    action.status = "cancelled"
    action.cancel_reason = reason
    return _changed(session, actor, "action.cancel", action, before, reason)


def _status(action: CorrectiveAction) -> str:
    return str(ACTION_STATUSES.get(action.status, action.status))


def actions_query(
    *,
    status: str | None = None,
    owner: User | None = None,
    unit_ids: set[int] | None = None,
    overdue_on: date | None = None,
    source: str | None = None,
    options: tuple = (),
):
    """Corrective actions by status, owner, unit (subtree) or overdue on a date, with what
    every list shows (owner, unit, verifier) loaded in the same few queries; ``options``
    loads what a source adds (a drill's list its drill)."""
    stmt = (
        select(CorrectiveAction)
        .order_by(CorrectiveAction.due_on, CorrectiveAction.id)
        .options(
            joinedload(CorrectiveAction.owner),
            joinedload(CorrectiveAction.unit),
            joinedload(CorrectiveAction.verified_by),
            selectinload(CorrectiveAction.extensions),
            *options,
        )
    )
    return _filtered(
        stmt,
        status=status,
        owner=owner,
        unit_ids=unit_ids,
        overdue_on=overdue_on,
        source=source,
    )


def _username(user_id):
    """The username of the user ``user_id`` names, read beside each row (null for none)."""
    return select(User.username).where(User.id == user_id).scalar_subquery()


def action_rows_query(
    *,
    status: str | None = None,
    owner: User | None = None,
    unit_ids: set[int] | None = None,
    overdue_on: date | None = None,
    source: str | None = None,
):
    """The actions of :func:`actions_query` as plain rows of what the API shows of each
    (the people by username, the unit by code, the extension request waiting on it as
    ``ext_…``), unordered: no objects are built and nothing more is read, so a page of them
    costs little more than its SQL (issue 21)."""
    return _filtered(
        _action_rows(),
        status=status,
        owner=owner,
        unit_ids=unit_ids,
        overdue_on=overdue_on,
        source=source,
    )


@functools.cache
def _action_rows():
    """The select of :func:`action_rows_query` before its filters: built once (building it
    cost more than reading a page), and not at import, which would configure the mappers
    before every model is declared."""
    owner_ = aliased(User, name="owner")
    ext = ActionExtension
    return (
        select(
            CorrectiveAction.id,
            CorrectiveAction.text,
            owner_.username.label("owner"),
            Unit.code.label("unit"),
            CorrectiveAction.due_on,
            CorrectiveAction.status,
            CorrectiveAction.evidence,
            # the other people as subqueries, not joins: each join more made PostgreSQL
            # plan the page longer (2 ms with seven tables) than it took to read it
            _username(CorrectiveAction.verified_by_id).label("verified_by"),
            CorrectiveAction.cancel_reason,
            _username(CorrectiveAction.done_by_id).label("done_by"),
            CorrectiveAction.source,
            CorrectiveAction.measures,
            CorrectiveAction.leader,
            CorrectiveAction.visit_id,
            ext.id.label("ext_id"),
            ext.old_due_on.label("ext_old_due_on"),
            ext.due_on.label("ext_due_on"),
            ext.reason.label("ext_reason"),
            _username(ext.requested_by_id).label("ext_requested_by"),
            ext.requested_at.label("ext_requested_at"),
        )
        .join(owner_, owner_.id == CorrectiveAction.owner_id)
        .join(Unit, Unit.id == CorrectiveAction.unit_id)
        # at most one request waits per action (a unique index): never a row twice
        .outerjoin(ext, (ext.action_id == CorrectiveAction.id) & (ext.status == "pending"))
    )


def _filtered(
    stmt,
    *,
    status: str | None,
    owner: User | None,
    unit_ids: set[int] | None,
    overdue_on: date | None,
    source: str | None,
):
    if status:
        stmt = stmt.where(CorrectiveAction.status == status)
    if source:
        stmt = stmt.where(CorrectiveAction.source == source)
    if owner is not None:
        stmt = stmt.where(CorrectiveAction.owner_id == owner.id)
    if unit_ids is not None:
        stmt = stmt.where(CorrectiveAction.unit_id.in_(unit_ids))
    if overdue_on is not None:
        stmt = stmt.where(
            CorrectiveAction.due_on < overdue_on,
            CorrectiveAction.status.in_(("open", "in_progress")),
        )
    return stmt


@dataclass(frozen=True)
class OverdueGroup:
    key: User | Unit
    count: int
    oldest_due_on: date


def overdue_by(
    session: Session, by: str, *, unit_ids: set[int] | None, today: date
) -> list[OverdueGroup]:
    """Open or in-progress actions past their due date, counted per owner or per unit,
    the most overdue first."""
    column = CorrectiveAction.owner_id if by == "owner" else CorrectiveAction.unit_id
    stmt = (
        select(column, func.count(), func.min(CorrectiveAction.due_on))
        .where(
            CorrectiveAction.due_on < today,
            CorrectiveAction.status.in_(("open", "in_progress")),
        )
        .group_by(column)
    )
    if unit_ids is not None:
        stmt = stmt.where(CorrectiveAction.unit_id.in_(unit_ids))
    rows = session.execute(stmt).all()
    model = User if by == "owner" else Unit
    keys = {
        k.id: k for k in session.scalars(select(model).where(model.id.in_([r[0] for r in rows])))
    }
    out = [OverdueGroup(keys[key_id], n, oldest) for key_id, n, oldest in rows]
    out.sort(key=lambda g: (g.oldest_due_on, -g.count))
    return out


def orphaned_actions(session: Session) -> list[CorrectiveAction]:
    """Unfinished actions whose owner's account is deactivated (moved post)."""
    return list(
        session.scalars(
            select(CorrectiveAction)
            .join(User, User.id == CorrectiveAction.owner_id)
            .where(
                User.is_active.is_(False),
                CorrectiveAction.status.in_(("open", "in_progress", "done")),
            )
            .order_by(CorrectiveAction.due_on)
        )
    )


# ---------------------------------------------------------------- other sources, self-inspection

WRITER_ROLES = ("clerk", "keeper")
SELF_ROLES = ("clerk", "keeper", "command")
LEADER_MAX = 60


def default_owner(session: Session, unit: Unit, actor=None) -> User:
    """Who owns a problem found at a unit when nobody was named (a shelter defect, a count
    variance): whoever found it if they work in the unit, else its custodian (保管责任人),
    else its first active clerk or keeper, else an active command user of the nearest unit
    above it. Refused, naming the unit, when nobody fits."""
    below = unit_ids_below(session, unit.id)
    if (
        isinstance(actor, User)
        and actor.is_active
        and actor.role in SELF_ROLES
        and actor.unit_id in below
    ):
        return actor
    custodian = unit.custodian
    if custodian is not None and custodian.is_active:
        return custodian
    clerk = session.scalar(
        select(User)
        .where(User.unit_id.in_(below), User.role.in_(WRITER_ROLES), User.is_active.is_(True))
        .order_by(User.unit_id != unit.id, User.id)
        .limit(1)
    )
    if clerk is not None:
        return clerk
    above = unit_ids_above(session, unit.id)
    commanders = session.scalars(
        select(User)
        .where(User.unit_id.in_(above), User.role == "command", User.is_active.is_(True))
        .order_by(User.id)
    ).all()
    if commanders:
        nearest = {u: n for n, u in enumerate(above)}
        return min(commanders, key=lambda u: (nearest[u.unit_id], u.id))
    raise DomainError(
        _("请先为{unit}指定责任人（保管责任人）。").format(unit=unit.name), field="owner"
    )


def add_action(
    session: Session,
    *,
    source: str,
    text: str,
    unit: Unit,
    owner: User,
    due_on: date,
    actor,
    measures: str = "",
    leader: str = "",
    evidence: str = "",
    audit_after: dict | None = None,
) -> CorrectiveAction:
    """Put a checked problem in the register (audited ``action.create``); with ``evidence``
    it is born done (fixed on the spot), waiting for a second person to verify it."""
    action = CorrectiveAction(
        source=source,
        text=text,
        measures=measures,
        leader=leader,
        owner=owner,
        unit_id=unit.id,
        due_on=due_on,
        status="done" if evidence else "open",
        evidence=evidence,
        done_at=utcnow() if evidence else None,
        done_by_id=getattr(actor, "id", None) if evidence else None,
    )
    session.add(action)
    session.flush()
    audit.record(
        session,
        actor,
        "action.create",
        action,
        unit_id=unit.id,
        after={
            "source": source,
            "text": text[:200],
            "owner": owner.username,
            "due_on": due_on.isoformat(),
            "status": action.status,
            **(audit_after or {}),
        },
    )
    return action


_SELF_LABELS = {
    "text": _l("问题"),
    "measures": _l("整改措施"),
    "leader": _l("责任领导"),
}


def record_self_inspection(
    session: Session,
    *,
    text: str,
    unit: Unit | None,
    owner: User | None,
    due_on,
    measures: str = "",
    leader: str = "",
    actor,
    today: date | None = None,
) -> CorrectiveAction:
    """A unit's own people (clerk, keeper, command staff of the unit) put a problem they found
    themselves (自查) in the register, for a responsible person of the unit, with a due date.
    Everything is checked before anything is written."""
    today = today or date.today()
    if unit is None:
        raise DomainError(_("请选择责任单位。"), field="unit")
    require(session, actor, "actions.self", unit)
    text = core.check_text(
        text, "text", limit=TEXT_MAX, required=True, label=str(_SELF_LABELS["text"])
    )
    measures = core.check_text(
        measures, "measures", limit=TEXT_MAX, label=str(_SELF_LABELS["measures"])
    )
    leader = core.check_text(leader, "leader", limit=LEADER_MAX, label=str(_SELF_LABELS["leader"]))
    if owner is None:
        raise DomainError(_("请指定责任人。"), field="owner")
    if not owner.is_active:
        raise DomainError(
            _("责任人 {name} 的账号已停用。").format(name=owner.display_name), field="owner"
        )
    if owner.unit_id is None or owner.unit_id not in unit_ids_below(session, unit.id):
        raise DomainError(
            _("责任人 {name} 不属于责任单位 {unit}。").format(
                name=owner.display_name, unit=unit.name
            ),
            field="owner",
        )
    if not isinstance(due_on, date):
        raise DomainError(_("请填写完成时限。"), field="due_on")
    if due_on < today:
        raise DomainError(_("完成时限不能早于今天。"), field="due_on")
    return add_action(
        session,
        source="self",
        text=text,
        unit=unit,
        owner=owner,
        due_on=due_on,
        measures=measures,
        leader=leader,
        actor=actor,
    )
