"""Ranking and bulletin pages (每周排名、每月通报): the ranking of a week or month, issuing it
as a bulletin, the list of issued bulletins and their PDF."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms import HiddenField

from overview import ranking as rk
from overview.models import PERIOD_KINDS, Bulletin
from overview.ranking_pdf import bulletin_pdf, percent, ranking_cells, ranking_header
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.exports import pdf_response
from readiness.extensions import db
from readiness.forms import SafeForm
from readiness.permissions import can
from readiness.services import visible_unit_ids

bp = Blueprint("ranking", __name__)


class IssueForm(SafeForm):
    week = HiddenField()
    month = HiddenField()


def _reach() -> set[int] | None:
    return visible_unit_ids(db.session, current_actor())


def _render(period: rk.Period, status: int = 200):
    actor = current_actor()
    reach = _reach()
    today = date.today()
    board = rk.ranking(db.session, unit_ids=reach, period=period, today=today)
    frozen = board.as_json()
    form = IssueForm(formdata=None, **period.param)
    return (
        render_template(
            "overview/ranking.html",
            period=period,
            board=board,
            header=ranking_header(),
            lines=[ranking_cells(r) for r in frozen["rows"]],
            totals=frozen["totals"],
            rate=percent(frozen["totals"]["rate"]),
            issued=rk.issued_for(db.session, reach, period),
            may_issue=can(db.session, actor, "bulletins.issue") and actor.unit_id is not None,
            form=form,
            kinds=PERIOD_KINDS,
            this_week=rk.period_of("week", today),
            this_month=rk.period_of("month", today),
        ),
        status,
    )


@bp.route("/ranking")
@permission("ranking.view")
def index():
    """Units ranked for a week or month by how they close their corrective actions."""
    period = rk.parse_period(
        request.args.get("week"), request.args.get("month"), today=date.today()
    )
    return _render(period)


@bp.route("/ranking", methods=["POST"])
@permission("bulletins.issue")
def issue():
    """Issue the period's bulletin of the signed-in command user's unit, then show its PDF."""
    actor = current_actor()
    form = IssueForm()
    if not form.validate_on_submit():
        flash(_("表单已过期或来源无效，未做任何修改。请重新填写后提交。"), "error")
        return redirect(url_for("ranking.index"))
    try:
        period = rk.parse_period(form.week.data, form.month.data, today=date.today())
        if actor.unit is None:
            raise DomainError(_("您没有所属单位，不能签发通报。"))
        bulletin = rk.issue_bulletin(
            db.session, actor.unit, period, actor=actor, today=date.today()
        )
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        fallback = rk.period_of("week", date.today())
        try:
            shown = rk.parse_period(form.week.data, form.month.data, today=date.today())
        except DomainError:
            shown = fallback
        return _render(shown, err.status)
    db.session.commit()
    flash(_("已签发通报 {number}。").format(number=bulletin.number), "success")
    return redirect(url_for("ranking.bulletin_file", bulletin_id=bulletin.id))


@bp.route("/bulletins")
@permission("ranking.view")
def bulletins():
    """Issued bulletins of my reach, newest first."""
    issued = rk.bulletins(db.session, _reach())
    return render_template(
        "overview/bulletins.html",
        bulletins=issued,
        kinds=PERIOD_KINDS,
        periods={b.id: rk.period_of_bulletin(b) for b in issued},
    )


@bp.route("/bulletins/<int:bulletin_id>.pdf")
@permission("ranking.view")
def bulletin_file(bulletin_id: int):
    """An issued bulletin as it was issued."""
    bulletin = db.session.get(Bulletin, bulletin_id)
    reach = _reach()
    if bulletin is None or (reach is not None and bulletin.unit_id not in reach):
        abort(404)
    return pdf_response(f"bulletin-{bulletin.id}", bulletin_pdf(bulletin))
