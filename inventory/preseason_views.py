"""Pages for the pre-season check (汛前检查): progress per unit for command staff, a unit's
check that a keeper or clerk answers on the phone, and the season and checklist command
staff set."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from inventory import preseason
from inventory.preseason_models import ITEM_KINDS, PreseasonCheck
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.pages import active_units_in_reach, unit_in_reach, unit_in_reach_or_own
from readiness.permissions import can, in_scope, unit_ids_above, unit_ids_below
from rectification.models import ACTION_STATUSES

bp = Blueprint("preseason", __name__, url_prefix="/preseason")


def _year(raw, today: date) -> int:
    current = preseason.current_year(db.session, today)
    try:
        year = int(raw)
    except (TypeError, ValueError):
        return current
    return year if 2000 <= year <= 2100 else current


def up_to_date(scope: set[int] | None, today: date) -> None:
    """Open and refresh the checks a page shows; a refresh that collides with another
    request's (the same check opened twice) or cannot name an owner is left for later."""
    try:
        preseason.bring_up_to_date(db.session, scope, today=today)
        db.session.commit()
    except (IntegrityError, DomainError):
        db.session.rollback()


@bp.route("")
@permission("stock.view")
def index():
    """Per unit: how much of its pre-season check is answered, its failures, complete or
    not, overdue when the season has started."""
    actor = current_actor()
    today = date.today()
    unit = unit_in_reach(request.args.get("unit"))
    scope = (
        unit_ids_below(db.session, unit.id)
        if unit is not None
        else core.visible_unit_ids(db.session, actor)
    )
    up_to_date(scope, today)
    year = _year(request.args.get("year"), today)
    rows = preseason.progress_rows(db.session, scope, year=year, today=today)
    visible = core.visible_unit_ids(db.session, actor)
    seasons = preseason.seasons_in_reach(db.session, None, year)
    if visible is not None:
        # the seasons in force in reach: set in reach or above it
        mine = unit.id if unit else actor.unit_id
        above = set(unit_ids_above(db.session, mine)) if mine else set()
        seasons = [s for s in seasons if s.unit_id in visible or s.unit_id in above]
    return render_template(
        "inventory/preseason.html",
        rows=rows,
        seasons=seasons,
        year=year,
        unit=unit,
        complete=sum(1 for r in rows if r.status == "complete"),
        overdue=sum(1 for r in rows if r.overdue),
        may_keep=can(db.session, actor, "standard.manage"),
    )


def _check_in_reach(check_id: int) -> PreseasonCheck:
    check = db.session.get(PreseasonCheck, check_id)
    if check is None:
        abort(404)
    if not in_scope(db.session, current_actor(), check.unit_id):
        abort(403)
    return check


def _render_check(check, *, values=None, problems=None, messages=None, status=200):
    actor = current_actor()
    return (
        render_template(
            "inventory/preseason_check.html",
            check=check,
            shown=preseason.shown_items(db.session, check),
            kinds=ITEM_KINDS,
            statuses=ACTION_STATUSES,
            values=values or {},
            problems=problems or {},
            messages=messages or [],
            may_answer=not check.is_complete
            and can(db.session, actor, "stock.write", check.unit_id),
            form=ConfirmForm(),
            today=date.today(),
        ),
        status,
    )


@bp.route("/<int:check_id>")
@permission("stock.view")
def check(check_id: int):
    """A unit's check: every item with its answer, and the form to answer the rest."""
    entry = _check_in_reach(check_id)
    if entry.completed_at is None:
        try:
            preseason.refresh(db.session, entry)
            db.session.commit()
        except (IntegrityError, DomainError):
            db.session.rollback()
        entry = _check_in_reach(check_id)
    return _render_check(entry)


def _answers_from(form, check) -> tuple[list[preseason.Answer], dict[str, str]]:
    """The answers a form sends, and what was typed (kept when refused)."""
    answers, values = [], {}
    for item in check.items:
        n = item.position
        if item.is_ok is not None or item.kind == "count":
            continue
        choice = form.get(f"ok-{n}", "")
        note = form.get(f"note-{n}", "")
        values[f"ok-{n}"], values[f"note-{n}"] = choice, note
        ok = {"pass": True, "fail": False}.get(choice)
        answers.append(preseason.Answer(n, ok, note))
    return answers, values


@bp.route("/<int:check_id>/answers", methods=["POST"])
@permission("stock.write")
def answer(check_id: int):
    """Answer items of a unit's check: a failure says why and becomes a corrective action."""
    entry = _check_in_reach(check_id)
    if not ConfirmForm().validate_on_submit():
        return _render_check(entry, messages=[_("表单已过期，请重新提交。")], status=400)
    answers, values = _answers_from(request.form, entry)
    try:
        preseason.answer_items(db.session, entry, answers, actor=current_actor())
    except preseason.PreseasonRefused as err:
        db.session.rollback()
        problems: dict[str, str] = {}
        for field, message in err.problems:
            problems.setdefault(field, message)
        entry = _check_in_reach(check_id)
        return _render_check(
            entry,
            values=values,
            problems=problems,
            messages=[m for _f, m in err.problems],
            status=422,
        )
    except DomainError as err:
        db.session.rollback()
        entry = _check_in_reach(check_id)
        return _render_check(entry, values=values, messages=[err.message], status=err.status)
    db.session.commit()
    if entry.is_complete:
        flash(_("汛前检查已全部完成。"), "success")
    elif entry.failed:
        flash(_("已记录。不合格项已列入整改台账。"), "warning")
    else:
        flash(_("已记录。"), "success")
    return redirect(url_for("preseason.check", check_id=entry.id))


@bp.route("/season", methods=["GET", "POST"])
@permission("standard.manage")
def season():
    """The flood season (start, days before it the checks open) and the checklist a unit
    keeps for the units below it."""
    actor = current_actor()
    today = date.today()
    source = request.form if request.method == "POST" else request.args
    unit = unit_in_reach_or_own(source.get("unit"))
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        if unit is None:
            abort(404)
        what = request.form.get("what", "")
        fields = ("items",) if what == "checklist" else ("starts_on", "lead_days")
        typed = {k: request.form.get(k, "") for k in fields}
        try:
            if what == "checklist":
                preseason.set_template(db.session, unit, typed["items"], actor=actor)
                done = _("已保存{unit}的汛前检查表。").format(unit=unit.name)
            else:
                row = preseason.set_season(
                    db.session, unit, typed["starts_on"], typed["lead_days"], actor=actor
                )
                done = _("已设置{unit} {year} 年汛期：{day} 开始，提前 {n} 天检查。").format(
                    unit=unit.name, year=row.year, day=row.starts_on.isoformat(), n=row.lead_days
                )
        except preseason.PreseasonRefused as err:
            db.session.rollback()
            for field, message in err.problems:
                errors.setdefault(field, message)
        except DomainError as err:
            db.session.rollback()
            errors[err.field if err.field in ("items", "starts_on", "lead_days") else "_all"] = (
                err.message
            )
        else:
            db.session.commit()
            flash(done, "success")
            return redirect(url_for("preseason.season", unit=unit.code))
    in_force = own = template = None
    if unit is not None:
        in_force = preseason.season_for(db.session, unit.id, today.year)
        if in_force is None or in_force.starts_on < today:
            in_force = preseason.season_for(db.session, unit.id, today.year + 1) or in_force
        own = in_force if in_force and in_force.unit_id == unit.id else None
        template = preseason.template_for(db.session, unit.id)
    return render_template(
        "inventory/preseason_season.html",
        unit=unit,
        units=active_units_in_reach(),
        in_force=in_force,
        own=own,
        template=template,
        typed=typed,
        errors=errors,
        defaults=preseason.DEFAULT_ITEMS,
        default_lead=preseason.DEFAULT_LEAD_DAYS,
        form=ConfirmForm(),
    )
