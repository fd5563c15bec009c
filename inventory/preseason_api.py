"""JSON API for the pre-season check (汛前检查)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask
from pydantic import Field
from sqlalchemy.exc import IntegrityError

from inventory import preseason
from inventory.preseason_models import ITEM_KINDS, PreseasonCheck
from readiness import paging
from readiness import services as core
from readiness.api import operation
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound, PermissionDenied
from readiness.extensions import csrf, db
from readiness.openapi import (
    Answer,
    Body,
    Code,
    IsoDate,
    OptionalIsoDateTime,
)
from readiness.paging import Paged, PagedAnswer
from readiness.permissions import in_scope, unit_ids_below

bp = Blueprint("preseason_api", __name__, url_prefix="/api/v1")


class SeasonIn(Body):
    unit: str = Field(description="The unit's code (a bureau): the season applies below it")
    starts_on: str = Field(description="YYYY-MM-DD: the first day of the flood season")
    lead_days: int | None = Field(
        default=None, description="Days before the start the checks open (1–180, default 30)"
    )


class SeasonOut(Answer):
    unit: Code
    year: int
    starts_on: IsoDate
    lead_days: int
    opens_on: IsoDate


class ChecklistIn(Body):
    unit: str = Field(description="The unit's code: the checklist applies below it")
    items: list[str] = Field(
        max_length=preseason.ITEMS_MAX,
        description="One entry an item; an empty list removes the unit's own checklist",
    )


class ChecklistOut(Answer):
    unit: Code
    items: list[str]


class NewAnswer(Body):
    position: int = Field(description="The item's position in the check")
    ok: bool | None = Field(
        default=None,
        description="true: 合格 / 正常 / a lot handled; false: 不合格 (then a note is needed)",
    )
    note: str | None = None


class AnswersIn(Body):
    answers: list[NewAnswer] = Field(max_length=500)


class ItemOut(Answer):
    position: int
    kind: str = Field(json_schema_extra={"enum": list(ITEM_KINDS)})
    item: str
    ok: bool | None = Field(description="None: not answered yet")
    note: str
    serial: str | None = Field(description="The piece of a function test")
    lot: str | None = Field(description="The lot code of an expired lot")
    answered_at: OptionalIsoDateTime
    record: int | None = Field(description="The function test recorded")
    count: int | None = Field(description="The approved stocktake")
    action: int | None = Field(description="The corrective action of a failed item")


class CheckOut(Answer):
    id: int
    unit: Code
    year: int
    season_starts_on: IsoDate
    opened_on: IsoDate
    total: int
    answered: int
    failed: int
    complete: bool
    overdue: bool
    completed_at: OptionalIsoDateTime
    completed_by: str | None
    items: list[ItemOut]


class ProgressOut(Answer):
    id: int
    unit: Code
    season_starts_on: IsoDate
    total: int
    answered: int
    failed: int
    complete: bool
    overdue: bool = Field(description="The season has started and the check is not complete")


class ProgressList(PagedAnswer):
    year: int
    rows: list[ProgressOut]


class ProgressFilter(Paged):
    unit: str | None = Field(default=None, description="A unit's code (and the units below)")
    year: int | None = Field(
        default=None,
        ge=2000,
        le=2100,
        description="Default: this year, or next year once its season has opened",
    )


def _unit_in_reach(code: str):
    unit = core.get_unit(db.session, code)
    if not in_scope(db.session, current_actor(), unit):
        raise PermissionDenied(preseason.out_of_reach())
    return unit


def _check_out(check: PreseasonCheck, today: date) -> CheckOut:
    return CheckOut(
        id=check.id,
        unit=check.unit,
        year=check.year,
        season_starts_on=check.season.starts_on,
        opened_on=check.opened_on,
        total=check.total,
        answered=check.answered,
        failed=check.failed,
        complete=check.is_complete,
        overdue=bool(check.items) and not check.is_complete and check.season.starts_on <= today,
        completed_at=check.completed_at,
        completed_by=check.completed_by.username if check.completed_by else None,
        items=[
            ItemOut(
                position=i.position,
                kind=i.kind,
                item=i.item,
                ok=i.is_ok,
                note=i.note,
                serial=i.asset.serial if i.asset else None,
                lot=i.lot.code if i.lot else None,
                answered_at=i.answered_at,
                record=i.record_id,
                count=i.count_id,
                action=i.action_id,
            )
            for i in check.items
        ],
    )


def _refused(err: preseason.PreseasonRefused) -> DomainError:
    """Every problem in one message; the field is the first one's, answers for an item."""
    field = "answers" if (err.field or "").startswith(("item-", "note-")) else err.field
    return DomainError(" ".join(m for _f, m in err.problems), field=field)


@bp.route("/preseason/season", methods=["POST"])
@permission("standard.manage")
@operation(json=SeasonIn, answers={200: SeasonOut}, errors=(400, 401, 403, 404, 422))
def set_season(json: SeasonIn):
    """Set a flood season

    The start of the flood season of a unit (a bureau) and its units below, for the year of
    that date, and how many days before it the pre-season checks open. Setting it again for
    the same year moves it.
    """
    unit = _unit_in_reach(json.unit)
    try:
        row = preseason.set_season(
            db.session, unit, json.starts_on, json.lead_days, actor=current_actor()
        )
    except preseason.PreseasonRefused as err:
        raise _refused(err) from None
    db.session.commit()
    return SeasonOut(
        unit=unit,
        year=row.year,
        starts_on=row.starts_on,
        lead_days=row.lead_days,
        opens_on=row.opens_on,
    )


@bp.route("/preseason/checklist", methods=["POST"])
@permission("standard.manage")
@operation(json=ChecklistIn, answers={200: ChecklistOut}, errors=(400, 401, 403, 404, 422))
def set_checklist(json: ChecklistIn):
    """Set a pre-season checklist

    The checklist of a unit, for the units below it (the nearest unit's wins); open checks
    that are not complete get its new items.
    """
    unit = _unit_in_reach(json.unit)
    if any(not isinstance(i, str) or "\n" in i or "\r" in i for i in json.items):
        raise DomainError(preseason.one_line_message(), field="items")
    row = preseason.set_template(db.session, unit, "\n".join(json.items), actor=current_actor())
    db.session.commit()
    return ChecklistOut(unit=unit, items=list(row.items) if row else [])


@bp.route("/preseason", methods=["GET"])
@permission("stock.view")
@operation(query=ProgressFilter, answers={200: ProgressList}, errors=(400, 401, 403, 404))
def progress(query: ProgressFilter):
    """Pre-season check progress

    Per unit in reach (or one unit and those below it): the check of the season year,
    answered of total, failures, complete, overdue (the season has started and it is not
    complete); overdue first, then open, then complete, a page at a time. Checks due by
    today are opened first.
    """
    actor = current_actor()
    today = date.today()
    scope = core.visible_unit_ids(db.session, actor)
    if query.unit:
        scope = unit_ids_below(db.session, _unit_in_reach(query.unit).id)
    try:
        preseason.bring_up_to_date(db.session, scope, today=today)
        db.session.commit()
    except IntegrityError:
        # opened meanwhile by another request: what it opened is listed
        db.session.rollback()
    year = query.year or preseason.current_year(db.session, today)
    rows, next_cursor = paging.page_of_rows(
        preseason.progress_rows(db.session, scope, year=year, today=today),
        preseason.PROGRESS_ORDER,
        preseason.progress_key,
        query.limit,
        query.cursor,
    )
    return ProgressList(
        year=year,
        next_cursor=next_cursor,
        rows=[
            ProgressOut(
                id=r.check.id,
                unit=r.unit,
                season_starts_on=r.check.season.starts_on,
                total=r.check.total,
                answered=r.check.answered,
                failed=r.check.failed,
                complete=r.check.is_complete,
                overdue=r.overdue,
            )
            for r in rows
        ],
    )


def _load(check_id: int) -> PreseasonCheck:
    check = db.session.get(PreseasonCheck, check_id)
    if check is None or not in_scope(db.session, current_actor(), check.unit_id):
        raise NotFound(preseason.not_found(check_id))
    return check


@bp.route("/preseason/<int:check_id>", methods=["GET"])
@permission("stock.view")
@operation(answers={200: CheckOut}, errors=(401, 403, 404))
def get_check(check_id: int):
    """One unit's pre-season check, every item with its answer"""
    check = _load(check_id)
    if check.completed_at is None:
        preseason.refresh(db.session, check)
        db.session.commit()
    return _check_out(check, date.today())


@bp.route("/preseason/<int:check_id>/answers", methods=["POST"])
@permission("stock.write")
@operation(json=AnswersIn, answers={200: CheckOut}, errors=(400, 401, 403, 404, 409, 422))
def answer(check_id: int, json: AnswersIn):
    """Answer items of a pre-season check

    Each answer names the item by its position: a function test is recorded as a test of
    the piece; a lot handled (ok true) says what was done; a failure says why and becomes a
    corrective action (source ``preseason``). The stocktake item is answered by an approved
    full count. Every refusal is given at once and nothing is written.
    """
    check = _load(check_id)
    try:
        preseason.answer_items(
            db.session,
            check,
            [preseason.Answer(a.position, a.ok, a.note or "") for a in json.answers],
            actor=current_actor(),
        )
    except preseason.PreseasonRefused as err:
        raise _refused(err) from None
    db.session.commit()
    return _check_out(check, date.today())


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
