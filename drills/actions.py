"""Corrective actions: their life from open to verified (closed only with evidence and by a
second person), due-date extensions with the reason kept, cancellation, and the lists of
open, overdue and orphaned actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from drills.checks import check_text
from drills.models import ACTION_STATUSES, CorrectiveAction, DueDateChange, Finding
from readiness import audit
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import Unit, User
from readiness.permissions import require


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
    """Report an action done; without evidence it is refused."""
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
    return _changed(session, actor, "action.done", action, before)


def verify_action(session: Session, action: CorrectiveAction, *, actor) -> CorrectiveAction:
    """Confirm the fix is real: by command staff or an inspector who is not the owner."""
    require(session, actor, "actions.verify")
    if getattr(actor, "id", None) == action.owner_id:
        raise PermissionDenied(_("负责人不能验证自己的整改事项，须由他人核验。"))
    if action.status != "done":
        raise Conflict(
            _("只有已完成并附有证据的整改事项才能验证（当前为“{status}”）。").format(
                status=_status(action)
            )
        )
    before = _action_snapshot(action)
    action.status = "verified"
    action.verified_at = utcnow()
    action.verified_by_id = actor.id
    return _changed(session, actor, "action.verify", action, before)


def move_due_date(
    session: Session,
    action: CorrectiveAction,
    new_due_on: date,
    reason: str,
    *,
    actor,
    today: date | None = None,
) -> CorrectiveAction:
    """Move a deadline; the reason and the old date are kept. A new date in the past is
    refused: it would only hide that the action is late."""
    _owner_or_command(session, action, actor)
    if action.status in ("verified", "cancelled"):
        raise Conflict(_("已销号或已取消的整改事项不能改期。"))
    reason = check_text(reason, "reason", limit=500)
    if not isinstance(new_due_on, date):
        raise DomainError(_("请填写新的完成期限。"), field="due_on")
    if new_due_on == action.due_on:
        raise DomainError(_("新期限与原期限相同。"), field="due_on")
    if new_due_on < (today or date.today()):
        raise DomainError(_("新的完成期限不能早于今天。"), field="due_on")
    before = _action_snapshot(action)
    session.add(
        DueDateChange(
            action=action,
            old_due_on=action.due_on,
            new_due_on=new_due_on,
            reason=reason,
            changed_by_id=getattr(actor, "id", None),
        )
    )
    action.due_on = new_due_on
    return _changed(session, actor, "action.move_due", action, before, reason)


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
    reason = check_text(reason, "reason", limit=500)
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
):
    """Corrective actions by status, owner, unit (subtree) or overdue on a date, with what
    every list shows (owner, unit, verifier, the drill) loaded in the same few queries."""
    stmt = (
        select(CorrectiveAction)
        .order_by(CorrectiveAction.due_on, CorrectiveAction.id)
        .options(
            joinedload(CorrectiveAction.owner),
            joinedload(CorrectiveAction.unit),
            joinedload(CorrectiveAction.verified_by),
            joinedload(CorrectiveAction.finding).joinedload(Finding.drill),
        )
    )
    if status:
        stmt = stmt.where(CorrectiveAction.status == status)
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
