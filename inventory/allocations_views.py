"""Pages for allocation requests: list and approval queue, new request, one request with
its timeline and actions, the printable allocation slip (调拨单)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import case, or_, select
from sqlalchemy.orm import aliased, selectinload

from inventory import allocations as alloc
from inventory.models import (
    ALLOCATION_STATUSES,
    Allocation,
    AllocationApproval,
    AllocationLine,
    Item,
)
from inventory.shortfall import shortfall
from readiness import lists
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.exports import pdf_response, table_response
from readiness.extensions import db
from readiness.forms import ConfirmForm
from readiness.models import ROLES, AuditEntry, Unit
from readiness.pages import int_or_none, paginate
from readiness.pdf import pdf_sections
from readiness.permissions import can, in_scope

bp = Blueprint("allocations", __name__)

NEW_LINES = 6
# empty rows offered under a draft's lines for adding items
EXTRA_DRAFT_LINES = 3


def _threshold() -> Decimal:
    return Decimal(str(current_app.config["COLLECTIVE_DECISION_THRESHOLD"]))


def _load(allocation_id: int) -> Allocation:
    a = db.session.get(Allocation, allocation_id)
    if a is None:
        abort(404)
    actor = current_actor()
    if not (in_scope(db.session, actor, a.from_unit) or in_scope(db.session, actor, a.to_unit)):
        abort(403)
    return a


def _quantities(a: Allocation) -> dict[str, str] | None:
    """Per-line quantities typed on the page (fields qty-<item code>); blank means unchanged."""
    out = {}
    for line in a.lines:
        raw = (request.form.get(f"qty-{line.item.code}") or "").strip()
        if raw:
            out[line.item.code] = raw
    return out or None


def _typed_lines(count: int) -> list[alloc.LineInput]:
    """The item/quantity rows typed on a form (item-N, qty-N); rows left blank, or ticked
    remove-N, are not lines."""
    lines = []
    for n in range(count):
        code = (request.form.get(f"item-{n}") or "").strip()
        qty = (request.form.get(f"qty-{n}") or "").strip()
        if (code or qty) and not request.form.get(f"remove-{n}"):
            lines.append(alloc.LineInput(code, qty))
    return lines


def _problems(err: DomainError) -> list[tuple[str | None, str]]:
    """Every (field, message) of a refusal, for a form to show them all at once."""
    return list(getattr(err, "problems", None) or [(err.field, err.message)])


# The list of requests: searched by number, unit or item, sorted by any column (issue 22).
SOURCE, TARGET = aliased(Unit, name="source"), aliased(Unit, name="target")
# the workflow's order, for sorting by status
STATUS_ORDER = case(
    {code: n for n, code in enumerate(ALLOCATION_STATUSES)}, value=Allocation.status, else_=99
)
ALLOCATION_LIST = lists.ListSpec(
    search=(SOURCE.name, SOURCE.code, TARGET.name, TARGET.code),
    columns=(
        lists.Column("number", (Allocation.id,)),
        lists.Column("date", (Allocation.created_at,)),
        lists.Column("status", (STATUS_ORDER,)),
        lists.Column("source", (SOURCE.name,)),
        lists.Column("target", (TARGET.name,)),
    ),
    tiebreak=Allocation.id,
    default_desc=True,
)
FILE_FORMATS = ("csv", "xlsx")


def _searched(stmt, q: str):
    """Requests whose number is ``q`` (“12”, “第 12 号”, “#12”), or whose source or target unit
    (name or code) or one of whose items (Chinese or English name, or code) holds it."""
    items = (
        select(AllocationLine.id)
        .join(Item, Item.id == AllocationLine.item_id)
        .where(
            AllocationLine.allocation_id == Allocation.id,
            or_(*(c.icontains(q, autoescape=True) for c in (Item.name, Item.name_en, Item.code))),
        )
        .exists()
    )
    found = [c.icontains(q, autoescape=True) for c in ALLOCATION_LIST.search] + [items]
    number = int_or_none(q.strip("第号#＃ "))
    if number is not None:
        found.append(Allocation.id == number)
    return stmt.where(or_(*found))


def _in_reach(stmt, visible: set[int] | None):
    if visible is None:
        return stmt
    return stmt.where(or_(Allocation.from_unit_id.in_(visible), Allocation.to_unit_id.in_(visible)))


def _with_lines(stmt):
    # each request with its units, lines (and their items) and approvals: a handful of
    # queries for the whole list, not four for every request (issue 21)
    return stmt.options(
        selectinload(Allocation.from_unit),
        selectinload(Allocation.to_unit),
        selectinload(Allocation.lines).selectinload(AllocationLine.item),
        selectinload(Allocation.approvals).selectinload(AllocationApproval.approver),
    )


def _named_units(visible: set[int] | None, column) -> list[Unit]:
    """The units the reader's requests name as source (or target): the picker's choices."""
    ids = _in_reach(select(column), visible)
    return list(db.session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.code)))


@bp.route("/allocations")
@permission("allocations.view")
def index():
    """Requests involving my units, searched, filtered and sorted as the URL says (newest
    first), and downloadable as shown; for command staff, the approval queue first."""
    actor = current_actor()
    visible = core.visible_unit_ids(db.session, actor)
    shown = lists.shown(ALLOCATION_LIST)
    sources = _named_units(visible, Allocation.from_unit_id)
    targets = _named_units(visible, Allocation.to_unit_id)
    stmt = _in_reach(
        select(Allocation)
        .join(SOURCE, SOURCE.id == Allocation.from_unit_id)
        .join(TARGET, TARGET.id == Allocation.to_unit_id),
        visible,
    )
    status = request.args.get("status", "")
    if status in ALLOCATION_STATUSES:
        stmt = stmt.where(Allocation.status == status)
    elif status:
        flash(_("未知的状态：{status}。").format(status=status[:32]), "error")
    source = lists.unit_filter(sources, "from")
    if source is not None:
        stmt = stmt.where(Allocation.from_unit_id == source.id)
    target = lists.unit_filter(targets, "to")
    if target is not None:
        stmt = stmt.where(Allocation.to_unit_id == target.id)
    if shown.q:
        stmt = _searched(stmt, shown.q)
    stmt = _with_lines(lists.apply(stmt, ALLOCATION_LIST, replace(shown, q="")))
    fmt = request.args.get("format", "html")
    if fmt in FILE_FORMATS:
        return _download(fmt, db.session.scalars(stmt).all())
    listing = paginate(stmt)
    listing.args.pop("format", None)
    base = _with_lines(_in_reach(select(Allocation), visible)).order_by(Allocation.id.desc())
    queue = db.session.scalars(base.where(Allocation.status == "submitted")).all()
    pending_emergency = db.session.scalars(
        base.where(
            Allocation.is_emergency.is_(True),
            Allocation.approved_at.is_(None),
            Allocation.status.in_(("dispatched", "received", "submitted")),
        )
    ).all()
    context = {}
    if can(db.session, actor, "allocations.approve") and queue:
        # How far below standard each receiving unit is, for the items asked.
        report = shortfall(db.session, unit_ids={a.to_unit_id for a in queue})
        rows_by_key = {(r.unit.id, r.item.id): r for r in report.rows}
        for a in queue:
            context[a.id] = [rows_by_key.get((a.to_unit_id, ln.item_id)) for ln in a.lines]
    return render_template(
        "inventory/allocations.html",
        rows=listing.rows,
        listing=listing,
        shown=shown,
        sources=sources,
        targets=targets,
        queue=queue,
        pending_emergency=pending_emergency,
        context=context,
        statuses=ALLOCATION_STATUSES,
        threshold=_threshold(),
        value_of=alloc.value_of,
        needed=lambda a: alloc.approvals_needed(a, _threshold()),
        may_request=can(db.session, actor, "allocations.request"),
    )


def _download(fmt: str, rows: list[Allocation]):
    """The requests as shown, one row each, as CSV or XLSX."""
    header = [
        _("编号"),
        _("申请时间"),
        _("状态"),
        _("紧急"),
        _("调出单位"),
        _("调入单位"),
        _("物资"),
        _("金额（元）"),
        _("事由"),
    ]
    return table_response(
        fmt,
        "allocations",
        header,
        (
            [
                a.id,
                format_datetime(a.created_at, "yyyy-MM-dd HH:mm"),
                str(ALLOCATION_STATUSES.get(a.status, a.status)),
                _("是") if a.is_emergency else _("否"),
                a.from_unit.name,
                a.to_unit.name,
                _("、").join(
                    _("{item} × {qty}").format(item=ln.item.shown_name, qty=ln.requested)
                    for ln in a.lines
                ),
                f"{alloc.value_of(a):.2f}",
                a.reason,
            ]
            for a in rows
        ),
    )


def _unit_options(scope_only: bool) -> list[Unit]:
    actor = current_actor()
    visible = (core.visible_unit_ids if scope_only else core.bureau_unit_ids)(db.session, actor)
    units = [u for u, _d in core.unit_tree(db.session) if u.is_active]
    return [u for u in units if visible is None or u.id in visible]


@bp.route("/allocations/new", methods=["GET", "POST"])
@permission("allocations.request")
def new():
    """Ask for stock (a station for itself, command staff for any unit)."""
    items = _active_items()
    errors: list[tuple[str | None, str]] = []
    form = ConfirmForm()
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        try:
            a = alloc.create_allocation(
                db.session,
                from_unit=core.get_unit(db.session, request.form.get("from", "")),
                to_unit=core.get_unit(db.session, request.form.get("to", "")),
                lines=_typed_lines(NEW_LINES),
                reason=request.form.get("reason", ""),
                emergency=bool(request.form.get("emergency")),
                draft=bool(request.form.get("draft")),
                actor=current_actor(),
            )
        except DomainError as err:
            db.session.rollback()
            errors, status = _problems(err), err.status
        else:
            db.session.commit()
            flash(
                _("已提交调拨申请第 {id} 号。").format(id=a.id)
                if a.status == "submitted"
                else _("已保存调拨申请草稿第 {id} 号。").format(id=a.id),
                "success",
            )
            return redirect(url_for("allocations.detail", allocation_id=a.id))
    elif request.method == "POST":
        errors, status = [(None, m) for ms in form.errors.values() for m in ms], 400
    return render_template(
        "inventory/allocation_new.html",
        form=form,
        items=items,
        sources=_unit_options(scope_only=False),
        targets=_unit_options(scope_only=True),
        values=request.form if request.method == "POST" else request.args,
        lines=range(NEW_LINES),
        errors=errors,
    ), status


def _active_items() -> list[Item]:
    return list(db.session.scalars(select(Item).where(Item.is_active).order_by(Item.code)))


@bp.route("/allocations/from-suggestion", methods=["POST"])
@permission("allocations.request")
def from_suggestion():
    """One click on a source → target pair of suggested transfers makes one draft request
    holding all its lines (fields item and qty, repeated once per line)."""
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("inventory.shortfall_report"))
    lines = [
        alloc.LineInput(code, qty)
        for code, qty in zip(
            request.form.getlist("item"), request.form.getlist("qty"), strict=False
        )
    ]
    try:
        a = alloc.create_allocation(
            db.session,
            from_unit=core.get_unit(db.session, request.form.get("from", "")),
            to_unit=core.get_unit(db.session, request.form.get("to", "")),
            lines=lines,
            reason=_("按缺口报告建议调剂"),
            draft=True,
            actor=current_actor(),
        )
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("inventory.shortfall_report"))
    db.session.commit()
    flash(_("已生成调拨申请草稿第 {id} 号，请核对后提交。").format(id=a.id), "success")
    return redirect(url_for("allocations.detail", allocation_id=a.id))


@bp.route("/allocations/<int:allocation_id>")
@permission("allocations.view")
def detail(allocation_id: int):
    """A request: lines, value, who may approve and who has, what happens next for the
    viewer, and its timeline."""
    return _render_detail(_load(allocation_id))


def _render_detail(a: Allocation, errors=(), form_name: str = "", status: int = 200):
    """The request page; after a refused action, with what was typed and every problem
    (``form_name``: which of its forms was sent, "act" or "lines")."""
    actor = current_actor()
    timeline = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "allocations", AuditEntry.object_id == str(a.id))
        .order_by(AuditEntry.id)
    ).all()
    report = shortfall(db.session, unit_ids={a.to_unit_id})
    gaps = {r.item.id: r for r in report.rows}
    needed = alloc.approvals_needed(a, _threshold())
    may_approve = (
        can(db.session, actor, "allocations.approve", a.from_unit_id)
        and can(db.session, actor, "allocations.approve", a.to_unit_id)
        and actor.id != a.requested_by_id
    )
    may = {
        "may_approve": may_approve,
        "may_dispatch": can(db.session, actor, "allocations.dispatch", a.from_unit_id),
        "may_receive": can(db.session, actor, "allocations.receive", a.to_unit_id),
        "may_request": can(db.session, actor, "allocations.approve")
        or can(db.session, actor, "allocations.request", a.to_unit_id),
    }
    approver_unit = alloc.approving_unit(db.session, a)
    decided = next((e for e in reversed(timeline) if e.action == "allocation.reject"), None)
    return render_template(
        "inventory/allocation.html",
        a=a,
        form=ConfirmForm(),
        statuses=ALLOCATION_STATUSES,
        timeline=timeline,
        gaps=gaps,
        value=alloc.value_of(a),
        needed=needed,
        threshold=_threshold(),
        approver_unit=approver_unit,
        approver_role=ROLES["command"],
        decided=decided,
        next_step=alloc.next_step(
            a, needed=needed, approver_unit=approver_unit.name, viewer_id=actor.id, **may
        ),
        items=_active_items() if a.status == "draft" else [],
        edit_rows=len(a.lines) + EXTRA_DRAFT_LINES,
        values=request.form if errors else {},
        errors=errors,
        form_name=form_name,
        **may,
    ), status


def _form_accepted() -> bool:
    """CSRF of a form on the request page; a stale or missing token is flashed."""
    form = ConfirmForm()
    if form.validate_on_submit():
        return True
    flash((form.errors and next(iter(form.errors.values()))[0]) or "", "error")
    return False


def _act(allocation_id: int, run, message: str):
    """Run one action of the request page: commit and go back to the page, or show the page
    again with what was typed and why it was refused."""
    a = _load(allocation_id)
    if not _form_accepted():
        return redirect(url_for("allocations.detail", allocation_id=allocation_id))
    try:
        run(a)
    except DomainError as err:
        db.session.rollback()
        return _render_detail(_load(allocation_id), _problems(err), "act", err.status)
    db.session.commit()
    flash(message.format(id=allocation_id), "success")
    return redirect(url_for("allocations.detail", allocation_id=allocation_id))


@bp.route("/allocations/<int:allocation_id>/lines", methods=["POST"])
@permission("allocations.request")
def edit_lines(allocation_id: int):
    """Add, change or remove the lines of a draft."""
    a = _load(allocation_id)
    if not _form_accepted():
        return redirect(url_for("allocations.detail", allocation_id=allocation_id))
    try:
        alloc.edit_draft_lines(
            db.session,
            a,
            lines=_typed_lines(len(a.lines) + EXTRA_DRAFT_LINES),
            actor=current_actor(),
        )
    except DomainError as err:
        db.session.rollback()
        return _render_detail(_load(allocation_id), _problems(err), "lines", err.status)
    db.session.commit()
    flash(_("调拨单第 {id} 号的物资已更新。").format(id=allocation_id), "success")
    return redirect(url_for("allocations.detail", allocation_id=allocation_id))


@bp.route("/allocations/<int:allocation_id>/submit", methods=["POST"])
@permission("allocations.request")
def submit(allocation_id: int):
    """Send a draft for approval."""
    return _act(
        allocation_id,
        lambda a: alloc.submit_allocation(db.session, a, actor=current_actor()),
        _("调拨单第 {id} 号已提交审批。"),
    )


@bp.route("/allocations/<int:allocation_id>/approve", methods=["POST"])
@permission("allocations.approve")
def approve(allocation_id: int):
    """Approve (reduced lines need a reason)."""
    return _act(
        allocation_id,
        lambda a: alloc.approve_allocation(
            db.session,
            a,
            actor=current_actor(),
            threshold=_threshold(),
            quantities=_quantities(a),
            note=request.form.get("reason", ""),
        ),
        _("已批准调拨单第 {id} 号。"),
    )


@bp.route("/allocations/<int:allocation_id>/reject", methods=["POST"])
@permission("allocations.approve")
def reject(allocation_id: int):
    """Refuse, with a reason."""
    return _act(
        allocation_id,
        lambda a: alloc.reject_allocation(
            db.session, a, actor=current_actor(), note=request.form.get("reason", "")
        ),
        _("已驳回调拨单第 {id} 号。"),
    )


@bp.route("/allocations/<int:allocation_id>/dispatch", methods=["POST"])
@permission("allocations.dispatch")
def dispatch(allocation_id: int):
    """Send the stock."""
    return _act(
        allocation_id,
        lambda a: alloc.dispatch_allocation(
            db.session, a, actor=current_actor(), quantities=_quantities(a)
        ),
        _("调拨单第 {id} 号已发出。"),
    )


@bp.route("/allocations/<int:allocation_id>/receive", methods=["POST"])
@permission("allocations.receive")
def receive(allocation_id: int):
    """Take delivery."""
    return _act(
        allocation_id,
        lambda a: alloc.receive_allocation(
            db.session,
            a,
            actor=current_actor(),
            quantities=_quantities(a),
            note=request.form.get("reason", ""),
        ),
        _("调拨单第 {id} 号已接收入库。"),
    )


@bp.route("/allocations/<int:allocation_id>/cancel", methods=["POST"])
@permission("allocations.request")
def cancel(allocation_id: int):
    """Withdraw before dispatch."""
    return _act(
        allocation_id,
        lambda a: alloc.cancel_allocation(
            db.session, a, actor=current_actor(), note=request.form.get("reason", "")
        ),
        _("调拨单第 {id} 号已取消。"),
    )


@bp.route("/allocations/<int:allocation_id>/slip.pdf")
@permission("allocations.view")
def slip(allocation_id: int):
    """The printable allocation slip (调拨单) with both units, lines, approvers, signatures."""
    a = _load(allocation_id)
    meta = [
        _("编号：第 {id} 号    状态：{status}    日期：{date}").format(
            id=a.id, status=ALLOCATION_STATUSES[a.status], date=date.today().isoformat()
        ),
        _("调出单位：{unit}（{code}）").format(unit=a.from_unit.name, code=a.from_unit.code),
        _("调入单位：{unit}（{code}）").format(unit=a.to_unit.name, code=a.to_unit.code),
        _("事由：{reason}").format(reason=a.reason) + (_("（紧急调拨）") if a.is_emergency else ""),
        _("申请人：{who}").format(who=a.requested_by.display_name if a.requested_by else "—"),
        _("审批人：{who}").format(
            who=_("、").join(f"{ap.approver.display_name} {ap.at:%Y-%m-%d}" for ap in a.approvals)
            or "—"
        ),
        _("金额合计：{value} 元").format(value=f"{alloc.value_of(a):,.2f}"),
    ]
    header = [
        _("物资"),
        _("计量单位"),
        _("申请"),
        _("批准"),
        _("发出"),
        _("实收"),
        _("单价（元）"),
        _("备注"),
    ]
    rows = [
        [
            ln.item.name,
            ln.item.uom,
            ln.requested,
            ln.approved if ln.approved is not None else "",
            ln.dispatched if ln.dispatched is not None else "",
            ln.received if ln.received is not None else "",
            f"{ln.item.unit_cost:,.2f}",
            ln.note,
        ]
        for ln in a.lines
    ]
    pdf = pdf_sections(
        _("应急物资调拨单"),
        meta,
        [("", header, rows)],
        signature_line=_("发出人：__________    接收人：__________    审批人：__________"),
        landscape_page=False,
    )
    return pdf_response(f"allocation-{a.id}", pdf)
