"""Pages for drills, corrective actions, requirements and compliance."""

from __future__ import annotations

import functools
import secrets
from dataclasses import replace
from datetime import date, time, timedelta

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload
from werkzeug.datastructures import MultiDict

from drills import attachments_views as files
from drills import records as rec
from drills import requirements as req
from drills import training as trn
from drills.models import (
    ACTION_STATUSES,
    CERTIFICATE_KINDS,
    DRILL_STATUSES,
    ELEMENTS,
    EXTENSION_STATUSES,
    FAMILIES,
    FORMS,
    RATINGS,
    SCOPES,
    Certificate,
    CorrectiveAction,
    Drill,
    TrainingSession,
    drill_units,
)
from drills.reports import compliance_download
from inventory.models import Item
from readiness import lists
from readiness import services as core
from readiness.api import report_scope as unit_scope
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.exports import table_response
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.models import UNIT_KINDS, Unit, User
from readiness.pages import (
    active_units_in_reach,
    attempt,
    confirmed_action,
    date_or_none,
    int_or_none,
    paginate,
    paginate_rows,
)
from readiness.params import year_arg
from readiness.permissions import can, in_scope
from rectification import actions as act
from rectification.models import SOURCES, VISIT_KINDS

bp = Blueprint("drills", __name__)
FINDING_ROWS = 3
# The drill list and the action list download as these; any other ?format= shows the page.
FILE_FORMATS = ("csv", "xlsx")
CALENDAR_DAYS = 90


def _time(name: str) -> time | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise DomainError(_("时间格式应为 时:分，如 09:30。"), field=name) from None


def _finding_input(prefix: str, users_by_name: dict[str, User]) -> rec.FindingInput | None:
    """One finding row of a form (``finding-0``, ``owner-0``…), or None when left empty."""
    text = (request.form.get(f"finding{prefix}") or "").strip()
    if not text:
        return None
    strength = bool(request.form.get(f"strength{prefix}"))
    return rec.FindingInput(
        text=text,
        owner=None if strength else users_by_name.get(request.form.get(f"owner{prefix}", "")),
        due_on=None if strength else date_or_none(request.form.get(f"due{prefix}")),
        element=request.form.get(f"element{prefix}", "planning"),
        is_strength=strength,
        objective=int_or_none(request.form.get(f"objective-of{prefix}")),
    )


def _form_facts(units_by_code: dict, items: list[Item]) -> dict:
    """The drill facts of the record or correction form, as the service takes them."""
    item_ids = {int_or_none(i) for i in request.form.getlist("items")}
    return {
        "title": request.form.get("title", ""),
        "kind": request.form.get("kind", ""),
        "held_on": date_or_none(request.form.get("held_on")),
        "start_time": _time("start_time"),
        "end_time": _time("end_time"),
        "units": [units_by_code[c] for c in request.form.getlist("units") if c in units_by_code],
        "participants": int_or_none(request.form.get("participants")) or 0,
        "duration_minutes": int_or_none(request.form.get("duration_minutes")) or 0,
        "form": request.form.get("form") or None,
        "scope": request.form.get("scope", "comprehensive"),
        "hazard": request.form.get("hazard", ""),
        "location": request.form.get("location", ""),
        "scenario": request.form.get("scenario", ""),
        "roster": request.form.get("roster", ""),
        "items": [i for i in items if i.id in item_ids],
        "is_real_incident": bool(request.form.get("is_real_incident")),
        "hands_on_training": bool(request.form.get("hands_on_training")),
    }


def _active_items() -> list[Item]:
    return db.session.scalars(select(Item).where(Item.is_active).order_by(Item.code)).all()


def _active_users() -> list[User]:
    """Who may own a finding's action: active people of the caller's bureau."""
    stmt = select(User).where(User.is_active).order_by(User.username)
    bureau = core.bureau_unit_ids(db.session, current_actor())
    if bureau is not None:
        stmt = stmt.where(User.unit_id.in_(bureau))
    return db.session.scalars(stmt).all()


def _bureau_units() -> list[Unit]:
    """Units that may take part in the caller's drills: their own bureau's."""
    bureau = core.bureau_unit_ids(db.session, current_actor())
    return [
        u
        for u, _d in core.unit_tree(db.session)
        if u.is_active and (bureau is None or u.id in bureau)
    ]


def _scope() -> set[int] | None:
    return core.visible_unit_ids(db.session, current_actor())


# The drills list: searched by title or leading unit, sorted by any column (issue 22).
DRILL_LIST = lists.ListSpec(
    search=(Drill.title, Unit.name),
    columns=(
        lists.Column("date", (Drill.held_on,)),
        lists.Column("title", (Drill.title,)),
        lists.Column("kind", (Drill.kind,)),
        lists.Column("lead", (Unit.name,)),
        lists.Column("participants", (Drill.participants,)),
        lists.Column("status", (Drill.status,)),
    ),
    tiebreak=Drill.id,
    default_desc=True,
)


@bp.route("/drills")
@permission("drills.view")
def index():
    """Drills led by or involving my units, newest first; searched, filtered and sorted as
    the URL says."""
    shown = lists.shown(DRILL_LIST)
    stmt = select(Drill).join(Unit, Unit.id == Drill.lead_unit_id)
    reach = _scope()
    unit_ids = unit_scope(request.args["unit"]) if request.args.get("unit") else reach
    if unit_ids is not None:
        involved = select(drill_units.c.drill_id).where(drill_units.c.unit_id.in_(unit_ids))
        stmt = stmt.where(or_(Drill.lead_unit_id.in_(unit_ids), Drill.id.in_(involved)))
    year = year_arg()
    if year:
        stmt = stmt.where(Drill.held_on.between(date(year, 1, 1), date(year, 12, 31)))
    for name in ("kind", "status"):
        if request.args.get(name):
            stmt = stmt.where(getattr(Drill, name) == request.args[name])
    stmt = lists.apply(stmt, DRILL_LIST, shown)
    stmt = stmt.options(selectinload(Drill.units), selectinload(Drill.lead_unit))
    fmt = request.args.get("format", "html")
    listing = None if fmt in FILE_FORMATS else paginate(stmt)
    if listing:
        listing.args.pop("format", None)  # the download links and the pager set their own
    drills = listing.rows if listing else db.session.scalars(stmt).all()
    kinds = req.drill_kinds(db.session)
    header = [
        _("日期"),
        _("标题"),
        _("类型"),
        _("组织单位"),
        _("参演单位"),
        _("参演人数"),
        _("时长（分钟）"),
        _("实战响应"),
        _("状态"),
    ]
    response = table_response(
        fmt,
        "drills",
        header,
        (
            [
                d.held_on.isoformat(),
                d.title,
                kinds[d.kind][0],
                d.lead_unit.name,
                _("、").join(u.name for u in d.units),
                d.participants,
                d.duration_minutes,
                _("是") if d.is_real_incident else _("否"),
                str(DRILL_STATUSES[d.status]),
            ]
            for d in drills
        ),
    )
    if response is not None:
        return response
    return render_template(
        "drills/index.html",
        drills=drills,
        kinds=kinds,
        statuses=DRILL_STATUSES,
        listing=listing,
        shown=shown,
        units=active_units_in_reach(reach=reach),
        may_write=can(db.session, current_actor(), "drills.write"),
    )


@bp.route("/drills/new", methods=["GET", "POST"])
@permission("drills.write")
def new():
    """Record a drill with its findings, in a few minutes."""
    actor = current_actor()
    units = _bureau_units()
    scope = _scope()
    lead_units = [u for u in units if scope is None or u.id in scope]
    users = _active_users()
    items = _active_items()
    error = None
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        try:
            by_code = {u.code: u for u in units}
            lead = by_code.get(request.form.get("lead_unit", ""))
            if lead is None:
                raise DomainError(_("请选择组织单位。"), field="lead_unit")
            by_name = {u.username: u for u in users}
            filled = [
                n for n in range(FINDING_ROWS) if (request.form.get(f"objective-{n}") or "").strip()
            ]
            # the form numbers objective rows 1..3; the service numbers the filled ones
            position = {n + 1: i + 1 for i, n in enumerate(filled)}
            findings = [
                replace(f, objective=position.get(f.objective, 0) if f.objective else None)
                for n in range(FINDING_ROWS)
                if (f := _finding_input(f"-{n}", by_name))
            ]
            drill = rec.create_drill(
                db.session,
                **_form_facts(by_code, items),
                lead_unit=lead,
                purpose=request.form.get("purpose", ""),
                summary=request.form.get("summary", ""),
                problems=request.form.get("problems", ""),
                lessons=request.form.get("lessons", ""),
                findings=findings,
                objectives=[
                    (request.form.get(f"objective-{n}", ""), request.form.get(f"rating-{n}"))
                    for n in filled
                ],
                request_key=request.form.get("request_key") or None,
                actor=actor,
            )
        except rec.AlreadyRecorded as err:
            db.session.rollback()
            flash(err.message, "warning")
            if err.drill_id is None:
                return redirect(url_for("drills.index"))
            return redirect(url_for("drills.detail", drill_id=err.drill_id))
        except DomainError as err:
            db.session.rollback()
            error = err.message
        else:
            db.session.commit()
            flash(_("已记录演练：{title}。").format(title=drill.title), "success")
            return redirect(url_for("drills.detail", drill_id=drill.id))
    return render_template(
        "drills/new.html",
        form=ConfirmForm(),
        error=error,
        kinds=req.drill_kinds(db.session, active_only=True, unit_id=actor.unit_id),
        forms=FORMS,
        scopes=SCOPES,
        elements=ELEMENTS,
        lead_units=lead_units,
        units=units,
        users=users,
        items=items,
        values=request.form,
        request_key=request.form.get("request_key") or secrets.token_urlsafe(16),
        rows=range(FINDING_ROWS),
        ratings=RATINGS,
        today=date.today(),
    )


def _drill(drill_id: int) -> Drill:
    drill = db.session.get(Drill, drill_id)
    if drill is None:
        abort(404)
    if not rec.drill_visible(db.session, current_actor(), drill):
        abort(403)
    return drill


@bp.route("/drills/<int:drill_id>/edit", methods=["GET", "POST"])
@permission("drills.write")
def edit(drill_id: int):
    """Correct a drill's facts (a wrong date, a missing unit); the audit log keeps the old."""
    drill = _drill(drill_id)
    units = _bureau_units()
    items = _active_items()
    error = None
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        _updated, error = attempt(
            lambda: rec.update_drill(
                db.session,
                drill,
                **_form_facts({u.code: u for u in units}, items),
                actor=current_actor(),
            )
        )
        if error is None:
            flash(_("已更正演练记录。"), "success")
            return redirect(url_for("drills.detail", drill_id=drill.id))
    values = request.form if request.method == "POST" else _drill_values(drill)
    return render_template(
        "drills/edit.html",
        drill=drill,
        form=ConfirmForm(),
        error=error,
        kinds=req.drill_kinds(db.session, active_only=True, unit_id=drill.lead_unit_id),
        forms=FORMS,
        scopes=SCOPES,
        units=units,
        items=items,
        values=values,
        lead_units=None,
        today=date.today(),
    )


def _drill_values(drill: Drill) -> MultiDict:
    """A drill as the form's data, so the correction form starts from what is recorded."""
    values = MultiDict()
    for name in rec.FACT_FIELDS:
        value = getattr(drill, name)
        if isinstance(value, time):
            values[name] = value.strftime("%H:%M")
        elif isinstance(value, bool):
            if value:
                values[name] = "1"
        elif value is not None:
            values[name] = str(value)
    values.setlist("units", [u.code for u in drill.units])
    values.setlist("items", [str(i.id) for i in drill.items])
    return values


@bp.route("/drills/<int:drill_id>")
@permission("drills.view")
def detail(drill_id: int):
    """One drill: what happened, how it was rated, findings and where each action stands."""
    drill = _drill(drill_id)
    actor = current_actor()
    may_write = can(db.session, actor, "drills.write", drill.lead_unit)
    return render_template(
        "drills/detail.html",
        drill=drill,
        form=ConfirmForm(),
        kinds=req.drill_kinds(db.session),
        families=FAMILIES,
        forms=FORMS,
        scopes=SCOPES,
        statuses=DRILL_STATUSES,
        next_status=rec.DRILL_NEXT.get(drill.status),
        pending=sum(
            1
            for f in drill.findings
            for a in f.actions
            if a.status not in ("verified", "cancelled")
        ),
        action_statuses=ACTION_STATUSES,
        elements=ELEMENTS,
        ratings=RATINGS,
        may_write=may_write and drill.status != "closed",
        users=_active_users() if may_write else [],
        today=date.today(),
    )


@bp.route("/drills/<int:drill_id>/evaluate", methods=["POST"])
@permission("drills.write")
def evaluate(drill_id: int):
    """Rate the objectives and write the summary."""
    drill = _drill(drill_id)
    confirmed_action(
        lambda _version: rec.evaluate_drill(
            db.session,
            drill,
            ratings={o.id: request.form.get(f"rating-{o.id}") or None for o in drill.objectives},
            new_objective=request.form.get("new_objective", ""),
            purpose=request.form.get("purpose"),
            summary=request.form.get("summary"),
            problems=request.form.get("problems"),
            lessons=request.form.get("lessons"),
            actor=current_actor(),
        ),
        lambda _d: _("已保存评估。"),
    )
    return redirect(url_for("drills.detail", drill_id=drill_id))


@bp.route("/drills/<int:drill_id>/status", methods=["POST"])
@permission("drills.write")
def advance(drill_id: int):
    """Move the drill on: held, evaluated, closed."""
    drill = _drill(drill_id)
    confirmed_action(
        lambda _version: rec.advance_drill(
            db.session, drill, request.form.get("status", ""), actor=current_actor()
        ),
        lambda d: _("演练状态已改为“{status}”。").format(status=DRILL_STATUSES[d.status]),
    )
    return redirect(url_for("drills.detail", drill_id=drill_id))


@bp.route("/drills/<int:drill_id>/findings", methods=["POST"])
@permission("drills.write")
def finding_add(drill_id: int):
    """Add a finding (and its corrective action) after the drill was recorded."""
    drill = _drill(drill_id)
    users = {u.username: u for u in _active_users()}

    def run(_version):
        f = _finding_input("", users)
        if f is None:
            raise DomainError(_("请填写内容。"), field="text")
        return rec.add_finding(db.session, drill, f, actor=current_actor())

    confirmed_action(run, lambda _f: _("已添加发现。"))
    return redirect(url_for("drills.detail", drill_id=drill_id))


@bp.route("/actions")
@permission("drills.view")
def actions():
    """Corrective actions: overdue first, by owner and unit; orphaned ones flagged. Searched,
    filtered (owner and unit picked by name) and sorted as the URL says."""
    status = request.args.get("status") or None
    today = date.today()
    scope = _scope()
    people = _people_in_reach(scope)
    owner = None
    if request.args.get("owner"):
        owner = next((p for p in people if p.username == request.args["owner"]), None)
    unit_ids = unit_scope(request.args["unit"]) if request.args.get("unit") else scope
    spec, owner_, unit_ = _action_list()
    shown = lists.shown(spec)
    stmt = act.actions_query(
        status=status,
        owner=owner,
        unit_ids=unit_ids,
        overdue_on=today if request.args.get("overdue") else None,
        options=rec.WITH_DRILL,
    )
    stmt = stmt.join(owner_, owner_.id == CorrectiveAction.owner_id).join(
        unit_, unit_.id == CorrectiveAction.unit_id
    )
    stmt = lists.apply(stmt, spec, shown)
    if request.args.get("owner") and owner is None:
        stmt = stmt.where(False)
    fmt = request.args.get("format", "html")
    listing = None if fmt in FILE_FORMATS else paginate(stmt)
    if listing:
        listing.args.pop("format", None)  # the download links and the pager set their own
    rows = listing.rows if listing else db.session.scalars(stmt).all()
    header = [
        _("编号"),
        _("事项"),
        _("来自演练"),
        _("能力要素"),
        _("负责人"),
        _("单位"),
        _("完成期限"),
        _("状态"),
        _("整改证据"),
        _("验证人"),
    ]
    response = table_response(
        fmt,
        "actions",
        header,
        (
            [
                a.id,
                a.text,
                a.finding.drill.title if a.finding else str(SOURCES[a.source]),
                str(ELEMENTS[a.element]),
                a.owner.display_name,
                a.unit.name,
                a.due_on.isoformat(),
                str(ACTION_STATUSES[a.status]),
                a.evidence,
                a.verified_by.display_name if a.verified_by else "",
            ]
            for a in rows
        ),
    )
    if response is not None:
        return response
    return render_template(
        "drills/actions.html",
        rows=rows,
        listing=listing,
        orphaned=[
            a for a in act.orphaned_actions(db.session) if scope is None or a.unit_id in scope
        ],
        overdue_owners=act.overdue_by(db.session, "owner", unit_ids=scope, today=today),
        overdue_units=act.overdue_by(db.session, "unit", unit_ids=scope, today=today),
        owner=request.args.get("owner", ""),
        unit=request.args.get("unit", ""),
        shown=shown,
        people=people,
        units=active_units_in_reach(reach=scope),
        statuses=ACTION_STATUSES,
        status=status or "",
        overdue=bool(request.args.get("overdue")),
        today=today,
        may_self=can(db.session, current_actor(), "actions.self"),
    )


@functools.cache
def _action_list():
    """How the actions list searches and sorts, with the owner and unit it joins to do so
    (built on first use: an alias made at import would configure the mappers too early)."""
    owner_, unit_ = aliased(User, name="list_owner"), aliased(Unit, name="list_unit")
    spec = lists.ListSpec(
        search=(CorrectiveAction.text, owner_.name, owner_.username, unit_.name),
        columns=(
            lists.Column("due", (CorrectiveAction.due_on,)),
            lists.Column("text", (CorrectiveAction.text,)),
            lists.Column("owner", (owner_.name, owner_.username)),
            lists.Column("unit", (unit_.name,)),
            lists.Column("status", (CorrectiveAction.status,)),
        ),
        tiebreak=CorrectiveAction.id,
    )
    return spec, owner_, unit_


def _people_in_reach(scope: set[int] | None) -> list[User]:
    """Everyone whose actions the reader may see, by name: the owner picker's choices."""
    stmt = select(User).where(User.unit_id.is_not(None)).order_by(User.name, User.username)
    if scope is not None:
        stmt = stmt.where(User.unit_id.in_(scope))
    return list(db.session.scalars(stmt))


@bp.route("/actions/self", methods=["POST"])
@permission("actions.self")
def action_self():
    """Record a problem the unit found itself (自查): it becomes an action of the register."""

    def run(_version):
        f = request.form
        unit_code, username = (f.get("unit") or "").strip(), (f.get("owner") or "").strip()
        unit = core.get_unit(db.session, unit_code) if unit_code else None
        owner = None
        if username:
            owner = db.session.scalar(select(User).where(User.username == username))
            if owner is None:
                raise DomainError(
                    _("责任人 {name} 不存在。").format(name=username[:40]), field="owner"
                )
        return act.record_self_inspection(
            db.session,
            text=f.get("text"),
            unit=unit,
            owner=owner,
            due_on=date_or_none(f.get("due_on")),
            measures=f.get("measures") or "",
            leader=f.get("leader") or "",
            actor=current_actor(),
        )

    confirmed_action(run, lambda a: _("已登记自查问题（整改第 {id} 号）。").format(id=a.id))
    return redirect(url_for("drills.actions"))


def _action(action_id: int) -> CorrectiveAction:
    action = db.session.get(CorrectiveAction, action_id)
    if action is None:
        abort(404)
    if not in_scope(db.session, current_actor(), action.unit_id):
        abort(403)
    return action


@bp.route("/actions/<int:action_id>")
@permission("drills.view")
def action_detail(action_id: int):
    """One corrective action: evidence, verification, due-date history, what to do next."""
    action = _action(action_id)
    actor = current_actor()
    # the second person rule: neither the owner nor whoever reported it done
    second = actor.id not in (action.owner_id, action.done_by_id)
    pending = action.pending_extension
    return render_template(
        "drills/action.html",
        a=action,
        form=ConfirmForm(),
        statuses=ACTION_STATUSES,
        sources=SOURCES,
        visit_kinds=VISIT_KINDS,
        elements=ELEMENTS,
        extension_statuses=EXTENSION_STATUSES,
        may_work=actor.id == action.owner_id
        or can(db.session, actor, "drills.write", action.unit_id),
        may_verify=second and can(db.session, actor, "actions.verify", action.unit_id),
        may_return=second and can(db.session, actor, "actions.return", action.unit_id),
        pending=pending,
        may_decide=pending is not None
        and actor.id not in (pending.requested_by_id, action.owner_id)
        and can(db.session, actor, "actions.approve_extension", action.unit_id),
        history=act.action_history(action),
        today=date.today(),
    )


def _act(action_id: int, run, message: str):
    action = _action(action_id)
    confirmed_action(lambda _version: run(action), lambda _result: message)
    return redirect(url_for("drills.action_detail", action_id=action_id))


@bp.route("/actions/<int:action_id>/start", methods=["POST"])
@permission("drills.view")
def action_start(action_id: int):
    """The owner starts work."""
    return _act(
        action_id,
        lambda a: act.start_action(db.session, a, actor=current_actor()),
        _("已标记为整改中。"),
    )


@bp.route("/actions/<int:action_id>/done", methods=["POST"])
@permission("drills.view")
def action_done(action_id: int):
    """Report done, with evidence: what was done and, optionally, a file (photo, scan)."""
    actor = current_actor()

    def run(a: CorrectiveAction):
        # One transaction: a refused file or text leaves neither a row nor a stored file.
        done = act.mark_done(db.session, a, request.form.get("evidence", ""), actor=actor)
        if a.finding is not None:  # evidence files are kept with a drill's records
            files.attach_upload(
                a.finding.drill, kind="evidence", action=a, actor=actor, optional=True
            )
        return done

    return _act(action_id, run, _("已报告完成，等待他人验证。"))


@bp.route("/actions/<int:action_id>/verify", methods=["POST"])
@permission("actions.verify")
def action_verify(action_id: int):
    """Verify (not the owner)."""
    return _act(
        action_id,
        lambda a: act.verify_action(db.session, a, actor=current_actor()),
        _("已验证销号。"),
    )


@bp.route("/actions/<int:action_id>/return", methods=["POST"])
@permission("actions.return")
def action_return(action_id: int):
    """Send a done action back for rework, with the reason (not the owner nor the reporter)."""
    return _act(
        action_id,
        lambda a: act.return_action(
            db.session, a, request.form.get("reason", ""), actor=current_actor()
        ),
        _("已退回整改。"),
    )


@bp.route("/actions/<int:action_id>/due", methods=["POST"])
@permission("drills.view")
def action_due(action_id: int):
    """Ask for a later due date, with a reason: it moves once someone else approves."""
    new_due = date_or_none(request.form.get("due_on"))
    return _act(
        action_id,
        lambda a: act.request_extension(
            db.session, a, new_due, request.form.get("reason", ""), actor=current_actor()
        ),
        _("已提交延期申请，等待审批；批准前原期限不变。"),
    )


@bp.route("/actions/<int:action_id>/extension/approve", methods=["POST"])
@permission("actions.approve_extension")
def action_extension_approve(action_id: int):
    """Approve the pending extension (not the requester): the due date moves."""
    return _act(
        action_id,
        lambda a: act.approve_extension(db.session, a, actor=current_actor()),
        _("已批准延期。"),
    )


@bp.route("/actions/<int:action_id>/extension/reject", methods=["POST"])
@permission("actions.approve_extension")
def action_extension_reject(action_id: int):
    """Refuse the pending extension, with the reason: the due date stays."""
    return _act(
        action_id,
        lambda a: act.reject_extension(
            db.session, a, request.form.get("reason", ""), actor=current_actor()
        ),
        _("已驳回延期申请。"),
    )


@bp.route("/actions/<int:action_id>/cancel", methods=["POST"])
@permission("actions.cancel")
def action_cancel(action_id: int):
    """Cancel an action that no longer applies, with a reason (command staff)."""
    return _act(
        action_id,
        lambda a: act.cancel_action(
            db.session, a, request.form.get("reason", ""), actor=current_actor()
        ),
        _("已取消该整改事项。"),
    )


@bp.route("/drills/compliance")
@permission("drills.view")
def compliance():
    """Who has held the drills the requirements ask for this year, and who is overdue."""
    year = year_arg(default=date.today().year)
    scope = _scope()
    rows = req.compliance(db.session, year, unit_ids=scope)
    status = request.args.get("status") or None
    if status in ("ok", "due", "overdue"):
        rows = [r for r in rows if r.status == status]
    kinds = req.drill_kinds(db.session)
    response = compliance_download(request.args.get("format", "html"), rows, kinds, year)
    if response is not None:
        return response
    # the calendar: planned drills from a month back (late, not yet recorded) to 90 days on
    today = date.today()
    window = (Drill.held_on >= today - timedelta(days=30)) & (
        Drill.held_on <= today + timedelta(days=CALENDAR_DAYS)
    )
    planned = select(Drill).where(Drill.status == "planned")
    if scope is not None:
        planned = planned.where(Drill.lead_unit_id.in_(scope))
    calendar: dict[str, list[Drill]] = {}
    for drill in db.session.scalars(
        planned.where(window)
        # joined: the same one query whether or not a planned drill falls in the window
        .options(joinedload(Drill.lead_unit))
        .order_by(Drill.held_on, Drill.id)
    ):
        calendar.setdefault(drill.held_on.strftime("%Y-%m"), []).append(drill)
    outside = db.session.scalar(select(func.count()).select_from(planned.where(~window).subquery()))
    return render_template(
        "drills/compliance.html",
        # every unit × required kind of a city is over a thousand rows: a hundred a page
        listing=paginate_rows(rows, 100),
        status=status,
        year=year,
        kinds=kinds,
        calendar=calendar,
        calendar_days=CALENDAR_DAYS,
        outside_calendar=outside,
        may_set=can(db.session, current_actor(), "drills.requirements"),
    )


@bp.route("/drills/requirements", methods=["GET", "POST"])
@permission("drills.requirements")
def requirements():
    """How often each kind of unit must hold each kind of drill; the drill kinds themselves."""
    error = None
    actor = current_actor()
    kinds = req.drill_kinds(db.session, active_only=True, unit_id=actor.unit_id)
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        lines = []
        for unit_kind in UNIT_KINDS:
            for drill_kind in kinds:
                key = f"{unit_kind}-{drill_kind}"
                raw = (request.form.get(key) or "").strip()
                if not raw or raw == "0":
                    continue
                value = int_or_none(raw) if int_or_none(raw) is not None else raw
                if request.form.get(f"{key}-per") == "days":
                    lines.append(req.RequirementInput(unit_kind, drill_kind, interval_days=value))
                else:
                    lines.append(req.RequirementInput(unit_kind, drill_kind, per_year=value))
        _rows, error = attempt(
            lambda: req.set_requirements(db.session, lines, actor=current_actor())
        )
        if error is None:
            flash(_("已保存演练要求。"), "success")
            return redirect(url_for("drills.compliance"))
    if error:
        current = request.form
    else:
        current = {}
        for r in req.requirements_in_force(db.session, actor.unit_id):
            key = f"{r.unit_kind}-{r.drill_kind}"
            current[key] = r.per_year or r.interval_days
            current[f"{key}-per"] = "days" if r.interval_days else "year"
    return render_template(
        "drills/requirements.html",
        form=ConfirmForm(),
        error=error,
        unit_kinds=UNIT_KINDS,
        kinds=kinds,
        current=current,
        unit=actor.unit,
        set_owner=_unit_or_none(req.set_owner(db.session, actor.unit_id)),
        kind_rows=req.kinds_kept_by(db.session, actor),
        may_change=lambda k: req.may_change_kind(db.session, actor, k),
        families=FAMILIES,
    )


def _unit_or_none(unit_id: int | None):
    return db.session.get(Unit, unit_id) if unit_id is not None else None


@bp.route("/drills/kinds", methods=["POST"])
@permission("drills.requirements")
def kind_save():
    """Add a drill kind, or rename, re-map or retire one."""
    confirmed_action(
        lambda _version: req.save_drill_kind(
            db.session,
            code=request.form.get("code", ""),
            name=request.form.get("name", ""),
            family=request.form.get("family", ""),
            is_active=bool(request.form.get("is_active")),
            actor=current_actor(),
        ),
        lambda kind: _("已保存演练类型 {code}。").format(code=kind.code),
    )
    return redirect(url_for("drills.requirements"))


# ---------------------------------------------------------------- training and certificates


@bp.route("/training")
@permission("drills.view")
def training():
    """Training held and certification rates per unit (certified members ÷ team size)."""
    scope = _scope()
    today = date.today()
    kind = request.args.get("kind") or None
    rates = trn.certification_rates(db.session, scope, today=today, kind=kind)
    sessions = select(TrainingSession).order_by(TrainingSession.held_on.desc()).limit(100)
    certificates = select(Certificate).order_by(Certificate.id.desc()).limit(100)
    if scope is not None:
        sessions = sessions.where(TrainingSession.unit_id.in_(scope))
        certificates = certificates.where(Certificate.unit_id.in_(scope))
    certified = sum(r.certified for r in rates)
    team = sum(r.team_size for r in rates)
    units = [
        u
        for u, _d in core.unit_tree(db.session)
        if u.is_active and (scope is None or u.id in scope)
    ]
    return render_template(
        "drills/training.html",
        rates=rates,
        certified=certified,
        team=team,
        sessions=db.session.scalars(sessions).all(),
        certificates=db.session.scalars(certificates).all(),
        kinds=CERTIFICATE_KINDS,
        kind=kind or "",
        units=units,
        form=ConfirmForm(),
        may_write=can(db.session, current_actor(), "drills.write"),
        today=today,
    )


def _training_post(run, message: str):
    confirmed_action(
        lambda _version: run(core.get_unit(db.session, request.form.get("unit", ""))),
        lambda _result: message,
    )
    return redirect(url_for("drills.training"))


@bp.route("/training/sessions", methods=["POST"])
@permission("drills.write")
def training_add():
    """Record a training course."""
    return _training_post(
        lambda unit: trn.add_training(
            db.session,
            unit,
            course=request.form.get("course", ""),
            held_on=date_or_none(request.form.get("held_on")),
            trainees=int_or_none(request.form.get("trainees"))
            if request.form.get("trainees")
            else 0,
            trainee_names=request.form.get("trainee_names", ""),
            note=request.form.get("note", ""),
            actor=current_actor(),
        ),
        _("已记录培训。"),
    )


@bp.route("/training/certificates", methods=["POST"])
@permission("drills.write")
def certificate_add():
    """Register a certificate."""
    return _training_post(
        lambda unit: trn.add_certificate(
            db.session,
            unit,
            person_name=request.form.get("person_name", ""),
            kind=request.form.get("kind", ""),
            number=request.form.get("number", ""),
            valid_until=date_or_none(request.form.get("valid_until")),
            actor=current_actor(),
        ),
        _("已登记证书。"),
    )
