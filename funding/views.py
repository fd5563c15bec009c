"""Pages for the money that follows the gap: purchase requests (drafted from the shortfall,
edited, submitted, approved, delivered), collective decisions and the leadership group, and
the bureau's reserve fund with its yearly statement."""

from __future__ import annotations

import secrets
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from funding import decisions, documents, fund, purchases
from funding.decisions import MemberInput
from funding.models import (
    FUND_KINDS,
    FUNDING_SOURCES,
    OUTCOMES,
    POSITIONS,
    PURCHASE_STATUSES,
    Decision,
    PurchaseLine,
)
from funding.money import capital, yuan
from funding.web import (
    bureau_in_reach,
    decision_in_reach,
    own_bureau,
    policy,
    purchase_in_reach,
)
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.config import storage_dir
from readiness.errors import DomainError, NotFound
from readiness.exports import pdf_response, table_response
from readiness.extensions import db
from readiness.files import FILE_TYPES, content_path
from readiness.forms import ConfirmForm
from readiness.models import Unit, User
from readiness.permissions import can, in_scope, unit_ids_below

bp = Blueprint("funding", __name__)

BLANK_LINES = 3


def _problems(err: DomainError) -> tuple[dict[str, str], list[str]]:
    """A refusal as per-field messages and the list shown at the top of the form."""
    items = getattr(err, "problems", None) or [(err.field or "_all", err.message)]
    fields: dict[str, str] = {}
    for field, message in items:
        fields.setdefault(field or "_all", message)
    return fields, [message for _f, message in items]


def _found(loader, *args):
    try:
        return loader(*args)
    except NotFound:
        abort(404)


def _bureau_from_args() -> Unit | None:
    """The bureau a page is about: ``?bureau=CODE`` in reach, else the user's own."""
    code = request.values.get("bureau")
    if code:
        try:
            return bureau_in_reach(code)
        except DomainError:  # not found, out of reach, or not a bureau
            abort(404)
    return own_bureau()


def _bureaus_in_reach() -> list[Unit]:
    actor = current_actor()
    visible = core.visible_unit_ids(db.session, actor)
    stmt = select(Unit).where(Unit.is_active.is_(True), Unit.kind == "bureau").order_by(Unit.code)
    if visible is not None:
        stmt = stmt.where(Unit.id.in_(visible))
    out = list(db.session.scalars(stmt))
    own = own_bureau()
    if own is not None and own not in out and in_scope(db.session, actor, own):
        out.insert(0, own)
    return out


def _decision_choices(bureau_id: int) -> list[tuple[Decision, object]]:
    """The bureau's approved decisions that still have money left, with what is left."""
    rows = db.session.scalars(
        select(Decision)
        .where(Decision.unit_id == bureau_id, Decision.outcome == "approved")
        .order_by(Decision.met_on.desc(), Decision.id.desc())
        .limit(100)
    )
    rows = list(rows)
    used = decisions.used_amounts(db.session, [e.id for e in rows])
    return [(e, e.amount - used[e.id]) for e in rows if e.amount - used[e.id] > 0]


# ---------------------------------------------------------------- purchase requests


@bp.route("/purchases")
@permission("purchases.view")
def purchases_index():
    """The bureau's purchase requests, newest first, and a new draft (from the gap or blank)."""
    actor = current_actor()
    status = request.args.get("status") or None
    if status not in PURCHASE_STATUSES:
        status = None
    scope = core.visible_unit_ids(db.session, actor)
    rows = db.session.scalars(purchases.requests_query(scope, status).limit(200)).unique().all()
    bureau = own_bureau()
    return render_template(
        "funding/purchases.html",
        rows=rows,
        status=status,
        statuses=PURCHASE_STATUSES,
        bureau=bureau,
        may_request=bureau is not None and can(db.session, actor, "purchases.request", bureau),
        values={"title": _("关于申请购置应急装备物资的请示"), "from_shortfall": "1"},
        problems={},
        messages=[],
        form=ConfirmForm(),
        yuan=yuan,
    )


@bp.route("/purchases/new", methods=["POST"])
@permission("purchases.request")
def purchase_new():
    """Draft a request: from the gap nothing else covers, or blank to fill in."""
    actor = current_actor()
    bureau = own_bureau()
    if bureau is None or not ConfirmForm().validate_on_submit():
        abort(400)
    values = {
        "title": request.form.get("title", ""),
        "from_shortfall": request.form.get("from_shortfall", ""),
    }
    try:
        created = purchases.create_request(
            db.session,
            bureau,
            title=values["title"],
            from_shortfall=bool(values["from_shortfall"]),
            actor=actor,
        )
    except DomainError as err:
        db.session.rollback()
        problems, messages = _problems(err)
        rows = db.session.scalars(
            purchases.requests_query(core.visible_unit_ids(db.session, actor)).limit(200)
        ).unique()
        return render_template(
            "funding/purchases.html",
            rows=rows.all(),
            status=None,
            statuses=PURCHASE_STATUSES,
            bureau=bureau,
            may_request=True,
            values=values,
            problems=problems,
            messages=messages,
            form=ConfirmForm(),
            yuan=yuan,
        ), 422
    db.session.commit()
    flash(
        _("已生成购置申请草稿第 {id} 号：{n} 行，合计 {total} 元。").format(
            id=created.id, n=len(created.lines), total=yuan(created.total)
        ),
        "success",
    )
    return redirect(url_for("funding.purchase_detail", request_id=created.id))


def _line_values(req) -> dict[str, str]:
    values: dict[str, str] = {
        "title": req.title,
        "addressee": req.addressee,
        "basis": req.basis,
    }
    for n, line in enumerate(req.lines):
        values[f"unit-{n}"] = line.unit.code
        values[f"item-{n}"] = line.item.code
        values[f"qty-{n}"] = str(line.qty)
        values[f"unit_price-{n}"] = str(line.unit_price)
    return values


def _detail(req, *, values=None, problems=None, messages=None, approval=None, status=200):
    actor = current_actor()
    mine = getattr(actor, "id", None) in (req.requested_by_id, req.submitted_by_id)
    may_request = can(db.session, actor, "purchases.request", req.unit_id)
    may_approve = can(db.session, actor, "purchases.approve", req.unit_id) and not mine
    values = values if values is not None else _line_values(req)
    rows = max(len(req.lines), sum(1 for k in values if k.startswith("unit-"))) + BLANK_LINES
    bureau_units = db.session.scalars(
        select(Unit)
        .where(Unit.id.in_(unit_ids_below(db.session, req.unit_id)), Unit.is_active.is_(True))
        .order_by(Unit.code)
    ).all()
    from inventory.models import Item

    items = db.session.scalars(
        select(Item).where(Item.is_active.is_(True)).order_by(Item.code)
    ).all()
    approval = approval or {
        "approved_amount": str(req.total),
        "funding_source": "reserve_fund",
        "booked_on": date.today().isoformat(),
    }
    return render_template(
        "funding/purchase_detail.html",
        req=req,
        values=values,
        line_rows=rows,
        problems=problems or {},
        messages=messages or [],
        approval=approval,
        bureau_units=bureau_units,
        items=items,
        may_edit=may_request and req.status == "draft",
        may_submit=may_request and req.status == "draft" and bool(req.lines),
        may_approve=may_approve and req.status == "submitted",
        is_requester=mine,
        sources=FUNDING_SOURCES,
        decision_choices=_decision_choices(req.unit_id) if req.status == "submitted" else [],
        threshold=policy().threshold,
        balance=fund.balance(db.session, req.unit_id),
        capital=capital,
        yuan=yuan,
        form=ConfirmForm(),
    ), status


def _refused(request_id: int, err: DomainError, **kwargs):
    """The request's page again after a refusal: nothing written, every problem shown, what
    was typed kept."""
    db.session.rollback()
    problems, messages = _problems(err)
    status = err.status if err.status in (403, 409) else 422
    return _detail(
        _found(purchase_in_reach, request_id),
        problems=problems,
        messages=messages,
        status=status,
        **kwargs,
    )


@bp.route("/purchases/<int:request_id>")
@permission("purchases.view")
def purchase_detail(request_id: int):
    """A request: its lines by unit and item, the total in figures and capitals, where it
    stands, and what may be done next (edit, submit, approve, refuse)."""
    return _detail(_found(purchase_in_reach, request_id))


@bp.route("/purchases/<int:request_id>/document.pdf")
@permission("purchases.view")
def purchase_pdf(request_id: int):
    """The formal request document (请示) as PDF."""
    req = _found(purchase_in_reach, request_id)
    return pdf_response(documents.filename(req), documents.purchase_pdf(req))


@bp.route("/purchases/<int:request_id>/edit", methods=["POST"])
@permission("purchases.request")
def purchase_edit(request_id: int):
    """Save a draft's wording and lines (blank rows are ignored)."""
    req = _found(purchase_in_reach, request_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    form = request.form
    values = {k: form.get(k, "") for k in ("title", "addressee", "basis")}
    lines = []
    n = 0
    while f"unit-{n}" in form and n < purchases.MAX_LINES + BLANK_LINES:
        row = {k: form.get(f"{k}-{n}", "").strip() for k in ("unit", "item", "qty", "unit_price")}
        for key, value in row.items():
            values[f"{key}-{n}"] = value
        if any(row.values()) and not form.get(f"remove-{n}"):
            lines.append(
                purchases.LineInput(row["unit"], row["item"], row["qty"], row["unit_price"])
            )
        n += 1
    try:
        purchases.update_request(
            db.session,
            req,
            title=values["title"],
            addressee=values["addressee"],
            basis=values["basis"],
            lines=lines,
            actor=current_actor(),
        )
    except DomainError as err:
        return _refused(request_id, err, values=values)
    db.session.commit()
    flash(_("已保存草稿：合计 {total} 元。").format(total=yuan(req.total)), "success")
    return redirect(url_for("funding.purchase_detail", request_id=req.id))


@bp.route("/purchases/<int:request_id>/submit", methods=["POST"])
@permission("purchases.request")
def purchase_submit(request_id: int):
    """Submit the draft to the party committee and finance bureau."""
    req = _found(purchase_in_reach, request_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        purchases.submit_request(db.session, req, actor=current_actor())
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
    else:
        db.session.commit()
        flash(_("已报送，等待审批。"), "success")
    return redirect(url_for("funding.purchase_detail", request_id=request_id))


@bp.route("/purchases/<int:request_id>/approve", methods=["POST"])
@permission("purchases.approve")
def purchase_approve(request_id: int):
    """Approve, whole or in part, with the amount, the source of the money and, from the
    threshold up, the collective decision."""
    req = _found(purchase_in_reach, request_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    form = request.form
    approval = {
        k: form.get(k, "") for k in ("approved_amount", "funding_source", "decision", "booked_on")
    }
    quantities = {}
    for line in req.lines:
        raw = form.get(f"approved-{line.id}", "").strip()
        approval[f"approved-{line.id}"] = raw
        if raw != "" and raw != str(line.qty):
            quantities[line.id] = raw
    try:
        booked = date.fromisoformat(approval["booked_on"]) if approval["booked_on"] else None
    except ValueError:
        booked = None
        approval["booked_on"] = ""
    try:
        purchases.approve_request(
            db.session,
            req,
            approved_amount=approval["approved_amount"],
            funding_source=approval["funding_source"],
            decision=approval["decision"] or None,
            approved_lines=quantities or None,
            booked_on=booked,
            policy=policy(),
            actor=current_actor(),
        )
    except DomainError as err:
        return _refused(request_id, err, approval=approval)
    db.session.commit()
    flash(
        _("已批准：{status}，批准金额 {amount} 元。").format(
            status=req.status_label, amount=yuan(req.approved_amount)
        ),
        "success",
    )
    return redirect(url_for("funding.purchase_detail", request_id=req.id))


@bp.route("/purchases/<int:request_id>/reject", methods=["POST"])
@permission("purchases.approve")
def purchase_reject(request_id: int):
    """Refuse the request, saying why."""
    req = _found(purchase_in_reach, request_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    reason = request.form.get("reason", "")
    try:
        purchases.reject_request(db.session, req, reason, actor=current_actor())
    except DomainError as err:
        return _refused(request_id, err, approval={"reason": reason})
    db.session.commit()
    flash(_("已不予批准。"), "success")
    return redirect(url_for("funding.purchase_detail", request_id=req.id))


@bp.route("/purchases/deliveries")
@permission("stock.view")
def deliveries():
    """What approved purchases still bring to the units in reach; the receiving unit posts
    the receipt against the line, and the line closes once all has come."""
    return _deliveries_page()


def _deliveries_page(values=None, problems=None, messages=None, status=200):
    actor = current_actor()
    lines = purchases.expected_deliveries(db.session, core.visible_unit_ids(db.session, actor))
    return render_template(
        "funding/deliveries.html",
        lines=lines,
        values=values or {},
        problems=problems or {},
        messages=messages or [],
        may_receive=can(db.session, actor, "stock.write"),
        form=ConfirmForm(),
    ), status


@bp.route("/purchases/deliveries/receive", methods=["POST"])
@permission("stock.write")
def deliveries_receive():
    """Post a receipt against an approved line of the user's unit (no more than expected)."""
    actor = current_actor()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    line = db.session.get(PurchaseLine, request.form.get("line", type=int) or 0)
    if line is None or not in_scope(db.session, actor, line.unit_id):
        abort(404)
    values = {k: request.form.get(k, "") for k in ("qty", "lot", "expires_on", "serials")} | {
        "line": str(line.id)
    }
    try:
        expires = date.fromisoformat(values["expires_on"]) if values["expires_on"] else None
    except ValueError:
        message = _("有效期格式应为 YYYY-MM-DD。")
        return _deliveries_page(values, {"expires_on": message}, [message], 422)
    try:
        delivery = purchases.receive(
            db.session,
            line,
            qty=values["qty"],
            lot_code=values["lot"] or None,
            expires_on=expires,
            serials=values["serials"] or None,
            actor=actor,
        )
    except DomainError as err:
        db.session.rollback()
        problems, messages = _problems(err)
        return _deliveries_page(
            values, problems, messages, err.status if err.status in (403, 409) else 422
        )
    db.session.commit()
    flash(
        _("已入库 {qty} {uom}（{item}，{unit}）。").format(
            qty=delivery.qty,
            uom=line.item.shown_uom,
            item=line.item.shown_name,
            unit=line.unit.name,
        ),
        "success",
    )
    return redirect(url_for("funding.deliveries"))


# ---------------------------------------------------------------- decisions


@bp.route("/decisions", methods=["GET", "POST"])
@permission("decisions.view")
def decisions_index():
    """The bureau's collective decisions, and recording a new one (command staff)."""
    actor = current_actor()
    bureau = own_bureau()
    group = decisions.leadership(db.session, bureau.id) if bureau else []
    values: dict[str, str] = {
        "met_on": date.today().isoformat(),
        "outcome": "approved",
        # one key per form shown: a second submit of the same form records nothing more
        "request_key": secrets.token_urlsafe(16),
    }
    for n in range(len(group)):
        values[f"order-{n}"] = str(n + 1)
        values[f"present-{n}"] = "1"
    problems: dict[str, str] = {}
    messages: list[str] = []
    status = 200
    may_record = bureau is not None and can(db.session, actor, "decisions.record", bureau)
    if request.method == "POST":
        if not may_record:
            abort(403)
        if not ConfirmForm().validate_on_submit():
            abort(400)
        form = request.form
        values = {
            k: form.get(k, "")
            for k in ("met_on", "subject", "decision", "amount", "outcome", "request_key")
        }
        values["request_key"] = values["request_key"] or secrets.token_urlsafe(16)
        present = []
        for n, member in enumerate(group):
            for key in ("present", "order", "position", "remark"):
                values[f"{key}-{n}"] = form.get(f"{key}-{n}", "")
            if values[f"present-{n}"]:
                try:
                    order = int(values[f"order-{n}"])
                except ValueError:
                    order = 999
                present.append((order, n, member))
        present.sort(key=lambda p: (p[0], p[1]))
        upload = request.files.get("minutes")
        minutes = (upload.filename, upload.read()) if upload and upload.filename else None
        try:
            entry = decisions.record_decision(
                db.session,
                bureau,
                met_on=values["met_on"],
                attendees=[m.user.username for _o, _n, m in present],
                positions=[values[f"position-{n}"] or None for _o, n, _m in present],
                remarks=[values[f"remark-{n}"] for _o, n, _m in present],
                subject=values["subject"],
                decision=values["decision"],
                amount=values["amount"],
                outcome=values["outcome"],
                minutes=minutes,
                storage_dir=storage_dir(),
                policy=policy(),
                actor=actor,
                request_key=values["request_key"][:64] or None,
            )
        except DomainError as err:
            db.session.rollback()
            problems, messages = _problems(err)
            status = 422
        else:
            db.session.commit()
            flash(_("已记录集体决策第 {id} 号。").format(id=entry.id), "success")
            return redirect(url_for("funding.decision_detail", decision_id=entry.id))
    scope = core.visible_unit_ids(db.session, actor)
    rows = db.session.scalars(decisions.decisions_query(scope).limit(200)).unique().all()
    return render_template(
        "funding/decisions.html",
        rows=rows,
        used=decisions.used_amounts(db.session, [e.id for e in rows]),
        bureau=bureau,
        group=group,
        needed=policy().needed(len(group)) if group else 0,
        threshold=policy().threshold,
        may_record=may_record,
        values=values,
        problems=problems,
        messages=messages,
        outcomes=OUTCOMES,
        positions=POSITIONS,
        form=ConfirmForm(),
        yuan=yuan,
    ), status


@bp.route("/decisions/<int:decision_id>", methods=["GET", "POST"])
@permission("decisions.view")
def decision_detail(decision_id: int):
    """A decision: who sat in what order and how each spoke, what was decided, what spending
    it backs so far, and its minutes (attached here)."""
    entry = _found(decision_in_reach, decision_id)
    actor = current_actor()
    may_record = can(db.session, actor, "decisions.record", entry.unit_id)
    error = None
    if request.method == "POST":
        if not may_record:
            abort(403)
        if not ConfirmForm().validate_on_submit():
            abort(400)
        upload = request.files.get("minutes")
        if not upload or not upload.filename:
            error = _("请选择会议纪要文件。")
        else:
            try:
                decisions.attach_minutes(
                    db.session,
                    entry,
                    (upload.filename, upload.read()),
                    storage_dir=storage_dir(),
                    actor=actor,
                )
            except DomainError as err:
                db.session.rollback()
                error = err.message
            else:
                db.session.commit()
                flash(_("已上传会议纪要。"), "success")
                return redirect(url_for("funding.decision_detail", decision_id=decision_id))
    from funding.models import FundEntry, PurchaseRequest, Subsidy

    backed = {
        "purchases": db.session.scalars(
            select(PurchaseRequest).where(PurchaseRequest.decision_id == entry.id)
        ).all(),
        "subsidies": db.session.scalars(
            select(Subsidy).where(Subsidy.decision_id == entry.id)
        ).all(),
        "payments": db.session.scalars(
            select(FundEntry).where(
                FundEntry.decision_id == entry.id,
                FundEntry.kind.in_(("repair", "allocation_subsidy")),
            )
        ).all(),
    }
    return render_template(
        "funding/decision_detail.html",
        entry=entry,
        used=decisions.used_amount(db.session, entry.id),
        backed=backed,
        may_record=may_record,
        error=error,
        form=ConfirmForm(),
        yuan=yuan,
        capital=capital,
    ), (422 if error else 200)


@bp.route("/decisions/<int:decision_id>/minutes")
@permission("decisions.view")
def decision_minutes(decision_id: int):
    """The minutes of a decision, as uploaded."""
    entry = _found(decision_in_reach, decision_id)
    if not entry.minutes_sha256:
        abort(404)
    path = content_path(storage_dir(), entry.minutes_sha256)
    if not path.is_file():
        abort(404)
    mimetype = FILE_TYPES.get(entry.minutes_type or "", ("application/octet-stream",))[0]
    return send_file(path, mimetype=mimetype, download_name=entry.minutes_name, as_attachment=True)


@bp.route("/decisions/leadership", methods=["GET", "POST"])
@permission("decisions.view")
def leadership():
    """The bureau's leadership group: who sits in collective decisions, and the head of unit
    who speaks last."""
    actor = current_actor()
    bureau = own_bureau()
    if bureau is None:
        abort(404)
    group = decisions.leadership(db.session, bureau.id)
    may_record = can(db.session, actor, "decisions.record", bureau)
    values: dict[str, str] = {}
    for n, member in enumerate(group):
        values[f"username-{n}"] = member.user.username
        values[f"title-{n}"] = member.title
        if member.is_head:
            values["head"] = str(n)
    problems: dict[str, str] = {}
    messages: list[str] = []
    status = 200
    rows = len(group) + BLANK_LINES
    if request.method == "POST":
        if not may_record:
            abort(403)
        if not ConfirmForm().validate_on_submit():
            abort(400)
        form = request.form
        values = {"head": form.get("head", "")}
        members = []
        n = 0
        while f"username-{n}" in form and n < decisions.MEMBERS_MAX + BLANK_LINES:
            values[f"username-{n}"] = form.get(f"username-{n}", "").strip()
            values[f"title-{n}"] = form.get(f"title-{n}", "").strip()
            if values[f"username-{n}"]:
                members.append(
                    MemberInput(
                        values[f"username-{n}"], values[f"title-{n}"], values["head"] == str(n)
                    )
                )
            n += 1
        rows = max(rows, n)
        try:
            decisions.set_leadership(db.session, bureau, members, actor=actor)
        except DomainError as err:
            db.session.rollback()
            problems, messages = _problems(err)
            status = 422
        else:
            db.session.commit()
            flash(_("已保存班子成员。"), "success")
            return redirect(url_for("funding.leadership"))
    people = db.session.scalars(
        select(User)
        .where(User.is_active.is_(True), User.unit_id.in_(unit_ids_below(db.session, bureau.id)))
        .order_by(User.username)
    ).all()
    return render_template(
        "funding/leadership.html",
        bureau=bureau,
        group=group,
        people=people,
        rows=rows,
        values=values,
        problems=problems,
        messages=messages,
        may_record=may_record,
        needed=policy().needed(len(group)) if group else 0,
        form=ConfirmForm(),
    ), status


# ---------------------------------------------------------------- fund


def _year() -> int:
    raw = request.values.get("year", "")
    try:
        year = int(raw)
    except ValueError:
        return date.today().year
    return year if 2000 <= year <= 2100 else date.today().year


@bp.route("/funds", methods=["GET", "POST"])
@permission("funds.view")
def funds():
    """A bureau's reserve fund: its balance, the year's statement and ledger, booking an
    appropriation, and paying a repair or an allocation subsidy."""
    actor = current_actor()
    bureau = _bureau_from_args()
    if bureau is None:
        abort(404)
    year = _year()
    values: dict[str, str] = {
        "booked_on": date.today().isoformat(),
        "kind": "repair",
        "request_key": secrets.token_urlsafe(16),
    }
    problems: dict[str, str] = {}
    messages: list[str] = []
    status = 200
    action = request.form.get("action", "")
    may_manage = can(db.session, actor, "funds.manage", bureau)
    if request.method == "POST":
        if not may_manage:
            abort(403)
        if not ConfirmForm().validate_on_submit():
            abort(400)
        form = request.form
        values = {
            k: form.get(k, "")
            for k in (
                "amount",
                "reference",
                "booked_on",
                "note",
                "kind",
                "decision",
                "record",
                "request_key",
            )
        }
        values["request_key"] = values["request_key"] or secrets.token_urlsafe(16)
        try:
            if action == "appropriate":
                fund.appropriate(
                    db.session,
                    bureau,
                    amount=values["amount"],
                    reference=values["reference"],
                    booked_on=values["booked_on"],
                    note=values["note"],
                    actor=actor,
                    request_key=values["request_key"][:64] or None,
                )
            else:
                record_id = values["record"].strip()
                obj = None
                if record_id:
                    if not record_id.isdigit():
                        raise DomainError(_("维修记录编号必须是数字。"), field="record")
                    obj = ("maintenance_records", int(record_id))
                fund.pay_expense(
                    db.session,
                    bureau,
                    kind=values["kind"],
                    amount=values["amount"],
                    reference=values["reference"],
                    booked_on=values["booked_on"],
                    note=values["note"],
                    decision=values["decision"] or None,
                    obj=obj,
                    policy=policy(),
                    actor=actor,
                )
        except DomainError as err:
            db.session.rollback()
            problems, messages = _problems(err)
            status = err.status if err.status in (403, 409) else 422
        else:
            db.session.commit()
            flash(
                _("已记账。余额 {balance} 元。").format(
                    balance=yuan(fund.balance(db.session, bureau.id))
                ),
                "success",
            )
            return redirect(url_for("funding.funds", bureau=bureau.code, year=year))
    statement = fund.statement(db.session, bureau.id, year)
    fmt = request.args.get("format", "")
    if fmt in ("csv", "xlsx", "pdf"):
        return _statement_download(fmt, bureau, statement)
    return render_template(
        "funding/fund.html",
        bureau=bureau,
        bureaus=_bureaus_in_reach(),
        balance=fund.balance(db.session, bureau.id),
        statement=statement,
        years=sorted(set(fund.years(db.session, bureau.id)) | {date.today().year}, reverse=True),
        year=year,
        kinds=FUND_KINDS,
        may_manage=may_manage,
        decision_choices=_decision_choices(bureau.id) if may_manage else [],
        threshold=policy().threshold,
        values=values,
        problems=problems,
        messages=messages,
        action=action,
        form=ConfirmForm(),
        yuan=yuan,
    ), status


def _statement_download(fmt: str, bureau: Unit, statement: fund.Statement):
    header = [_("记账日期"), _("类别"), _("文号/用途"), _("金额（元）"), _("余额（元）"), _("备注")]
    rows = [
        [
            e.booked_on.isoformat(),
            e.kind_label,
            e.reference,
            str(e.amount),
            str(e.balance_after),
            e.note,
        ]
        for e in statement.entries
    ]
    name = f"reserve-fund-{bureau.code}-{statement.year}"

    def pdf() -> bytes:
        from readiness.pdf import PdfFacts, PdfTable, pdf_document

        facts = [
            (_("年初余额"), yuan(statement.opening)),
            *[(label, yuan(value)) for _k, label, value in statement.rows()],
            (_("年末余额"), yuan(statement.closing)),
        ]
        return pdf_document(
            _("{bureau}应急物资储备金 {year} 年度收支明细").format(
                bureau=bureau.name, year=statement.year
            ),
            [_("打印日期：{date}").format(date=date.today().isoformat())],
            [PdfFacts(facts), PdfTable(header, rows)],
            landscape_page=False,
        )

    return table_response(fmt, name, header, rows, pdf=pdf)
