"""Purchase requests from the gap (购置申请, issue 20 item 4).

Command staff of a bureau draft a request to the party committee and the finance bureau:
lines of items and quantities per receiving unit at unit prices. ``from_shortfall`` fills
the lines with the uncovered gap of the bureau's units after the suggested transfers (and
after what other open requests already ask for), priced at catalog cost. The draft is
edited, then submitted; someone else approves it (the amount, the source of the money and,
from the threshold up, the collective decision), partly or whole, or refuses it.

Approved lines are expected deliveries: the shortfall report counts them as *on order*
(apart from *inbound* transfers) until receipts posted against them close them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from funding import fund
from funding.decisions import Policy, Problems, bureau_for, check_spending
from funding.models import (
    FUNDING_SOURCES,
    PURCHASE_STATUSES,
    PurchaseDelivery,
    PurchaseLine,
    PurchaseRequest,
)
from funding.money import check_money, yuan
from inventory.models import Item, Movement
from readiness import audit, paging
from readiness.checks import check_decimal, check_text, check_whole
from readiness.db import utcnow
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import Unit
from readiness.permissions import require, unit_ids_below

TITLE_MAX = 200
ADDRESSEE_MAX = 200
BASIS_MAX = 2000
REASON_MAX = 500
MAX_LINES = 500
QTY_MAX = 1_000_000
PRICE_MAX = Decimal("99999999.99")
# The wording a new request starts with, in the drafter's language (then it is the
# request's own text, edited freely).
DEFAULT_ADDRESSEE = _l("市局党委、市财政局")
DEFAULT_BASIS = _l(
    "根据《公安机关应急装备现代化建设标准》及本局应急物资储备标准，对照各单位应急装备"
    "物资配备情况，扣除局内调剂可解决部分后，仍存在缺口。为保障防汛救灾等应急处置工作，"
    "特申请购置下列应急装备物资。"
)
OPEN_STATUSES = ("draft", "submitted")
APPROVED_STATUSES = ("approved", "partly")


@dataclass(frozen=True)
class LineInput:
    unit: str
    item: str
    qty: object
    unit_price: object


def _status(request: PurchaseRequest) -> str:
    return str(PURCHASE_STATUSES.get(request.status, request.status))


def _expect(request: PurchaseRequest, *states: str) -> None:
    if request.status not in states:
        raise Conflict(
            _("购置申请第 {id} 号当前为“{status}”，不能执行此操作。").format(
                id=request.id, status=_status(request)
            )
        )


def _bump(session: Session, request: PurchaseRequest) -> None:
    request_id = request.id
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            _("购置申请第 {id} 号刚被他人处理，请刷新后查看。").format(id=request_id)
        ) from None


def snapshot(request: PurchaseRequest) -> dict:
    return {
        "status": request.status,
        "title": request.title,
        "total": str(request.total),
        "approved_amount": None
        if request.approved_amount is None
        else str(request.approved_amount),
        "funding_source": request.funding_source,
        "decision": request.decision_id,
        "lines": [
            [ln.unit.code, ln.item.code, ln.qty, str(ln.unit_price), ln.approved_qty, ln.delivered]
            for ln in request.lines
        ],
    }


def _record(session, actor, action: str, request: PurchaseRequest, before=None, summary=""):
    audit.record(
        session,
        actor,
        f"purchase.{action}",
        request,
        unit_id=request.unit_id,
        before=before,
        after=snapshot(request),
        summary=summary,
    )


# ---------------------------------------------------------------- lines


def _checked_lines(
    session: Session, bureau: Unit, lines: Sequence[LineInput], problems: Problems
) -> list[tuple[Unit, Item, int, Decimal]]:
    """Each line's receiving unit (in the bureau), active item, quantity and unit price;
    every problem noted with its line's field names (``unit-3``, ``qty-3``…)."""
    if len(lines) > MAX_LINES:
        problems.add("lines", _("一份申请最多 {n} 行。").format(n=MAX_LINES))
        return []
    in_bureau = unit_ids_below(session, bureau.id)
    codes = {str(ln.unit).strip() for ln in lines} | set()
    units = {u.code: u for u in session.scalars(select(Unit).where(Unit.code.in_(codes)))}
    items = {
        i.code: i
        for i in session.scalars(
            select(Item).where(Item.code.in_({str(ln.item).strip() for ln in lines}))
        )
    }
    out, seen = [], set()
    for n, line in enumerate(lines):
        unit = units.get(str(line.unit).strip())
        if unit is None or unit.id not in in_bureau or not unit.is_active:
            problems.add(
                f"unit-{n}",
                _("第 {n} 行：{bureau} 没有在用单位 {code}。").format(
                    n=n + 1, bureau=bureau.name, code=str(line.unit).strip() or "—"
                ),
            )
        item = items.get(str(line.item).strip())
        if item is None or not item.is_active:
            problems.add(
                f"item-{n}",
                _("第 {n} 行：没有在用物资 {code}。").format(
                    n=n + 1, code=str(line.item).strip() or "—"
                ),
            )
        qty = problems.check(
            check_whole,
            line.qty,
            f"qty-{n}",
            maximum=QTY_MAX,
            minimum=1,
            label=_("第 {n} 行数量").format(n=n + 1),
        )
        price = problems.check(
            check_decimal,
            line.unit_price,
            f"unit_price-{n}",
            places=2,
            maximum=PRICE_MAX,
            label=_("第 {n} 行单价").format(n=n + 1),
        )
        if unit is None or item is None or qty is None or price is None:
            continue
        if (unit.id, item.id) in seen:
            problems.add(
                f"item-{n}",
                _("第 {n} 行：{unit} 的 {item} 已在前面的行中。").format(
                    n=n + 1, unit=unit.name, item=item.shown_name
                ),
            )
            continue
        seen.add((unit.id, item.id))
        out.append((unit, item, qty, price.quantize(Decimal("0.01"))))
    return out


def gap_lines(
    session: Session, bureau: Unit, *, exclude_request: int | None = None
) -> list[tuple[Unit, Item, int, Decimal]]:
    """What the bureau's units still lack that nothing else will bring: the uncovered gap
    (after inbound transfers and purchases on order) less the suggested transfers and what
    other draft or submitted requests already ask for, at catalog cost."""
    from inventory.shortfall import shortfall

    scope = unit_ids_below(session, bureau.id)
    report = shortfall(session, unit_ids=scope)
    moving: dict[tuple[int, int], int] = defaultdict(int)
    for tr in report.transfers:
        moving[(tr.target.id, tr.item.id)] += tr.qty
    asked: dict[tuple[int, int], int] = defaultdict(int)
    stmt = (
        select(PurchaseLine.unit_id, PurchaseLine.item_id, func.sum(PurchaseLine.qty))
        .join(PurchaseRequest, PurchaseRequest.id == PurchaseLine.request_id)
        .where(PurchaseRequest.status.in_(OPEN_STATUSES), PurchaseLine.unit_id.in_(scope))
        .group_by(PurchaseLine.unit_id, PurchaseLine.item_id)
    )
    if exclude_request is not None:
        stmt = stmt.where(PurchaseRequest.id != exclude_request)
    for unit_id, item_id, qty in session.execute(stmt):
        asked[(unit_id, item_id)] += int(qty or 0)
    wanted = []
    for row in report.rows:
        key = (row.unit.id, row.item.id)
        qty = row.uncovered - row.pending - moving.get(key, 0) - asked.get(key, 0)
        if qty > 0:
            wanted.append((row.unit.id, row.item.id, qty, row.item.unit_cost))
    units = {
        u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_({w[0] for w in wanted})))
    }
    items = {
        i.id: i for i in session.scalars(select(Item).where(Item.id.in_({w[1] for w in wanted})))
    }
    lines = [
        (units[u], items[i], qty, Decimal(cost or 0).quantize(Decimal("0.01")))
        for u, i, qty, cost in wanted
    ]
    lines.sort(key=lambda ln: (ln[0].code, ln[1].code))
    return lines


# ---------------------------------------------------------------- drafting


def create_request(
    session: Session,
    unit: Unit,
    *,
    title,
    actor,
    lines: Sequence[LineInput] = (),
    from_shortfall: bool = False,
    addressee=None,
    basis=None,
    request_key: str | None = None,
) -> PurchaseRequest:
    """Command staff draft a purchase request of their bureau: their own lines, or with
    ``from_shortfall`` the gap nothing else covers."""
    bureau = bureau_for(session, unit)
    require(session, actor, "purchases.request", bureau)
    if request_key:
        earlier = session.scalar(
            select(PurchaseRequest).where(PurchaseRequest.request_key == request_key)
        )
        if earlier is not None:
            return earlier
    problems = Problems()
    title = problems.check(
        check_text, title, "title", limit=TITLE_MAX, required=True, label=_("标题")
    )
    addressee = problems.check(
        check_text,
        str(DEFAULT_ADDRESSEE) if addressee is None else addressee,
        "addressee",
        limit=ADDRESSEE_MAX,
        required=True,
        label=_("主送机关"),
    )
    basis = problems.check(
        check_text,
        str(DEFAULT_BASIS) if basis is None else basis,
        "basis",
        limit=BASIS_MAX,
        label=_("申请依据"),
    )
    if from_shortfall and lines:
        problems.add("lines", _("按缺口生成时不另填明细行。"))
    checked = _checked_lines(session, bureau, lines, problems) if lines else []
    if from_shortfall and not lines:
        checked = gap_lines(session, bureau)
        if not checked:
            problems.add("lines", _("{bureau} 目前没有需要购置的缺口。").format(bureau=bureau.name))
    problems.raise_any()
    request = PurchaseRequest(
        unit_id=bureau.id,
        title=title,
        addressee=addressee,
        basis=basis,
        status="draft",
        requested_by_id=getattr(actor, "id", None),
        request_key=request_key or None,
    )
    for line_unit, item, qty, price in checked:
        request.lines.append(
            PurchaseLine(unit=line_unit, item=item, qty=qty, unit_price=price, delivered=0)
        )
    session.add(request)
    session.flush()
    _record(session, actor, "create", request, summary=title)
    return request


def update_request(
    session: Session,
    request: PurchaseRequest,
    *,
    actor,
    lines: Sequence[LineInput],
    title=None,
    addressee=None,
    basis=None,
) -> PurchaseRequest:
    """Edit a draft: its wording and its lines (the list replaces the one before)."""
    require(session, actor, "purchases.request", request.unit_id)
    _expect(request, "draft")
    bureau = request.unit
    problems = Problems()
    new_title = problems.check(
        check_text,
        request.title if title is None else title,
        "title",
        limit=TITLE_MAX,
        required=True,
        label=_("标题"),
    )
    new_addressee = problems.check(
        check_text,
        request.addressee if addressee is None else addressee,
        "addressee",
        limit=ADDRESSEE_MAX,
        required=True,
        label=_("主送机关"),
    )
    new_basis = problems.check(
        check_text,
        request.basis if basis is None else basis,
        "basis",
        limit=BASIS_MAX,
        label=_("申请依据"),
    )
    checked = _checked_lines(session, bureau, lines, problems)
    problems.raise_any()
    before = snapshot(request)
    request.title, request.addressee, request.basis = new_title, new_addressee, new_basis
    current = {(ln.unit_id, ln.item_id): ln for ln in request.lines}
    wanted = {(u.id, i.id) for u, i, _q, _p in checked}
    for line in list(request.lines):
        if (line.unit_id, line.item_id) not in wanted:
            request.lines.remove(line)
    for line_unit, item, qty, price in checked:
        line = current.get((line_unit.id, item.id))
        if line is None:
            request.lines.append(
                PurchaseLine(unit=line_unit, item=item, qty=qty, unit_price=price, delivered=0)
            )
        else:
            line.qty, line.unit_price = qty, price
    # the request's own row is written too, so its version catches a concurrent edit
    flag_modified(request, "title")
    _bump(session, request)
    session.refresh(request, ["lines"])
    _record(session, actor, "edit", request, before)
    return request


def submit_request(session: Session, request: PurchaseRequest, *, actor) -> PurchaseRequest:
    """Send the draft to the party committee and finance bureau: it can no longer change."""
    require(session, actor, "purchases.request", request.unit_id)
    _expect(request, "draft")
    if not request.lines:
        raise DomainError(_("申请没有明细行，不能报送。"), field="lines")
    before = snapshot(request)
    request.status = "submitted"
    request.submitted_by_id = getattr(actor, "id", None)
    request.submitted_at = utcnow()
    _bump(session, request)
    _record(session, actor, "submit", request, before)
    return request


def _not_requester(request: PurchaseRequest, actor) -> None:
    me = getattr(actor, "id", None)
    if me is not None and me in (request.requested_by_id, request.submitted_by_id):
        raise PermissionDenied(_("申请由您起草或报送，须由另一位指挥部人员审批。"))


def approve_request(
    session: Session,
    request: PurchaseRequest,
    *,
    approved_amount,
    funding_source,
    policy: Policy,
    actor,
    decision=None,
    approved_lines: dict[int, object] | None = None,
    booked_on: date | None = None,
) -> PurchaseRequest:
    """Approve a submitted request (not one's own): the amount granted and where the money
    comes from; from the threshold up only with the bureau's collective decision. Lines may
    be approved in part (then the request is 部分批准). Money from the reserve fund is paid
    out of it at once, and refused if the fund is too low."""
    require(session, actor, "purchases.approve", request.unit_id)
    _expect(request, "submitted")
    _not_requester(request, actor)
    problems = Problems()
    amount = problems.check(check_money, approved_amount, "approved_amount", label=_("批准金额"))
    if funding_source not in FUNDING_SOURCES:
        problems.add(
            "funding_source",
            _("资金来源只能是：{names}。").format(
                names="、".join(f"{k}（{v}）" for k, v in FUNDING_SOURCES.items())
            ),
        )
    by_id = {ln.id: ln for ln in request.lines}
    quantities: dict[int, int] = {ln.id: ln.qty for ln in request.lines}
    for key, raw in (approved_lines or {}).items():
        line = by_id.get(int(key)) if str(key).isdigit() else None
        if line is None:
            problems.add("lines", _("本申请没有第 {id} 号明细行。").format(id=key))
            continue
        qty = problems.check(
            check_whole,
            raw,
            f"approved-{line.id}",
            maximum=line.qty,
            label=_("{unit} {item} 批准数量").format(
                unit=line.unit.name, item=line.item.shown_name
            ),
        )
        if qty is not None:
            quantities[line.id] = qty
    value = sum((by_id[i].unit_price * q for i, q in quantities.items()), Decimal("0.00"))
    if amount is not None and amount > request.total:
        problems.add(
            "approved_amount",
            _("批准金额 {amount} 元不能超过申请总额 {total} 元。").format(
                amount=yuan(amount), total=yuan(request.total)
            ),
        )
    elif amount is not None and value > amount:
        problems.add(
            "approved_amount",
            _("批准的数量合计 {value} 元，超过批准金额 {amount} 元：请核减各行批准数量。").format(
                value=yuan(value), amount=yuan(amount)
            ),
        )
    if not any(quantities.values()):
        problems.add("lines", _("至少批准一行；全部不批准请选择“不予批准”。"))
    problems.raise_any()
    entry = check_spending(
        session, decision, bureau_id=request.unit_id, amount=amount, policy=policy
    )
    before = snapshot(request)
    for line in request.lines:
        line.approved_qty = quantities[line.id]
    partly = any(ln.approved_qty < ln.qty for ln in request.lines) or amount < request.total
    request.status = "partly" if partly else "approved"
    request.approved_amount = amount
    request.funding_source = funding_source
    request.decision_id = entry.id if entry else None
    request.decided_by_id = getattr(actor, "id", None)
    request.decided_at = utcnow()
    _bump(session, request)
    if funding_source == "reserve_fund":
        fund.spend(
            session,
            request.unit,
            kind="purchase",
            amount=amount,
            booked_on=booked_on or date.today(),
            actor=actor,
            obj=("purchase_requests", request.id),
            reference=_("购置申请第 {id} 号").format(id=request.id),
            note=request.title,
            decision_id=request.decision_id,
        )
    _record(session, actor, "approve", request, before)
    return request


def reject_request(session: Session, request: PurchaseRequest, reason, *, actor) -> PurchaseRequest:
    """Refuse a submitted request (not one's own), saying why."""
    require(session, actor, "purchases.approve", request.unit_id)
    _expect(request, "submitted")
    _not_requester(request, actor)
    reason = check_text(
        reason, "reason", limit=REASON_MAX, required=True, label=_("不予批准的理由")
    )
    before = snapshot(request)
    request.status = "refused"
    request.reason = reason
    request.decided_by_id = getattr(actor, "id", None)
    request.decided_at = utcnow()
    _bump(session, request)
    _record(session, actor, "reject", request, before, summary=reason)
    return request


# ---------------------------------------------------------------- deliveries


def receive(
    session: Session,
    line: PurchaseLine,
    *,
    qty,
    actor,
    lot_code: str | None = None,
    expires_on: date | None = None,
    serials=None,
    note: str = "",
    request_key: str | None = None,
) -> PurchaseDelivery:
    """Post a receipt at the line's unit against an approved line: no more than is still
    expected. The ledger's receipt and the delivery are one write."""
    from inventory.ledger import record_movement

    request = line.request
    if request.status not in APPROVED_STATUSES:
        raise Conflict(
            _("购置申请第 {id} 号当前为“{status}”，尚无待到货物资。").format(
                id=request.id, status=_status(request)
            )
        )
    if request_key:
        # the same delivery sent again (a retry, a double tap): the first one stands
        earlier = session.scalar(
            select(PurchaseDelivery)
            .join(Movement, Movement.id == PurchaseDelivery.movement_id)
            .where(Movement.request_key == request_key)
        )
        if earlier is not None:
            if earlier.line_id != line.id:
                raise Conflict(_("该请求编号已用于另一份不同的内容，未做任何修改。"))
            return earlier
    qty = check_whole(qty, "qty", maximum=QTY_MAX, minimum=1, label=_("到货数量"))
    if qty > line.expected:
        raise Conflict(
            _("{unit} 的 {item} 尚待到货 {left}，不能登记 {qty}。").format(
                unit=line.unit.name, item=line.item.shown_name, left=line.expected, qty=qty
            ),
            field="qty",
        )
    note = note or _("购置申请第 {id} 号到货").format(id=request.id)
    posted = record_movement(
        session,
        unit=line.unit,
        item=line.item,
        kind="receipt",
        qty=qty,
        actor=actor,
        lot_code=lot_code,
        expires_on=expires_on,
        serials=serials,
        note=note,
        request_key=request_key,
    )
    delivery = PurchaseDelivery(line_id=line.id, movement_id=posted.movement.id, qty=qty)
    session.add(delivery)
    before = snapshot(request)
    line.delivered += qty
    flag_modified(request, "title")
    _bump(session, request)
    audit.record(
        session,
        actor,
        "purchase.deliver",
        request,
        unit_id=line.unit_id,
        before=before,
        after=snapshot(request),
        summary=f"{line.unit.code} {line.item.code} +{qty}",
    )
    return delivery


def on_order(
    session: Session, unit_ids: set[int] | None, as_of: date
) -> dict[tuple[int, int], int]:
    """Approved and not yet delivered, per (unit, item): what the shortfall report shows as
    *on order*. Only for today's report (a past date's is not known)."""
    if as_of < date.today():
        return {}
    stmt = (
        select(
            PurchaseLine.unit_id,
            PurchaseLine.item_id,
            func.sum(PurchaseLine.approved_qty - PurchaseLine.delivered),
        )
        .join(PurchaseRequest, PurchaseRequest.id == PurchaseLine.request_id)
        .where(
            PurchaseRequest.status.in_(APPROVED_STATUSES),
            PurchaseLine.approved_qty > PurchaseLine.delivered,
        )
        .group_by(PurchaseLine.unit_id, PurchaseLine.item_id)
    )
    if unit_ids is not None:
        stmt = stmt.where(PurchaseLine.unit_id.in_(unit_ids))
    return {(u, i): int(q) for u, i, q in session.execute(stmt)}


def expected_deliveries(session: Session, unit_ids: set[int] | None) -> list[PurchaseLine]:
    """Approved lines still expected at the units in reach, oldest request first."""
    stmt = (
        select(PurchaseLine)
        .join(PurchaseRequest, PurchaseRequest.id == PurchaseLine.request_id)
        .where(
            PurchaseRequest.status.in_(APPROVED_STATUSES),
            PurchaseLine.approved_qty > PurchaseLine.delivered,
        )
        .options(
            selectinload(PurchaseLine.unit),
            selectinload(PurchaseLine.item),
            selectinload(PurchaseLine.request),
        )
        .order_by(PurchaseRequest.id, PurchaseLine.id)
    )
    if unit_ids is not None:
        stmt = stmt.where(PurchaseLine.unit_id.in_(unit_ids))
    return list(session.scalars(stmt))


# Newest first.
REQUEST_ORDER = paging.Order(
    "purchase-requests", paging.Key(int, PurchaseRequest.id, descending=True)
)


def requests_query(unit_ids: set[int] | None, status: str | None = None):
    stmt = (
        select(PurchaseRequest)
        .options(
            selectinload(PurchaseRequest.lines).selectinload(PurchaseLine.item),
            selectinload(PurchaseRequest.lines).selectinload(PurchaseLine.unit),
            selectinload(PurchaseRequest.unit),
        )
        .order_by(PurchaseRequest.id.desc())
    )
    if unit_ids is not None:
        stmt = stmt.where(PurchaseRequest.unit_id.in_(unit_ids))
    if status:
        stmt = stmt.where(PurchaseRequest.status == status)
    return stmt
