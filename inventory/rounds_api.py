"""JSON API for warehouse safety rounds (库区"日周月"隐患排查)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask
from pydantic import Field

from inventory import rounds
from inventory.rounds_models import FREQUENCIES
from readiness import paging
from readiness import services as core
from readiness.api import operation
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, PermissionDenied
from readiness.extensions import csrf, db
from readiness.openapi import Answer, Body, Code, IsoDate
from readiness.paging import Paged, PagedAnswer
from readiness.permissions import in_scope, unit_ids_below

bp = Blueprint("rounds_api", __name__, url_prefix="/api/v1")


class NewAnswer(Body):
    item: str = Field(description="The checklist item's text, as the checklist has it")
    ok: bool | None = Field(
        default=None, description="true: 合格, false: 不合格 (then a note is needed)"
    )
    note: str | None = None


class NewRound(Body):
    unit: str = Field(description="The unit's code")
    frequency: str = Field(json_schema_extra={"enum": list(FREQUENCIES)})
    done_on: str = Field(description="YYYY-MM-DD, not in the future")
    answers: list[NewAnswer] = Field(max_length=rounds.ITEMS_MAX)
    note: str | None = None


class RoundAnswerOut(Answer):
    item: str
    ok: bool
    note: str
    action: int | None = Field(description="The corrective action of a failed item")


class RoundOut(Answer):
    id: int
    unit: Code
    frequency: str
    period_start: IsoDate
    done_on: IsoDate
    note: str
    recorded_by: str | None
    answers: list[RoundAnswerOut]


def _answer(entry) -> RoundOut:
    return RoundOut(
        id=entry.id,
        unit=entry.unit,
        frequency=entry.frequency,
        period_start=entry.period_start,
        done_on=entry.done_on,
        note=entry.note,
        recorded_by=entry.recorded_by.username if entry.recorded_by else None,
        answers=[
            RoundAnswerOut(item=a.item, ok=a.is_ok, note=a.note, action=a.action_id)
            for a in entry.answers
        ],
    )


@bp.route("/rounds", methods=["POST"])
@permission("stock.write")
@operation(json=NewRound, answers={201: RoundOut}, errors=(400, 401, 403, 404, 409))
def create_round(json: NewRound):
    """Record a safety round

    Every checklist item answered (a failed one with a note); once per unit, frequency and
    period (day, ISO week, month). Each failed item becomes a corrective action (source
    ``round``), due in 7 days.
    """
    unit = core.get_unit(db.session, json.unit)
    if not in_scope(db.session, current_actor(), unit):
        raise PermissionDenied(rounds.out_of_reach())
    try:
        entry = rounds.record_round(
            db.session,
            unit,
            frequency=json.frequency,
            done_on=json.done_on,
            answers=[rounds.Answer(a.item, a.ok, a.note or "") for a in json.answers],
            note=json.note or "",
            actor=current_actor(),
        )
    except rounds.RoundRefused as err:
        # every problem in one message; the field is the first one's, answers for an item
        field = "answers" if (err.field or "").startswith(("item-", "note-")) else err.field
        raise DomainError(" ".join(m for _f, m in err.problems), field=field) from None
    db.session.commit()
    return _answer(entry), 201


class RoundFilter(Paged):
    unit: str | None = Field(default=None, description="A unit's code (and the units below)")


class RoundStatusOut(Answer):
    unit: Code
    frequency: str
    current_period: IsoDate = Field(description="The first day of the current period")
    done_current: bool
    last_period: IsoDate | None
    overdue: bool = Field(description="The period before the current one has no round")


class RoundList(PagedAnswer):
    rows: list[RoundOut] = Field(description="A page of rounds, newest first")
    status: list[RoundStatusOut] = Field(description="Every warehouse and frequency in scope")


@bp.route("/rounds", methods=["GET"])
@permission("stock.view")
@operation(query=RoundFilter, answers={200: RoundList}, errors=(400, 401, 403, 404))
def list_rounds(query: RoundFilter):
    """Safety rounds

    The rounds of the units in reach (or of one unit and those below it), newest first, a
    page at a time, and (on every page, whole) per warehouse and frequency whether it is
    overdue.
    """
    actor = current_actor()
    scope = core.visible_unit_ids(db.session, actor)
    if query.unit:
        unit = core.get_unit(db.session, query.unit)
        if not in_scope(db.session, actor, unit):
            raise PermissionDenied(rounds.out_of_reach())
        scope = unit_ids_below(db.session, unit.id)
    entries, next_cursor = paging.page(
        db.session, rounds.rounds_query(scope), rounds.ROUND_ORDER, query.limit, query.cursor
    )
    statuses = rounds.overdue_rows(db.session, scope, today=date.today())
    return RoundList(
        next_cursor=next_cursor,
        rows=[_answer(e) for e in entries],
        status=[
            RoundStatusOut(
                unit=s.unit,
                frequency=s.frequency,
                current_period=s.current_start,
                done_current=s.done_current,
                last_period=s.last_start,
                overdue=s.overdue,
            )
            for s in statuses
        ],
    )


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
