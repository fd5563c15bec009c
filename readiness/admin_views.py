"""Pages to keep the unit tree and the user accounts."""

from __future__ import annotations

from blinker import Namespace
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from readiness import lists, services
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.exports import table_response
from readiness.extensions import db
from readiness.forms import ConfirmForm, PasswordResetForm, UnitForm, UserEditForm, UserForm
from readiness.models import ROLES, UNIT_KINDS, Unit, User
from readiness.pages import (
    active_units_in_reach,
    confirmed_action,
    int_or_none,
    paginate,
    submit,
)
from readiness.permissions import can, in_scope, unit_ids_below

bp = Blueprint("admin", __name__)

# Sent (sender: the app, user=…) after an account is deactivated, before the redirect: the
# overview package connects its handover warning here, so the core need not import it.
user_deactivated = Namespace().signal("user-deactivated")


def _load_unit(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        abort(404)
    return unit


def _load_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _unit_choices(blank_label: str, exclude: Unit | None = None) -> list[tuple[str, str]]:
    skip = services.unit_ids_below(db.session, exclude.id) if exclude else set()
    choices = [("", blank_label)]
    for unit, depth in services.unit_tree(db.session):
        if unit.id in skip or not unit.is_active:
            continue
        choices.append((str(unit.id), "\u00a0\u00a0" * depth + f"{unit.name} ({unit.code})"))
    return choices


def _picked_unit(field) -> Unit | None:
    unit_id = int_or_none(field.data)
    if field.data and unit_id is None:
        raise DomainError(_("请选择有效的单位。"), field=field.name)
    if unit_id is None:
        return None
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise DomainError(_("所选单位不存在。"), field=field.name)
    return unit


# ---------------------------------------------------------------- units


# The unit list when searched, filtered or sorted (else the tree): issue 22.
UNIT_LIST = lists.ListSpec(
    search=(Unit.name, Unit.code),
    columns=(
        lists.Column("name", (Unit.name,)),
        lists.Column("code", (Unit.code,)),
        lists.Column("kind", (Unit.kind,)),
        lists.Column("headcount", (Unit.headcount,)),
        lists.Column("status", (Unit.is_active,)),
    ),
    tiebreak=Unit.id,
)
UNIT_STATUSES = {"active": _l("在用"), "inactive": _l("已停用")}


@bp.route("/units")
@permission("units.view")
def units():
    """The unit tree (a clerk sees their own branch); searched, filtered by kind or state,
    or sorted by a column, a flat list of the matching units in reach instead, with each
    one's parent. Either can be downloaded as shown."""
    actor = current_actor()
    visible = services.visible_unit_ids(db.session, actor)
    shown = lists.shown(UNIT_LIST)
    kind = request.args.get("kind", "")
    status = request.args.get("status", "")
    fmt = request.args.get("format", "html")
    as_tree = not (shown.q or kind in UNIT_KINDS or status in UNIT_STATUSES or "sort" in shown.args)
    listing = None
    if as_tree:
        roots = None if visible is None else ({actor.unit_id} if actor.unit_id else set())
        rows = services.unit_tree(db.session, roots)
    else:
        stmt = select(Unit).options(selectinload(Unit.parent))
        if visible is not None:
            stmt = stmt.where(Unit.id.in_(visible))
        if kind in UNIT_KINDS:
            stmt = stmt.where(Unit.kind == kind)
        if status in UNIT_STATUSES:
            stmt = stmt.where(Unit.is_active.is_(status == "active"))
        stmt = lists.apply(stmt, UNIT_LIST, shown)
        if fmt in ("csv", "xlsx"):
            rows = [(u, 0) for u in db.session.scalars(stmt)]
        else:
            listing = paginate(stmt)
            rows = [(u, 0) for u in listing.rows]
    # each unit's parent by name, where the reader may see it: the tree holds them already,
    # the flat list loaded them (a clerk's own unit has a parent outside their reach)
    names = {u.id: u.name for u, _depth in rows}
    names |= {
        u.parent.id: u.parent.name
        for u, _depth in rows
        if not as_tree and u.parent and (visible is None or u.parent.id in visible)
    }
    if fmt in ("csv", "xlsx"):
        header = [_("单位名称"), _("代码"), _("类型"), _("上级单位"), _("警力/人数"), _("状态")]
        return table_response(
            fmt,
            "units",
            header,
            (
                [
                    u.name,
                    u.code,
                    u.kind_label,
                    names.get(u.parent_id, ""),
                    u.headcount,
                    str(UNIT_STATUSES["active" if u.is_active else "inactive"]),
                ]
                for u, _depth in rows
            ),
        )
    return render_template(
        "readiness/units.html",
        tree=rows,
        parents=names,
        as_tree=as_tree,
        listing=listing,
        shown=shown,
        kinds=UNIT_KINDS,
        statuses=UNIT_STATUSES,
        may_manage=can(db.session, actor, "units.manage"),
    )


@bp.route("/units/<code>")
@permission("units.view")
def unit_detail(code: str):
    """One unit: where it sits, what is under it, who works there."""
    unit = _load_unit(code)
    actor = current_actor()
    if not in_scope(db.session, actor, unit):
        abort(403)
    return render_template(
        "readiness/unit_detail.html",
        unit=unit,
        form=ConfirmForm(version=unit.version),
        may_manage=can(db.session, actor, "units.manage"),
        may_see_users=can(db.session, actor, "users.view"),
    )


@bp.route("/units/new", methods=["GET", "POST"])
@permission("units.manage")
def unit_new():
    """Add a unit to the tree."""
    form = UnitForm()
    form.parent.choices = _unit_choices(_("（无，顶级单位）"))
    if form.validate_on_submit():
        unit = submit(
            form,
            lambda: services.create_unit(
                db.session,
                code=form.code.data,
                name=form.name.data,
                kind=form.kind.data,
                parent=_picked_unit(form.parent),
                headcount=form.headcount.data,
                actor=current_actor(),
            ),
        )
        if unit is not None:
            flash(_("已创建单位 {name}。").format(name=unit.name), "success")
            return redirect(url_for("admin.unit_detail", code=unit.code))
    return render_template("readiness/unit_form.html", form=form, unit=None)


@bp.route("/units/<code>/edit", methods=["GET", "POST"])
@permission("units.manage")
def unit_edit(code: str):
    """Rename, move or re-size a unit."""
    unit = _load_unit(code)
    form = UnitForm(obj=None if _posted() else unit)
    form.parent.choices = _unit_choices(_("（无，顶级单位）"), exclude=unit)
    if not _posted():
        form.parent.data = str(unit.parent_id or "")
        form.version.data = str(unit.version)
    form.code.data = unit.code  # codes never change
    if form.validate_on_submit():
        done = submit(
            form,
            lambda: services.update_unit(
                db.session,
                unit,
                name=form.name.data,
                kind=form.kind.data,
                parent=_picked_unit(form.parent),
                headcount=form.headcount.data,
                actor=current_actor(),
                expected_version=int_or_none(form.version.data),
            ),
        )
        if done is not None:
            flash(_("已保存单位 {name}。").format(name=unit.name), "success")
            return redirect(url_for("admin.unit_detail", code=unit.code))
    return render_template("readiness/unit_form.html", form=form, unit=unit)


@bp.route("/units/<code>/deactivate", methods=["POST"])
@permission("units.manage")
def unit_deactivate(code: str):
    """Stop using a unit; its history stays."""
    return _set_unit_active(code, False)


@bp.route("/units/<code>/activate", methods=["POST"])
@permission("units.manage")
def unit_activate(code: str):
    """Bring a deactivated unit back."""
    return _set_unit_active(code, True)


def _set_unit_active(code: str, is_active: bool):
    unit = _load_unit(code)
    msg = _("已启用单位 {name}。") if is_active else _("已停用单位 {name}。")
    confirmed_action(
        lambda version: services.set_unit_active(
            db.session, unit, is_active, actor=current_actor(), expected_version=version
        ),
        lambda _result: msg.format(name=unit.name),
    )
    return redirect(url_for("admin.unit_detail", code=unit.code))


def _posted() -> bool:
    return request.method == "POST"


# ---------------------------------------------------------------- users


# The accounts list: searched by username, name or unit; sorted by any column (issue 22).
USER_LIST = lists.ListSpec(
    search=(User.username, User.name, Unit.name, Unit.code),
    columns=(
        lists.Column("username", (User.username,)),
        lists.Column("name", (User.name,)),
        lists.Column("role", (User.role,)),
        lists.Column("unit", (Unit.name,)),
        lists.Column("last_login", (User.last_login_at,)),
        lists.Column("status", (User.is_active,)),
    ),
    tiebreak=User.id,
)
USER_STATUSES = {"active": _l("在用"), "inactive": _l("已停用")}


@bp.route("/users")
@permission("users.view")
def users():
    """The accounts in reach, searched, filtered (role, unit and those below it, state) and
    sorted as the URL says; a page at a time, or every matching row as CSV or XLSX."""
    actor = current_actor()
    reach = services.visible_unit_ids(db.session, actor)
    shown = lists.shown(USER_LIST)
    # each account's unit in the same read (one query per account before: issue 21)
    stmt = select(User).outerjoin(Unit, Unit.id == User.unit_id).options(selectinload(User.unit))
    if reach is not None:
        # command staff and inspectors see the accounts of their own bureau
        stmt = stmt.where(User.unit_id.in_(reach))
    role = request.args.get("role", "")
    if role in ROLES:
        stmt = stmt.where(User.role == role)
    units = active_units_in_reach(reach=reach)
    unit = lists.unit_filter(units)
    if unit is not None:
        stmt = stmt.where(User.unit_id.in_(unit_ids_below(db.session, unit.id)))
    status = request.args.get("status", "")
    if status in USER_STATUSES:
        stmt = stmt.where(User.is_active.is_(status == "active"))
    stmt = lists.apply(stmt, USER_LIST, shown)
    fmt = request.args.get("format", "html")
    if fmt in ("csv", "xlsx"):
        header = [_("用户名"), _("姓名"), _("角色"), _("所属单位"), _("最近登录"), _("状态")]
        rows = (
            [
                u.username,
                u.name,
                u.role_label,
                u.unit.name if u.unit else "",
                u.last_login_at.isoformat(timespec="minutes") if u.last_login_at else "",
                str(USER_STATUSES["active" if u.is_active else "inactive"]),
            ]
            for u in db.session.scalars(stmt)
        )
        return table_response(fmt, "users", header, rows)
    listing = paginate(stmt)
    return render_template(
        "readiness/users.html",
        users=listing.rows,
        listing=listing,
        shown=shown,
        roles=ROLES,
        statuses=USER_STATUSES,
        units=units,
        may_manage=can(db.session, actor, "users.manage"),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@permission("users.manage")
def user_new():
    """Open an account."""
    form = UserForm()
    form.unit.choices = _unit_choices(_("（不属于具体单位）"))
    if form.validate_on_submit():
        user = submit(
            form,
            lambda: services.create_user(
                db.session,
                username=form.username.data,
                password=form.password.data,
                role=form.role.data,
                unit=_picked_unit(form.unit),
                name=form.name.data or "",
                actor=current_actor(),
            ),
        )
        if user is not None:
            flash(_("已创建用户 {username}。").format(username=user.username), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return render_template("readiness/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>")
@permission("users.view")
def user_detail(user_id: int):
    """One account and what can be done to it."""
    user = _load_user(user_id)
    actor = current_actor()
    if not services.user_in_reach(db.session, actor, user):
        abort(403)
    return render_template(
        "readiness/user_detail.html",
        user=user,
        form=ConfirmForm(version=user.version),
        reset_form=PasswordResetForm(),
        may_manage=can(db.session, actor, "users.manage"),
    )


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@permission("users.manage")
def user_edit(user_id: int):
    """Change someone's name, role or unit (post change)."""
    user = _load_user(user_id)
    form = UserEditForm(obj=None if _posted() else user)
    form.unit.choices = _unit_choices(_("（不属于具体单位）"))
    if not _posted():
        form.unit.data = str(user.unit_id or "")
        form.version.data = str(user.version)
    if form.validate_on_submit():
        done = submit(
            form,
            lambda: services.update_user(
                db.session,
                user,
                name=form.name.data or "",
                role=form.role.data,
                unit=_picked_unit(form.unit),
                actor=current_actor(),
                expected_version=int_or_none(form.version.data),
            ),
        )
        if done is not None:
            flash(_("已保存用户 {username}。").format(username=user.username), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return render_template("readiness/user_form.html", form=form, user=user)


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@permission("users.manage")
def user_deactivate(user_id: int):
    """Deactivate an account: its sessions and tokens stop at once."""
    return _set_user_active(user_id, False)


@bp.route("/users/<int:user_id>/activate", methods=["POST"])
@permission("users.manage")
def user_activate(user_id: int):
    """Restore a deactivated account."""
    return _set_user_active(user_id, True)


def _set_user_active(user_id: int, is_active: bool):
    user = _load_user(user_id)
    msg = _("已启用用户 {username}。") if is_active else _("已停用用户 {username}。")
    done = confirmed_action(
        lambda version: services.set_user_active(
            db.session, user, is_active, actor=current_actor(), expected_version=version
        ),
        lambda _result: msg.format(username=user.username),
    )
    if done and not is_active:
        user_deactivated.send(current_app._get_current_object(), user=user)
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@permission("users.manage")
def user_reset_password(user_id: int):
    """Give someone a new password (they are signed out everywhere)."""
    user = _load_user(user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            services.reset_password(db.session, user, form.password.data, actor=current_actor())
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
        else:
            db.session.commit()
            flash(_("已重置 {username} 的密码。").format(username=user.username), "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/tokens/revoke", methods=["POST"])
@permission("users.manage")
def user_revoke_tokens(user_id: int):
    """Revoke every API token of a user."""
    user = _load_user(user_id)
    confirmed_action(
        lambda _version: services.revoke_tokens(db.session, user, actor=current_actor()),
        lambda count: _("已吊销 {n} 个令牌。").format(n=count),
    )
    return redirect(url_for("admin.user_detail", user_id=user.id))
