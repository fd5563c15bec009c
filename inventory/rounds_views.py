"""Pages for warehouse safety rounds (库区"日周月"隐患排查): what is overdue and the recent
rounds, the checklist a keeper fills in on the phone, a round with its corrective actions,
and the checklists command staff keep."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from inventory import rounds
from inventory.rounds_models import FREQUENCIES, RoundTemplate, SafetyRound
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.pages import active_units_in_reach, unit_in_reach, unit_in_reach_or_own
from readiness.permissions import can, in_scope, unit_ids_below
from rectification.models import ACTION_STATUSES

bp = Blueprint("rounds", __name__, url_prefix="/rounds")


@bp.route("")
@permission("stock.view")
def index():
    """Per warehouse and frequency: overdue first, today's (this week's, this month's) round
    not yet done, and the recent rounds."""
    actor = current_actor()
    unit = unit_in_reach(request.args.get("unit"))
    scope = (
        unit_ids_below(db.session, unit.id)
        if unit is not None
        else core.visible_unit_ids(db.session, actor)
    )
    statuses = rounds.overdue_rows(db.session, scope)
    recent = db.session.scalars(rounds.rounds_query(scope).limit(50)).unique().all()
    return render_template(
        "inventory/rounds.html",
        statuses=statuses,
        overdue=sum(1 for s in statuses if s.overdue),
        recent=recent,
        unit=unit,
        frequencies=FREQUENCIES,
        period_label=rounds.period_label,
        may_record=can(db.session, actor, "stock.write"),
        may_keep=can(db.session, actor, "standard.manage"),
    )


def _answers_from(form, items: list[str]) -> tuple[list[rounds.Answer], dict[str, str]]:
    """The answers a form sends, and what was typed (kept when refused)."""
    answers, values = [], {}
    for n in range(len(items)):
        item = form.get(f"item-{n}", "")
        choice = form.get(f"ok-{n}", "")
        note = form.get(f"note-{n}", "")
        values[f"ok-{n}"], values[f"note-{n}"] = choice, note
        ok = {"pass": True, "fail": False}.get(choice)
        answers.append(rounds.Answer(item=item, ok=ok, note=note))
    return answers, values


@bp.route("/new", methods=["GET", "POST"])
@permission("stock.write")
def new():
    """The checklist a keeper or clerk fills in for their unit: 合格 or 不合格 for each item."""
    actor = current_actor()
    source = request.form if request.method == "POST" else request.args
    unit = unit_in_reach_or_own(source.get("unit"))
    frequency = source.get("frequency", "daily")
    if frequency not in FREQUENCIES:
        frequency = "daily"
    template = rounds.template_for(db.session, unit.id, frequency) if unit else None
    items = list(template.items) if template else []
    today = date.today()
    values: dict[str, str] = {"done_on": today.isoformat(), "note": ""}
    problems: dict[str, str] = {}
    done = None
    if unit is not None:
        done = rounds.existing_round(
            db.session, unit, frequency, rounds.period_start(frequency, today)
        )
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        if unit is None or not can(db.session, actor, "stock.write", unit):
            abort(403)
        answers, typed = _answers_from(request.form, items)
        values = {
            "done_on": request.form.get("done_on", ""),
            "note": request.form.get("note", ""),
            **typed,
        }
        try:
            entry = rounds.record_round(
                db.session,
                unit,
                frequency=frequency,
                done_on=values["done_on"],
                note=values["note"],
                answers=answers,
                actor=actor,
                today=today,
            )
        except rounds.RoundRefused as err:
            db.session.rollback()
            for field, message in err.problems:
                problems.setdefault(field, message)
            messages = [message for _field, message in err.problems]
        except DomainError as err:
            db.session.rollback()
            problems = {err.field or "_all": err.message}
            messages = [err.message]
        else:
            db.session.commit()
            failed = entry.failed
            if failed:
                flash(
                    _("已记录。{n} 项不合格，已列入整改台账，7 天内整改。").format(n=failed),
                    "warning",
                )
            else:
                flash(_("已记录，全部合格。"), "success")
            return redirect(url_for("rounds.detail", round_id=entry.id))
    else:
        messages = []
    return render_template(
        "inventory/rounds_new.html",
        unit=unit,
        units=active_units_in_reach(),
        frequency=frequency,
        frequencies=FREQUENCIES,
        template=template,
        items=items,
        values=values,
        problems=problems,
        messages=messages,
        done=done,
        period=rounds.period_label(frequency, rounds.period_start(frequency, today)),
        today=today.isoformat(),
        form=ConfirmForm(),
    )


@bp.route("/<int:round_id>")
@permission("stock.view")
def detail(round_id: int):
    """A round: each item passed or failed, and the corrective actions of the failures."""
    entry = db.session.get(SafetyRound, round_id)
    if entry is None:
        abort(404)
    if not in_scope(db.session, current_actor(), entry.unit_id):
        abort(403)
    return render_template(
        "inventory/rounds_detail.html",
        entry=entry,
        frequencies=FREQUENCIES,
        period=rounds.period_label(entry.frequency, entry.period_start),
        statuses=ACTION_STATUSES,
    )


@bp.route("/templates", methods=["GET", "POST"])
@permission("standard.manage")
def templates():
    """The daily, weekly and monthly checklists a unit keeps for the warehouses below it."""
    actor = current_actor()
    source = request.form if request.method == "POST" else request.args
    unit = unit_in_reach_or_own(source.get("unit"))
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        if unit is None:
            abort(404)
        frequency = request.form.get("frequency", "")
        typed[frequency] = request.form.get("items", "")
        try:
            rounds.set_template(db.session, unit, frequency, typed[frequency], actor=actor)
        except DomainError as err:
            db.session.rollback()
            errors[frequency if frequency in FREQUENCIES else "_all"] = err.message
        else:
            db.session.commit()
            flash(
                _("已保存{unit}的{frequency}检查表。").format(
                    unit=unit.name, frequency=FREQUENCIES[frequency]
                ),
                "success",
            )
            return redirect(url_for("rounds.templates", unit=unit.code))
    own: dict[str, RoundTemplate | None] = {}
    inherited: dict[str, RoundTemplate | None] = {}
    if unit is not None:
        for frequency in FREQUENCIES:
            in_force = rounds.template_for(db.session, unit.id, frequency)
            own[frequency] = in_force if in_force and in_force.unit_id == unit.id else None
            inherited[frequency] = None if own[frequency] else in_force
    return render_template(
        "inventory/rounds_templates.html",
        unit=unit,
        units=active_units_in_reach(),
        frequencies=FREQUENCIES,
        own=own,
        inherited=inherited,
        typed=typed,
        errors=errors,
        defaults=rounds.DEFAULT_ITEMS,
        form=ConfirmForm(),
    )
