"""Handover pages (人事调整): what a person still holds, passing it to a successor, a unit's
custodian, and the units left without one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms import HiddenField, SelectField, SubmitField

from drills.models import ACTION_STATUSES
from inventory.models import ALLOCATION_STATUSES, COUNT_STATUSES
from overview import handover as ho
from readiness.auth import current_actor, permission
from readiness.exports import table_response
from readiness.extensions import db
from readiness.forms import SafeForm
from readiness.models import UNIT_KINDS, Unit, User
from readiness.pages import attempt, int_or_none, submit
from readiness.pdf import pdf_table
from readiness.permissions import can, in_scope
from readiness.services import user_in_reach, visible_unit_ids

bp = Blueprint("handover", __name__)


class HandoverForm(SafeForm):
    successor = SelectField(_l("接替人"), choices=[], validate_choice=False)
    # How many items the page showed: a change in between is refused, not moved unseen.
    expected = HiddenField()
    submit = SubmitField(_l("全部移交给接替人"))


class CustodianForm(SafeForm):
    custodian = SelectField(_l("保管责任人"), choices=[], validate_choice=False)
    version = HiddenField()
    submit = SubmitField(_l("保存"))


def _load_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _load_unit(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        abort(404)
    return unit


def _person(u: User) -> str:
    unit = f" · {u.unit.name}" if u.unit else ""
    return f"{u.display_name} ({u.username}) · {u.role_label}{unit}"


def _reach() -> set[int] | None:
    return visible_unit_ids(db.session, current_actor())


def _in_reach(user: User) -> User:
    """The person, if the caller may see them (their bureau's people; any for the
    administrator)."""
    if not user_in_reach(db.session, current_actor(), user):
        abort(403)
    return user


def _successor_choices(held: ho.Assignments) -> list[tuple[str, str]]:
    """Who could take over everything first; everyone else active after, marked as such (the
    service explains why if one is picked)."""
    fitting = ho.fitting_successors(db.session, held)
    fitting_ids = {u.id for u in fitting}
    stmt = select(User).where(User.is_active.is_(True), User.id != held.user.id)
    reach = _reach()
    if reach is not None:
        stmt = stmt.where(User.unit_id.in_(reach))
        fitting = [u for u in fitting if u.unit_id in reach]
        fitting_ids = {u.id for u in fitting}
    others = db.session.scalars(stmt.order_by(User.username)).all()
    unfit = _("（不能接手全部事项）")
    return [
        ("", _("（请选择）")),
        *((str(u.id), _person(u)) for u in fitting),
        *((str(u.id), _person(u) + unfit) for u in others if u.id not in fitting_ids),
    ]


@bp.route("/handover")
@permission("handover.view")
def index():
    """People who still hold work they should pass on: left, or moved post since."""
    return render_template(
        "readiness/handover_index.html",
        rows=ho.awaiting_handover(db.session, _reach()),
        may_manage=can(db.session, current_actor(), "handover.manage"),
    )


def _render_user(user: User, form: HandoverForm | None = None, status: int = 200):
    held = ho.assignments(db.session, user)
    may_manage = can(db.session, current_actor(), "handover.manage")
    if form is None:
        form = HandoverForm(expected=str(held.total))
    if may_manage and held:
        form.successor.choices = _successor_choices(held)
    return (
        render_template(
            "readiness/handover_user.html",
            user=user,
            held=held,
            form=form,
            may_manage=may_manage,
            action_statuses=ACTION_STATUSES,
            allocation_statuses=ALLOCATION_STATUSES,
            count_statuses=COUNT_STATUSES,
        ),
        status,
    )


@bp.route("/users/<int:user_id>/handover")
@permission("handover.view")
def user(user_id: int):
    """Everything still assigned to one person, and the form to pass it all on."""
    return _render_user(_in_reach(_load_user(user_id)))


@bp.route("/users/<int:user_id>/handover", methods=["POST"])
@permission("handover.manage")
def reassign(user_id: int):
    """Pass everything a person holds to one successor, in one step."""
    holder = _in_reach(_load_user(user_id))
    form = HandoverForm()
    if form.validate_on_submit():
        successor_id = int_or_none(form.successor.data)
        successor = db.session.get(User, successor_id) if successor_id else None
        result = submit(
            form,
            lambda: ho.reassign(
                db.session,
                holder,
                successor,
                actor=current_actor(),
                expected_total=int_or_none(form.expected.data),
            ),
            default_field="successor",
        )
        if result is not None:
            flash(
                _("已将 {name} 名下的 {n} 项事项移交给 {successor}。").format(
                    name=holder.display_name,
                    n=result.total,
                    successor=result.successor.display_name,
                ),
                "success",
            )
            return redirect(url_for("handover.user", user_id=holder.id))
    form.expected.data = str(ho.assignments(db.session, holder).total)
    return _render_user(holder, form, 422)


# ---------------------------------------------------------------- custodians


@bp.app_template_global()
def custodian_panel(unit: Unit) -> dict:
    """For the unit page: its custodian, whether they still fit, and the form to change it."""
    actor = current_actor()
    custodian = unit.custodian
    panel = {
        "custodian": custodian,
        "problem": ho.custodian_problem(db.session, custodian, unit) if custodian else None,
        "may_set": actor is not None and can(db.session, actor, "handover.manage"),
        "may_report": actor is not None and can(db.session, actor, "handover.view"),
        "form": None,
    }
    if panel["may_set"]:
        form = CustodianForm(formdata=None, version=str(unit.version))
        choices = [("", _("（不指定）"))]
        candidates = ho.custodian_candidates(db.session, unit) if unit.is_active else []
        if custodian is not None and custodian not in candidates:
            choices.append((str(custodian.id), _person(custodian)))
        choices += [(str(u.id), _person(u)) for u in candidates]
        form.custodian.choices = choices
        form.custodian.data = str(custodian.id) if custodian else ""
        panel["form"] = form
    return panel


@bp.route("/units/<code>/custodian", methods=["POST"])
@permission("handover.manage")
def set_custodian(code: str):
    """Name (or clear) a unit's custodian (保管责任人)."""
    unit = _load_unit(code)
    if not in_scope(db.session, current_actor(), unit):
        abort(403)
    form = CustodianForm()
    if not form.validate_on_submit():
        flash(_("表单已过期或来源无效，未做任何修改。请重新填写后提交。"), "error")
        return redirect(url_for("admin.unit_detail", code=unit.code))
    custodian_id = int_or_none(form.custodian.data)
    custodian = db.session.get(User, custodian_id) if custodian_id else None
    if form.custodian.data and custodian is None:
        flash(_("所选人员不存在。"), "error")
        return redirect(url_for("admin.unit_detail", code=unit.code))
    _result, refusal = attempt(
        lambda: ho.set_custodian(
            db.session,
            unit,
            custodian,
            actor=current_actor(),
            expected_version=int_or_none(form.version.data),
        )
    )
    if refusal:
        flash(refusal, "error")
    elif custodian is None:
        flash(_("已取消{unit}的保管责任人。").format(unit=unit.name), "success")
    else:
        flash(
            _("已指定 {name} 为{unit}的保管责任人。").format(
                name=custodian.display_name, unit=unit.name
            ),
            "success",
        )
    return redirect(url_for("admin.unit_detail", code=unit.code))


@bp.route("/reports/custodians")
@permission("handover.view")
def custodian_report():
    """Active units without a custodian fit for the post (none, left, or moved post)."""
    kind = request.args.get("kind") or None
    if kind not in UNIT_KINDS:
        kind = None
    gaps = ho.units_without_custodian(db.session, kind=kind, scope=_reach())
    header = [_("单位代码"), _("单位"), _("类型"), _("保管责任人"), _("问题")]

    def rows():
        return [
            [
                g.unit.code,
                g.unit.name,
                g.unit.kind_label,
                f"{g.custodian.display_name} ({g.custodian.username})" if g.custodian else "",
                g.reason,
            ]
            for g in gaps
        ]

    title = _("无在岗保管责任人的单位")
    response = table_response(
        request.args.get("format", "html"),
        "units-without-custodian",
        header,
        rows(),
        pdf=lambda: pdf_table(title, [_("共 {n} 个单位").format(n=len(gaps))], header, rows()),
    )
    if response is not None:
        return response
    return render_template(
        "readiness/handover_custodians.html",
        gaps=gaps,
        kind=kind or "",
        kinds=UNIT_KINDS,
        title=title,
    )


def flash_if_holding(user: User) -> None:
    """After deactivating an account: warn, with a link, if the person still holds work."""
    held = ho.assignments(db.session, user)
    if not held:
        return
    link = url_for("handover.user", user_id=user.id)
    text = _("{name} 名下仍有 {n} 项工作（保管责任、整改、调拨、盘点）未移交。").format(
        name=user.display_name, n=held.total
    )
    flash(
        Markup('{} <a href="{}">{}</a>').format(escape(text), link, _("去办理移交")),
        "warning",
    )


def warn_if_holding(_app, *, user: User) -> None:
    """Receiver of ``readiness.admin_views.user_deactivated``: see flash_if_holding."""
    flash_if_holding(user)
