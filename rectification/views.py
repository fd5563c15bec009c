"""Pages for inspection visits (督察检查): the visits to my units, recording one with what
it found, and one visit with where each of its problems stands."""

from __future__ import annotations

import secrets
from datetime import date

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from readiness import services as core
from readiness.api import date_field
from readiness.api import report_scope as unit_scope
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.models import Unit, User
from readiness.pages import active_units_in_reach, date_or_none, paginate
from readiness.permissions import can
from rectification import visits as vis
from rectification.models import ACTION_STATUSES, VISIT_KINDS, CorrectiveAction, InspectionVisit

bp = Blueprint("rectification", __name__)

START_ROWS = 3
MORE_ROWS = 5
# A finding row of the form: its fields are posted as ``text-0``, ``unit-0``…
ROW_FIELDS = ("text", "unit", "owner", "due_on", "measures", "leader")
HEAD_FIELDS = ("kind", "unit", "visited_on", "team", "summary")
# Who may be named responsible for a finding: the people who do a unit's work.
OWNER_ROLES = ("clerk", "keeper", "command")
# The one-time keys of the visit forms this browser recorded ([key, visit id], newest last):
# a second submit of the same form (double click, back and submit again) records nothing.
RECORDED = "recorded_visits"
RECORDED_KEPT = 20


def _in_reach(actor) -> list[tuple[Unit, int]]:
    """Active units the actor reaches, in tree order with their depth."""
    reach = core.visible_unit_ids(db.session, actor)
    roots = None if reach is None else {actor.unit_id}
    return [(u, d) for u, d in core.unit_tree(db.session, roots) if u.is_active]


def _people(units: list[tuple[Unit, int]]) -> list[tuple[Unit, list[User]]]:
    """Who may be named responsible, by unit in tree order: active clerks, keepers and
    command staff of the units in reach."""
    ids = [u.id for u, _d in units]
    stmt = (
        select(User)
        .where(User.is_active, User.role.in_(OWNER_ROLES), User.unit_id.in_(ids))
        .order_by(User.username)
    )
    by_unit: dict[int, list[User]] = {}
    for user in db.session.scalars(stmt):
        by_unit.setdefault(user.unit_id, []).append(user)
    return [(u, by_unit[u.id]) for u, _d in units if u.id in by_unit]


# ---------------------------------------------------------------- filter choices


@bp.app_template_global()
def filter_units() -> list[tuple[str, str]]:
    """(code, "name (code)") of the active units the signed-in user reaches: the choices of
    the unit filter of the rectification list and the visits (templates/rectification/
    _filter_selects.html), named as the other lists' unit pickers name them (issue 22)."""
    return [(u.code, f"{u.name} ({u.code})") for u in active_units_in_reach()]


@bp.route("/visits")
@permission("visits.view")
def visits():
    """Inspection visits to my units, or that found problems in them, newest first."""
    unit_ids = unit_scope(request.args.get("unit"))
    stmt = (
        select(InspectionVisit)
        .options(
            selectinload(InspectionVisit.unit),
            selectinload(InspectionVisit.actions),
        )
        .order_by(InspectionVisit.visited_on.desc(), InspectionVisit.id.desc())
    )
    if unit_ids is not None:
        found_there = select(CorrectiveAction.visit_id).where(
            CorrectiveAction.unit_id.in_(unit_ids), CorrectiveAction.visit_id.is_not(None)
        )
        stmt = stmt.where(
            or_(InspectionVisit.unit_id.in_(unit_ids), InspectionVisit.id.in_(found_there))
        )
    kind = request.args.get("kind") or ""
    if kind:
        stmt = stmt.where(InspectionVisit.kind == kind)
    start = date_field(request.args.get("from"), "from")
    end = date_field(request.args.get("to"), "to")
    if start:
        stmt = stmt.where(InspectionVisit.visited_on >= start)
    if end:
        stmt = stmt.where(InspectionVisit.visited_on <= end)
    listing = paginate(stmt)
    today = date.today()
    return render_template(
        "rectification/visits.html",
        listing=listing,
        rows=[(v, vis.progress(v, today, vis.actions_in(v, unit_ids))) for v in listing.rows],
        kinds=VISIT_KINDS,
        may_record=can(db.session, current_actor(), "visits.record"),
    )


def _rows_posted() -> int:
    """How many finding rows the form showed (at least START_ROWS, at most FINDINGS_MAX)."""
    try:
        shown = int(request.form.get("rows", START_ROWS))
    except ValueError:
        shown = START_ROWS
    return max(START_ROWS, min(shown, vis.FINDINGS_MAX))


def _row(n: int) -> dict[str, str]:
    return {name: (request.form.get(f"{name}-{n}") or "").strip() for name in ROW_FIELDS}


def _form_values(rows: int) -> tuple[MultiDict, int]:
    """What was typed, with the filled finding rows first (the service numbers the filled
    ones: its "第 2 个问题" is then the form's row 2); and how many rows are filled."""
    filled = [row for n in range(rows) if any((row := _row(n)).values())]
    values = MultiDict({name: request.form.get(name, "") for name in HEAD_FIELDS})
    for n, row in enumerate(filled):
        for name, value in row.items():
            values[f"{name}-{n}"] = value
    return values, len(filled)


def _findings(values: MultiDict, filled: int, units: dict[str, Unit], people: dict[str, User]):
    """The filled rows as findings; a unit or person outside the choices offered is left
    out, and the service names the row that lacks it."""
    return [
        vis.VisitFinding(
            text=values[f"text-{n}"],
            unit=units.get(values[f"unit-{n}"]),
            owner=people.get(values[f"owner-{n}"]),
            due_on=date_or_none(values[f"due_on-{n}"]),
            measures=values[f"measures-{n}"],
            leader=values[f"leader-{n}"],
        )
        for n in range(filled)
    ]


def _bad_row(message: str, filled: int) -> int | None:
    """The form row a refusal names ("第 2 个问题：…"), counted from 0."""
    for n in range(filled):
        if message.startswith(_("第 {n} 个问题：{message}").format(n=n + 1, message="")):
            return n
    return None


@bp.route("/visits/new", methods=["GET", "POST"])
@permission("visits.record")
def visit_new():
    """Record an inspection visit and what it found: each problem goes to its responsible
    person as a corrective action."""
    actor = current_actor()
    units = _in_reach(actor)
    people = _people(units)
    rows = _rows_posted() if request.method == "POST" else START_ROWS
    values, filled = _form_values(rows) if request.method == "POST" else (MultiDict(), 0)
    # kept in the session cookie: a tampered, overlong key must not swell it
    key = (request.form.get("request_key") or "")[:40] or secrets.token_urlsafe(16)
    error = error_field = bad_row = None
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        if request.form.get("more"):
            rows = min(max(rows, filled) + MORE_ROWS, vis.FINDINGS_MAX)
        elif (earlier := dict(session.get(RECORDED, [])).get(key)) is not None:
            flash(_("这张检查登记表已经提交过，没有重复登记。"), "warning")
            return redirect(url_for("rectification.visit", visit_id=earlier))
        else:
            by_code = {u.code: u for u, _d in units}
            by_name = {p.username: p for _u, group in people for p in group}
            try:
                visit = vis.record_visit(
                    db.session,
                    kind=values["kind"],
                    unit=by_code.get(values["unit"]),
                    visited_on=date_or_none(values["visited_on"]),
                    team=values["team"],
                    summary=values["summary"],
                    findings=_findings(values, filled, by_code, by_name),
                    actor=actor,
                )
            except DomainError as err:
                db.session.rollback()
                error, error_field = err.message, err.field
                bad_row = _bad_row(err.message, filled) if err.field == "findings" else None
            else:
                db.session.commit()
                recorded = [*session.get(RECORDED, []), [key, visit.id]]
                session[RECORDED] = recorded[-RECORDED_KEPT:]
                if filled:
                    message = _("已登记检查，{n} 个问题已交责任人整改。").format(n=filled)
                else:
                    message = _("本次检查未发现问题，已登记。")
                flash(message, "success")
                return redirect(url_for("rectification.visit", visit_id=visit.id))
    return render_template(
        "rectification/visit_form.html",
        form=ConfirmForm(),
        values=values,
        rows=range(max(rows, filled)),
        kinds=VISIT_KINDS,
        units=units,
        people=people,
        default_unit=getattr(actor.unit, "code", ""),
        request_key=key,
        error=error,
        error_field=error_field,
        bad_row=bad_row,
        more=MORE_ROWS,
        max_rows=vis.FINDINGS_MAX,
        today=date.today(),
    )


@bp.route("/visits/<int:visit_id>")
@permission("visits.view")
def visit(visit_id: int):
    """One visit: what the team found, and where each problem's rectification stands."""
    actor = current_actor()
    found = db.session.get(InspectionVisit, visit_id)
    if found is None or not vis.visit_visible(db.session, actor, found):
        abort(404)
    reach = core.visible_unit_ids(db.session, actor)
    actions = vis.actions_in(found, reach)
    today = date.today()
    return render_template(
        "rectification/visit.html",
        visit=found,
        actions=actions,
        partial=len(actions) < len(found.actions),
        progress=vis.progress(found, today, actions),
        kinds=VISIT_KINDS,
        statuses=ACTION_STATUSES,
        closed=vis.CLOSED,
        today=today,
    )
