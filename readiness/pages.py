"""Small helpers shared by the page views of every package."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask import current_app, flash, request
from sqlalchemy import func, select

from readiness.errors import DomainError
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.params import ID_MAX, page_arg


def int_or_none(value) -> int | None:
    """A posted whole number, or None when it is not one or would overflow an id column
    (a 40-digit id answered 500 from the database driver)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if -ID_MAX - 1 <= number <= ID_MAX else None


def date_or_none(raw: str | None) -> date | None:
    """A posted date (YYYY-MM-DD, spaces around ignored), or None when empty or not a date:
    the service then refuses a missing required date, naming the field."""
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


def form_error(form, err: DomainError, default_field: str | None = None) -> None:
    """Put a service's refusal on the form field it concerns (or flash it)."""
    field = getattr(form, err.field or "", None) or getattr(form, default_field or "", None)
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, err.message]
    else:
        flash(err.message, "error")


def confirmed_action(
    action: Callable[[int | None], object], success: Callable[[object], str]
) -> bool:
    """Run a one-button POST (CSRF and the record version it was shown at): commit and
    flash ``success(result)``, or roll back and flash the refusal. Returns True on success."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash((form.errors and next(iter(form.errors.values()))[0]) or "", "error")
        return False
    try:
        result = action(int_or_none(form.version.data))
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return False
    db.session.commit()
    flash(success(result), "success")
    return True


def attempt(call: Callable[[], object]) -> tuple[object | None, str | None]:
    """Run the one service call of a hand-built form: commit and return (result, None), or
    roll back and return (None, the refusal) for the page to show above the form."""
    try:
        result = call()
    except DomainError as err:
        db.session.rollback()
        return None, err.message
    db.session.commit()
    return result, None


def submit(form, call: Callable[[], object], default_field: str | None = None):
    """Run a form's one service call: commit and return its result, or roll back, put the
    refusal on the form and return None."""
    try:
        result = call()
    except DomainError as err:
        db.session.rollback()
        form_error(form, err, default_field)
        return None
    db.session.commit()
    return result


@dataclass
class Page:
    rows: list
    page: int
    pages: int
    total: int
    args: dict  # the request's other query arguments, for the pager's links


def paginate(stmt) -> Page:
    """One page (``?page=``, PAGE_SIZE rows) of a select, with the total count."""
    size = current_app.config["PAGE_SIZE"]
    page = page_arg()
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.scalars(stmt.limit(size).offset((page - 1) * size)).unique().all()
    args = {k: v for k, v in request.args.items() if k != "page"}
    return Page(list(rows), page, max(1, -(-total // size)), total, args)


def paginate_rows(rows: list, size: int) -> Page:
    """One page (``?page=``) of rows already in memory, e.g. a computed report."""
    page = page_arg()
    total = len(rows)
    pages = max(1, -(-total // size))
    page = min(page, pages)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return Page(rows[(page - 1) * size : page * size], page, pages, total, args)


def unit_in_reach(code: str | None):
    """The unit a page names by code (404 unknown, 403 out of the user's reach), or None when
    the page names none."""
    from flask import abort

    from readiness.auth import current_actor
    from readiness.models import Unit
    from readiness.permissions import in_scope

    if not code:
        return None
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        abort(404)
    if not in_scope(db.session, current_actor(), unit):
        abort(403)
    return unit


def unit_in_reach_or_own(code: str | None):
    """The unit a page names (as ``unit_in_reach``), else the signed-in user's own, else
    None (a user placed at no unit)."""
    from readiness.auth import current_actor
    from readiness.models import Unit

    unit = unit_in_reach(code)
    if unit is None:
        actor = current_actor()
        unit = db.session.get(Unit, actor.unit_id) if actor.unit_id else None
    return unit


def active_units_in_reach(kind: str | None = None, *, reach=...) -> list:
    """The active units the signed-in user reaches (of one kind if given), by code: the
    choices of a unit picker. ``reach`` is the user's unit ids when the view has them
    already (None: every unit), so that the walk down the tree is not done twice."""
    from readiness.auth import current_actor
    from readiness.models import Unit
    from readiness.services import visible_unit_ids

    stmt = select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)
    visible = visible_unit_ids(db.session, current_actor()) if reach is ... else reach
    if visible is not None:
        stmt = stmt.where(Unit.id.in_(visible))
    if kind is not None:
        stmt = stmt.where(Unit.kind == kind)
    return list(db.session.scalars(stmt))
