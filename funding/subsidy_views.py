"""The shelter subsidies page: totals by town and year, proposals awaiting approval with their
approve and refuse forms for command staff, and the latest decisions on them."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from funding import subsidies
from funding.models import Subsidy
from funding.money import yuan
from funding.web import policy, subsidy_in_reach
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.exports import table_response
from readiness.extensions import db
from readiness.models import Unit
from readiness.pages import attempt, int_or_none
from readiness.permissions import bureau_map, can, unit_ids_below

bp = Blueprint("subsidies", __name__, url_prefix="/subsidies")

PENDING_MAX = 500
RECENT = 20
YEAR_MIN, YEAR_MAX = 2000, 2100


def totals_header() -> list[str]:
    return [_("年度"), _("镇/街道"), _("单位代码"), _("已批准拨付（元）"), _("待审批（元）")]


def totals_rows(rows, by_year) -> list[list]:
    out: list[list] = []
    for whole in by_year:
        out += [
            [t.year, t.unit.name, t.unit.code, t.approved, t.proposed]
            for t in rows
            if t.year == whole.year
        ]
        out.append([whole.year, _("合计"), "", whole.approved, whole.proposed])
    return out


def _scope(errors: dict[str, str]) -> tuple[set[int] | None, Unit | None]:
    """The towns asked for (``?unit=``, within reach) or everything in reach."""
    reach = core.visible_unit_ids(db.session, current_actor())
    code = (request.args.get("unit") or "").strip()
    if not code:
        return reach, None
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or (reach is not None and unit.id not in reach):
        errors["unit"] = _("单位 {code} 不存在或不在您的管辖范围内。").format(code=code[:32])
        return reach, None
    return unit_ids_below(db.session, unit.id), unit


def _year(errors: dict[str, str]) -> int | None:
    raw = (request.args.get("year") or "").strip()
    if not raw:
        return None
    year = int_or_none(raw)
    if year is None or not YEAR_MIN <= year <= YEAR_MAX:
        errors["year"] = _("年度应为 {low}–{high} 之间的整数。").format(low=YEAR_MIN, high=YEAR_MAX)
        return None
    return year


def _unit_choices(reach: set[int] | None) -> list[tuple[str, str]]:
    actor = current_actor()
    roots = None if reach is None else ({actor.unit_id} if actor.unit_id else set())
    return [
        (u.code, "\u00a0\u00a0" * depth + u.name)
        for u, depth in core.unit_tree(db.session, roots)
        if u.kind in ("bureau", "town") or depth == 0
    ]


@bp.route("/")
@permission("subsidies.view")
def index():
    """Shelter subsidies by town and year; proposals awaiting approval (approve or refuse
    them, for command staff) and the latest decisions; the totals as CSV or XLSX."""
    actor = current_actor()
    errors: dict[str, str] = {}
    scope, scope_unit = _scope(errors)
    year = _year(errors)
    rows, by_year = subsidies.totals(db.session, scope, year=year)
    if not errors:
        response = table_response(
            request.args.get("format", "html"),
            f"shelter-subsidies-{date.today().isoformat()}",
            totals_header(),
            totals_rows(rows, by_year),
        )
        if response is not None:
            return response
    pending = list(
        db.session.scalars(
            subsidies.subsidies_query(scope, year=year, status="proposed").limit(PENDING_MAX)
        )
    )
    recent = [
        s
        for s in db.session.scalars(
            subsidies.subsidies_query(scope, year=year)
            .where(Subsidy.status != "proposed")
            .order_by(None)
            .order_by(Subsidy.decided_at.desc(), Subsidy.id.desc())
            .limit(RECENT)
        )
    ]
    inspections = subsidies.inspections_of(db.session, pending + recent)
    may_approve = {s.id for s in pending if can(db.session, actor, "subsidies.approve", s.unit_id)}
    bureaus = bureau_map(db.session)
    bureau_of = {s.id: bureaus.get(s.unit_id, s.unit_id) for s in pending}
    decisions = subsidies.open_decisions(
        db.session, {bureau_of[s.id] for s in pending if s.id in may_approve}
    )
    args = {k: v for k, v in request.args.items() if k != "format" and not errors.get(k)}
    return render_template(
        "funding/subsidies.html",
        rows=rows,
        by_year=by_year,
        pending=pending,
        recent=recent,
        inspections=inspections,
        may_approve=may_approve,
        bureau_of=bureau_of,
        decisions=decisions,
        threshold=policy().threshold,
        years=subsidies.years(db.session, core.visible_unit_ids(db.session, actor)),
        year=year,
        unit_code=scope_unit.code if scope_unit else "",
        unit_choices=_unit_choices(core.visible_unit_ids(db.session, actor)),
        errors=errors,
        args=args,
        today=date.today().isoformat(),
        yuan=yuan,
        wan=subsidies.wan,
    )


def _back():
    return redirect(url_for("subsidies.index", **request.args.to_dict()) + "#pending", code=303)


@bp.route("/<int:subsidy_id>/approve", methods=["POST"])
@permission("subsidies.approve")
def approve(subsidy_id: int):
    """Approve a proposed subsidy and pay it from the fund (against a collective decision
    from the threshold up)."""
    subsidy = subsidy_in_reach(subsidy_id)
    done, error = attempt(
        lambda: subsidies.approve_subsidy(
            db.session,
            subsidy,
            decision=(request.form.get("decision") or "").strip() or None,
            booked_on=(request.form.get("booked_on") or "").strip() or None,
            version=int_or_none(request.form.get("version")),
            policy=policy(),
            actor=current_actor(),
        )
    )
    if error:
        flash(error, "error")
    else:
        flash(
            _("已批准第 {id} 号补助 {amount} 元，并从储备金拨付。").format(
                id=done.id, amount=yuan(done.amount)
            ),
            "success",
        )
    return _back()


@bp.route("/<int:subsidy_id>/refuse", methods=["POST"])
@permission("subsidies.approve")
def refuse(subsidy_id: int):
    """Refuse a proposed subsidy, saying why."""
    subsidy = subsidy_in_reach(subsidy_id)
    done, error = attempt(
        lambda: subsidies.refuse_subsidy(
            db.session,
            subsidy,
            request.form.get("reason"),
            version=int_or_none(request.form.get("version")),
            actor=current_actor(),
        )
    )
    if error:
        flash(error, "error")
    else:
        flash(_("已不予批准第 {id} 号补助。").format(id=done.id), "success")
    return _back()
