"""JSON API for collective decisions, the reserve fund and purchase requests (issue 20)."""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_babel import gettext as _
from pydantic import Field

from funding import decisions, documents, fund, purchases
from funding.models import FUND_KINDS, FUNDING_SOURCES, OUTCOMES, POSITIONS
from funding.web import bureau_in_reach, decision_in_reach, policy, purchase_in_reach
from readiness import paging
from readiness import services as core
from readiness.api import date_field, operation
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.exports import pdf_response
from readiness.extensions import csrf, db
from readiness.openapi import (
    Answer,
    Body,
    Code,
    DecimalText,
    IsoDate,
    IsoDateTime,
    OptionalIsoDateTime,
    Query,
)
from readiness.paging import Paged, PagedAnswer
from readiness.permissions import in_scope, unit_ids_below

bp = Blueprint("funding_api", __name__, url_prefix="/api/v1")

Money = str | int | float


def _scope(unit_code: str | None) -> set[int] | None:
    actor = current_actor()
    if unit_code:
        unit = core.get_unit(db.session, unit_code)
        if not in_scope(db.session, actor, unit):
            raise NotFound(_("没有单位 {code}。").format(code=unit_code))
        return unit_ids_below(db.session, unit.id)
    return core.visible_unit_ids(db.session, actor)


# ---------------------------------------------------------------- decisions


class NewDecision(Body):
    unit: str = Field(description="The bureau's code (a unit below it names its bureau)")
    met_on: str = Field(description="The meeting's date, YYYY-MM-DD")
    attendees: list[str] = Field(
        max_length=decisions.MEMBERS_MAX,
        description="Usernames of the leadership members present, in speaking order, the "
        "head of unit last (末位表态)",
    )
    subject: str = Field(description="The matter decided (决策事项)")
    decision: str = Field(description="What was decided (决定内容)")
    amount: Money = Field(description="Yuan: the most the decision allows to be spent")
    outcome: str = Field(default="approved", json_schema_extra={"enum": list(OUTCOMES)})
    positions: list[str | None] | None = Field(
        default=None,
        description="Each attendee's position in the same order (agree, oppose, reserve); "
        "absent: not taken down one by one",
    )
    remarks: list[str] | None = Field(default=None, description="Each attendee's words")
    request_key: str | None = None


class AttendeeOut(Answer):
    seq: int
    username: str
    name: str
    title: str
    is_head: bool
    position: str | None = Field(json_schema_extra={"enum": [*POSITIONS, None]})
    remark: str


class DecisionOut(Answer):
    id: int
    unit: Code
    met_on: IsoDate
    subject: str
    decision: str
    outcome: str
    amount: DecimalText
    used: DecimalText = Field(description="Approved spending drawn on it so far")
    members_total: int = Field(description="The leadership group's size on the day")
    attendees: list[AttendeeOut]
    minutes: str | None = Field(description="The minutes' file name; null: not attached")
    recorded_at: IsoDateTime


def decision_answer(entry, used=None) -> DecisionOut:
    return DecisionOut(
        id=entry.id,
        unit=entry.unit,
        met_on=entry.met_on,
        subject=entry.subject,
        decision=entry.decision,
        outcome=entry.outcome,
        amount=entry.amount,
        used=decisions.used_amount(db.session, entry.id) if used is None else used,
        members_total=entry.members_total,
        attendees=[
            AttendeeOut(
                seq=a.seq,
                username=a.user.username,
                name=a.name,
                title=a.title,
                is_head=a.is_head,
                position=a.position,
                remark=a.remark,
            )
            for a in entry.attendees
        ],
        minutes=entry.minutes_name,
        recorded_at=entry.created_at,
    )


@bp.route("/decisions", methods=["POST"])
@permission("decisions.record")
@operation(json=NewDecision, answers={201: DecisionOut}, errors=(400, 401, 403, 404, 422))
def create_decision(json: NewDecision):
    """Record a collective decision (三重一大)

    A quorum of the bureau's leadership group, in speaking order with the head of unit last.
    Spending of the threshold or more is approved only with such a decision.
    """
    unit = core.get_unit(db.session, json.unit)
    if not in_scope(db.session, current_actor(), unit):
        raise NotFound(_("没有单位 {code}。").format(code=json.unit))
    entry = decisions.record_decision(
        db.session,
        unit,
        met_on=json.met_on,
        attendees=json.attendees,
        subject=json.subject,
        decision=json.decision,
        amount=json.amount,
        outcome=json.outcome,
        positions=json.positions,
        remarks=json.remarks,
        policy=policy(),
        actor=current_actor(),
        request_key=json.request_key,
    )
    db.session.commit()
    return decision_answer(entry), 201


class ScopeQuery(Paged):
    unit: str | None = Field(default=None, description="A unit's code (and those below)")


class DecisionList(PagedAnswer):
    rows: list[DecisionOut]


@bp.route("/decisions", methods=["GET"])
@permission("decisions.view")
@operation(query=ScopeQuery, answers={200: DecisionList}, errors=(400, 401, 403, 404))
def list_decisions(query: ScopeQuery):
    """Collective decisions of the bureaus in reach, newest meeting first, a page at a time"""
    rows, next_cursor = paging.page(
        db.session,
        decisions.decisions_query(_scope(query.unit)),
        decisions.DECISION_ORDER,
        query.limit,
        query.cursor,
    )
    used = decisions.used_amounts(db.session, [e.id for e in rows])
    return DecisionList(
        rows=[decision_answer(e, used[e.id]) for e in rows], next_cursor=next_cursor
    )


@bp.route("/decisions/<int:decision_id>", methods=["GET"])
@permission("decisions.view")
@operation(answers={200: DecisionOut}, errors=(401, 403, 404))
def get_decision(decision_id: int):
    """One collective decision"""
    return decision_answer(decision_in_reach(decision_id))


# ---------------------------------------------------------------- fund


class FundEntryOut(Answer):
    id: int
    booked_on: IsoDate
    kind: str = Field(json_schema_extra={"enum": list(FUND_KINDS)})
    amount: DecimalText = Field(description="Yuan: in positive, out negative")
    balance_after: DecimalText
    reference: str
    note: str
    object: str | None = Field(description="What it paid, e.g. purchase_requests:3")
    decision: int | None
    recorded_by: str | None
    recorded_at: IsoDateTime


class StatementOut(Answer):
    year: int
    opening: DecimalText
    money_in: DecimalText
    money_out: DecimalText
    closing: DecimalText
    by_kind: dict[str, DecimalText]


class FundOut(PagedAnswer):
    bureau: Code
    balance: DecimalText
    entries: list[FundEntryOut]
    statement: StatementOut | None = Field(description="With ?year=: that year's statement")


class FundQuery(Paged):
    year: int | None = Field(default=None, ge=2000, le=2100, description="A year's statement")


def entry_answer(e) -> FundEntryOut:
    return FundEntryOut(
        id=e.id,
        booked_on=e.booked_on,
        kind=e.kind,
        amount=e.amount,
        balance_after=e.balance_after,
        reference=e.reference,
        note=e.note,
        object=f"{e.object_type}:{e.object_id}" if e.object_type else None,
        decision=e.decision_id,
        recorded_by=e.recorded_by.username if e.recorded_by else None,
        recorded_at=e.created_at,
    )


@bp.route("/funds/<code>", methods=["GET"])
@permission("funds.view")
@operation(query=FundQuery, answers={200: FundOut}, errors=(400, 401, 403, 404, 422))
def get_fund(code: str, query: FundQuery):
    """A bureau's reserve fund (储备金)

    The balance and the ledger: newest first, a page at a time (?limit=, ?cursor=), or the
    whole of ``?year=`` with that year's statement (then next_cursor is null).
    """
    bureau = bureau_in_reach(code)
    statement = None
    next_cursor = None
    if query.year:
        st = fund.statement(db.session, bureau.id, query.year)
        entries = list(reversed(st.entries))
        statement = StatementOut(
            year=st.year,
            opening=st.opening,
            money_in=st.money_in,
            money_out=st.money_out,
            closing=st.closing,
            by_kind={k: str(v) for k, _label, v in st.rows()},
        )
    else:
        entries, next_cursor = paging.page(
            db.session, fund.entries_query(bureau.id), fund.ENTRY_ORDER, query.limit, query.cursor
        )
    return FundOut(
        bureau=bureau,
        balance=fund.balance(db.session, bureau.id),
        entries=[entry_answer(e) for e in entries],
        statement=statement,
        next_cursor=next_cursor,
    )


class NewAppropriation(Body):
    amount: Money = Field(description="Yuan, above zero, two decimals at most")
    reference: str = Field(description="The document number (文号) of the appropriation")
    booked_on: str | None = Field(default=None, description="YYYY-MM-DD; default today")
    note: str | None = None
    request_key: str | None = None


@bp.route("/funds/<code>/appropriations", methods=["POST"])
@permission("funds.manage")
@operation(json=NewAppropriation, answers={201: FundEntryOut}, errors=(400, 401, 403, 404, 422))
def create_appropriation(code: str, json: NewAppropriation):
    """Book money into a bureau's reserve fund (拨入)"""
    bureau = bureau_in_reach(code)
    entry = fund.appropriate(
        db.session,
        bureau,
        amount=json.amount,
        reference=json.reference,
        booked_on=json.booked_on,
        note=json.note or "",
        actor=current_actor(),
        request_key=json.request_key,
    )
    db.session.commit()
    return entry_answer(entry), 201


class NewPayment(Body):
    kind: str = Field(json_schema_extra={"enum": ["repair", "allocation_subsidy"]})
    amount: Money
    reference: str = Field(description="What is paid for")
    decision: int | None = Field(
        default=None, description="The collective decision (required from the threshold up)"
    )
    maintenance_record: int | None = Field(default=None, description="A repair's record id")
    booked_on: str | None = None
    note: str | None = None


@bp.route("/funds/<code>/payments", methods=["POST"])
@permission("funds.manage")
@operation(json=NewPayment, answers={201: FundEntryOut}, errors=(400, 401, 403, 404, 409, 422))
def create_payment(code: str, json: NewPayment):
    """Pay a repair or an allocation subsidy from the fund

    From the collective-decision threshold up only with a decision (409 without one); never
    below a zero balance (409).
    """
    bureau = bureau_in_reach(code)
    entry = fund.pay_expense(
        db.session,
        bureau,
        kind=json.kind,
        amount=json.amount,
        reference=json.reference,
        decision=json.decision,
        obj=("maintenance_records", json.maintenance_record) if json.maintenance_record else None,
        booked_on=json.booked_on,
        note=json.note or "",
        policy=policy(),
        actor=current_actor(),
    )
    db.session.commit()
    return entry_answer(entry), 201


# ---------------------------------------------------------------- purchase requests


class LineIn(Body):
    unit: str = Field(description="The receiving unit's code")
    item: str = Field(description="The item's code")
    qty: int | str
    unit_price: Money = Field(description="Yuan")


class NewPurchase(Body):
    unit: str = Field(description="The bureau's code")
    title: str
    lines: list[LineIn] | None = Field(default=None, max_length=purchases.MAX_LINES)
    from_shortfall: bool = Field(
        default=False,
        description="With no lines: the uncovered gap of the bureau's units after suggested "
        "transfers (and other open requests), at catalog cost",
    )
    addressee: str | None = Field(default=None, description="主送机关")
    basis: str | None = Field(default=None, description="申请依据")
    request_key: str | None = None


class EditPurchase(Body):
    title: str | None = None
    addressee: str | None = None
    basis: str | None = None
    lines: list[LineIn] = Field(max_length=purchases.MAX_LINES)


class LineOut(Answer):
    id: int
    unit: Code
    item: Code
    qty: int
    unit_price: DecimalText
    amount: DecimalText
    approved_qty: int | None
    delivered: int
    expected: int = Field(description="Approved and not yet delivered")


class PurchaseOut(Answer):
    id: int
    unit: Code
    title: str
    addressee: str
    basis: str
    status: str = Field(
        json_schema_extra={"enum": ["draft", "submitted", "approved", "partly", "refused"]}
    )
    total: DecimalText
    total_in_words: str = Field(description="The total in Chinese capital numerals (大写)")
    lines: list[LineOut]
    approved_amount: DecimalText | None
    funding_source: str | None
    decision: int | None
    reason: str
    requested_by: str | None
    submitted_at: OptionalIsoDateTime
    decided_by: str | None
    decided_at: OptionalIsoDateTime


def purchase_answer(r) -> PurchaseOut:
    from funding.money import capital

    return PurchaseOut(
        id=r.id,
        unit=r.unit,
        title=r.title,
        addressee=r.addressee,
        basis=r.basis,
        status=r.status,
        total=r.total,
        total_in_words=capital(r.total),
        lines=[
            LineOut(
                id=ln.id,
                unit=ln.unit,
                item=ln.item,
                qty=ln.qty,
                unit_price=ln.unit_price,
                amount=ln.amount,
                approved_qty=ln.approved_qty,
                delivered=ln.delivered,
                expected=ln.expected,
            )
            for ln in r.lines
        ],
        approved_amount=r.approved_amount,
        funding_source=r.funding_source,
        decision=r.decision_id,
        reason=r.reason,
        requested_by=r.requested_by.username if r.requested_by else None,
        submitted_at=r.submitted_at,
        decided_by=r.decided_by.username if r.decided_by else None,
        decided_at=r.decided_at,
    )


def _lines(raw: list[LineIn] | None) -> list[purchases.LineInput]:
    return [purchases.LineInput(ln.unit, ln.item, ln.qty, ln.unit_price) for ln in raw or []]


@bp.route("/purchase-requests", methods=["POST"])
@permission("purchases.request")
@operation(json=NewPurchase, answers={201: PurchaseOut}, errors=(400, 401, 403, 404, 422))
def create_purchase(json: NewPurchase):
    """Draft a purchase request (购置申请)

    Lines by receiving unit and item, or ``from_shortfall`` with no lines.
    """
    unit = core.get_unit(db.session, json.unit)
    if not in_scope(db.session, current_actor(), unit):
        raise NotFound(_("没有单位 {code}。").format(code=json.unit))
    request = purchases.create_request(
        db.session,
        unit,
        title=json.title,
        lines=_lines(json.lines),
        from_shortfall=json.from_shortfall,
        addressee=json.addressee,
        basis=json.basis,
        actor=current_actor(),
        request_key=json.request_key,
    )
    db.session.commit()
    return purchase_answer(request), 201


class PurchaseQuery(Paged):
    unit: str | None = Field(default=None, description="A unit's code (and those below)")
    status: str | None = Field(
        default=None,
        json_schema_extra={"enum": ["draft", "submitted", "approved", "partly", "refused"]},
    )


class PurchaseList(PagedAnswer):
    rows: list[PurchaseOut]


@bp.route("/purchase-requests", methods=["GET"])
@permission("purchases.view")
@operation(query=PurchaseQuery, answers={200: PurchaseList}, errors=(400, 401, 403, 404))
def list_purchases(query: PurchaseQuery):
    """Purchase requests of the bureaus in reach, newest first, a page at a time"""
    rows, next_cursor = paging.page(
        db.session,
        purchases.requests_query(_scope(query.unit), query.status),
        purchases.REQUEST_ORDER,
        query.limit,
        query.cursor,
    )
    return PurchaseList(rows=[purchase_answer(r) for r in rows], next_cursor=next_cursor)


class OneFormat(Query):
    format: str = Field(default="json", json_schema_extra={"enum": ["json", "pdf"]})


@bp.route("/purchase-requests/<int:request_id>", methods=["GET"])
@permission("purchases.view")
@operation(
    query=OneFormat,
    answers={200: PurchaseOut},
    errors=(400, 401, 403, 404, 422),
    files=("application/pdf",),
)
def get_purchase(request_id: int, query: OneFormat):
    """One purchase request, or with ``?format=pdf`` the formal request document

    The document: title, addressee, basis, the table by unit and item, the total in figures
    and in capital numerals (大写), the signature and seal block.
    """
    request = purchase_in_reach(request_id)
    if query.format == "pdf":
        return pdf_response(documents.filename(request), documents.purchase_pdf(request))
    if query.format != "json":
        raise DomainError(_("参数 format 只能是 json 或 pdf。"), field="format")
    return purchase_answer(request)


@bp.route("/purchase-requests/<int:request_id>", methods=["PUT"])
@permission("purchases.request")
@operation(json=EditPurchase, answers={200: PurchaseOut}, errors=(400, 401, 403, 404, 409, 422))
def edit_purchase(request_id: int, json: EditPurchase):
    """Edit a draft: its wording and its lines (the list replaces the one before)"""
    request = purchase_in_reach(request_id)
    purchases.update_request(
        db.session,
        request,
        title=json.title,
        addressee=json.addressee,
        basis=json.basis,
        lines=_lines(json.lines),
        actor=current_actor(),
    )
    db.session.commit()
    return purchase_answer(request)


@bp.route("/purchase-requests/<int:request_id>/submit", methods=["POST"])
@permission("purchases.request")
@operation(answers={200: PurchaseOut}, errors=(401, 403, 404, 409, 422))
def submit_purchase(request_id: int):
    """Submit a draft to the party committee and finance bureau"""
    request = purchase_in_reach(request_id)
    purchases.submit_request(db.session, request, actor=current_actor())
    db.session.commit()
    return purchase_answer(request)


class ApprovedLine(Body):
    id: int
    approved_qty: int | str


class Approval(Body):
    approved_amount: Money = Field(description="Yuan granted")
    funding_source: str = Field(
        json_schema_extra={"enum": list(FUNDING_SOURCES)},
        description="reserve_fund pays from the bureau's fund at once",
    )
    decision: int | None = Field(
        default=None,
        description="The collective decision's id: required when the amount reaches the "
        "threshold (409 without it)",
    )
    lines: list[ApprovedLine] | None = Field(
        default=None, description="Approve lines in part; absent: every line in full"
    )
    booked_on: str | None = Field(default=None, description="The fund's booking date")


@bp.route("/purchase-requests/<int:request_id>/approve", methods=["POST"])
@permission("purchases.approve")
@operation(json=Approval, answers={200: PurchaseOut}, errors=(400, 401, 403, 404, 409, 422))
def approve_purchase(request_id: int, json: Approval):
    """Approve a submitted request (not one's own)

    From the threshold up a collective decision of the bureau is needed (409 without it);
    money from the reserve fund is paid at once and refused if the fund is too low (409).
    """
    request = purchase_in_reach(request_id)
    booked = date_field(json.booked_on, "booked_on")
    purchases.approve_request(
        db.session,
        request,
        approved_amount=json.approved_amount,
        funding_source=json.funding_source,
        decision=json.decision,
        approved_lines={ln.id: ln.approved_qty for ln in json.lines} if json.lines else None,
        booked_on=booked,
        policy=policy(),
        actor=current_actor(),
    )
    db.session.commit()
    return purchase_answer(request)


class Rejection(Body):
    reason: str


@bp.route("/purchase-requests/<int:request_id>/reject", methods=["POST"])
@permission("purchases.approve")
@operation(json=Rejection, answers={200: PurchaseOut}, errors=(400, 401, 403, 404, 409, 422))
def reject_purchase(request_id: int, json: Rejection):
    """Refuse a submitted request (not one's own), saying why"""
    request = purchase_in_reach(request_id)
    purchases.reject_request(db.session, request, json.reason, actor=current_actor())
    db.session.commit()
    return purchase_answer(request)


class NewDelivery(Body):
    line: int = Field(description="The purchase line's id")
    qty: int | str
    lot: str | None = None
    expires_on: str | None = None
    serials: list[str] | None = Field(default=None, description="Serial items: one per piece")
    note: str | None = None
    request_key: str | None = None


class DeliveryOut(Answer):
    id: int
    line: int
    qty: int
    movement: int
    purchase: PurchaseOut


@bp.route("/purchase-requests/<int:request_id>/deliveries", methods=["POST"])
@permission("stock.write")
@operation(json=NewDelivery, answers={201: DeliveryOut}, errors=(400, 401, 403, 404, 409, 422))
def create_delivery(request_id: int, json: NewDelivery):
    """Post a receipt against an approved line (closes it once all has come)

    Posted by the receiving unit's clerk or keeper, who see the request through its lines.
    """
    request = _request_for_receiver(request_id)
    line = next((ln for ln in request.lines if ln.id == json.line), None)
    if line is None or not in_scope(db.session, current_actor(), line.unit_id):
        raise NotFound(_("本申请没有第 {id} 号明细行。").format(id=json.line), field="line")
    delivery = purchases.receive(
        db.session,
        line,
        qty=json.qty,
        lot_code=json.lot,
        expires_on=date_field(json.expires_on, "expires_on"),
        serials=json.serials,
        note=json.note or "",
        actor=current_actor(),
        request_key=json.request_key,
    )
    db.session.commit()
    return DeliveryOut(
        id=delivery.id,
        line=line.id,
        qty=delivery.qty,
        movement=delivery.movement_id,
        purchase=purchase_answer(request),
    ), 201


def _request_for_receiver(request_id: int):
    """A request seen by a receiving unit: it has a line in the caller's reach."""
    from funding.models import PurchaseRequest

    found = db.session.get(PurchaseRequest, request_id)
    actor = current_actor()
    if found is None or not any(in_scope(db.session, actor, ln.unit_id) for ln in found.lines):
        raise NotFound(_("没有第 {id} 号购置申请。").format(id=request_id))
    return found


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
