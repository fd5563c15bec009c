"""Shelter pages: coverage, sites, inspections, towns and villages."""

from __future__ import annotations

import json
import secrets
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import case, false, func, select

from inventory.shortfall import shortfall
from readiness import files, lists
from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.config import storage_dir
from readiness.errors import DomainError, NotFound, PermissionDenied
from readiness.exports import table_response
from readiness.extensions import db
from readiness.models import Unit
from readiness.pages import (
    confirmed_action,
    date_or_none,
    form_error,
    int_or_none,
    paginate,
)
from readiness.permissions import can, units_allowed
from rectification.models import ACTION_STATUSES
from shelters import acceptance, coverage, inspections, places
from shelters import places_import as pi
from shelters import sites as site_rules
from shelters.documents import send_document
from shelters.forms import (
    DEFECT_ROWS,
    AcceptanceForm,
    AcceptanceRequestForm,
    ImportConfirmForm,
    ImportForm,
    InspectionForm,
    ShelterForm,
    WithdrawAcceptanceForm,
)
from shelters.models import (
    CHECK_RESULTS,
    CHECKLIST,
    LEVEL_MIN_CAPACITY,
    LEVELS,
    STATUSES,
    VILLAGE_KINDS,
    AcceptanceDocument,
    Defect,
    Inspection,
    Shelter,
    Village,
)

bp = Blueprint("shelters", __name__, url_prefix="/shelters")

SHELTER_TEXT_FIELDS = (
    "name",
    "address",
    "manager_name",
    "manager_phone",
    "contacts",
    "note",
    "level",
    "status",
    "structure",
)
SHELTER_FLAGS = ("is_accessible", "has_generator", "is_in_floodplain")


def _scope() -> set[int] | None:
    return core.visible_unit_ids(db.session, current_actor())


def _interval() -> int:
    return int(current_app.config["SHELTER_INSPECTION_DAYS"])


def _shelter(shelter_id: int) -> Shelter:
    try:
        return site_rules.get_shelter(db.session, shelter_id, current_actor())
    except NotFound:
        abort(404)


def _town(code: str):
    try:
        town = places.get_town(db.session, code)
    except NotFound:
        abort(404)
    scope = _scope()
    if scope is not None and town.id not in scope:
        abort(404)
    return town


# ---------------------------------------------------------------- sites


# The site list: searched by name, address, manager or town, sorted by any column (issue 22).
LAST_INSPECTED = (
    select(func.max(Inspection.inspected_on))
    .where(Inspection.shelter_id == Shelter.id)
    .correlate(Shelter)
    .scalar_subquery()
)
SITE_LIST = lists.ListSpec(
    search=(Shelter.name, Shelter.address, Shelter.manager_name, Unit.name, Unit.code),
    columns=(
        lists.Column("town", (Unit.code, Shelter.name)),
        lists.Column("name", (Shelter.name,)),
        lists.Column("level", (Shelter.level,)),
        lists.Column("status", (Shelter.status,)),
        lists.Column("standardized", (Shelter.is_standardized, Shelter.standardized_on)),
        lists.Column("capacity", (Shelter.capacity,)),
        lists.Column("inspected", (LAST_INSPECTED,)),
    ),
    tiebreak=Shelter.id,
)
FILE_FORMATS = ("csv", "xlsx")


@bp.route("/sites")
@permission("shelters.view")
def sites():
    """Shelter sites in my towns: figures, last inspection, open defects, what is overdue;
    searched, filtered and sorted as the URL says, downloadable as shown, and the sites
    whose relief supplies the reader keeps ticked for printing their labels."""
    actor = current_actor()
    scope = _scope()
    town_list = places.towns(db.session, scope)
    args = request.args
    shown = lists.shown(SITE_LIST)
    town = next((t for t in town_list if t.code == args.get("town")), None)
    if args.get("town") and town is None:
        flash(
            _("镇/街道 {code} 不存在或不在您的管辖范围内。").format(code=args["town"][:32]),
            "error",
        )
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        flash(_("未知的状态：{status}。").format(status=status[:32]), "error")
        status = None
    standardized = {"yes": True, "no": False}.get(args.get("standardized", ""))
    if args.get("standardized") and standardized is None:
        flash(_("未知的规范化情况：{value}。").format(value=args["standardized"][:32]), "error")
    stmt = site_rules.shelters_query(
        unit_ids=scope,
        town=town,
        status=status,
        is_standardized=standardized,
    )
    if args.get("town") and town is None:
        stmt = stmt.where(false())
    today = date.today()
    if args.get("attention"):
        stmt = stmt.where(site_rules.needs_attention())
    if args.get("overdue"):
        stmt = stmt.where(site_rules.is_overdue(today=today, interval_days=_interval()))
    stmt = lists.apply(stmt, SITE_LIST, shown)
    fmt = args.get("format", "html")
    if fmt in FILE_FORMATS:
        rows = db.session.scalars(stmt).all()
        return _sites_download(fmt, rows, _site_states(rows, today))
    listing = paginate(stmt)
    listing.args.pop("format", None)
    printable = units_allowed(db.session, actor, "labels.print", [s.unit_id for s in listing.rows])
    return render_template(
        "shelters/sites.html",
        listing=listing,
        shown=shown,
        sites=listing.rows,
        states=_site_states(listing.rows, today),
        towns=town_list,
        statuses=STATUSES,
        levels=LEVELS,
        area_capacity=site_rules.area_capacity,
        interval_days=_interval(),
        printable={s.id for s in listing.rows if s.unit_id in printable},
        may_write=can(db.session, actor, "shelters.write"),
        # 待验收: the towns' requests waiting for command staff
        pending=acceptance.pending_requests(db.session, scope)
        if can(db.session, actor, "shelters.accept")
        else [],
        requested=acceptance.requested_ids(db.session, [s.id for s in listing.rows]),
    )


def _site_states(rows, today: date) -> dict:
    return site_rules.site_states(db.session, rows, today=today, interval_days=_interval())


def _sites_download(fmt: str, rows, states: dict):
    """The sites as shown, one row each, as CSV or XLSX."""
    header = [
        _("名称"),
        _("镇/街道"),
        _("地址"),
        _("级别"),
        _("状态"),
        _("规范化"),
        _("验收日期"),
        _("核定容量"),
        _("面积可容纳"),
        _("服务村社"),
        _("最近检查"),
        _("未整改问题"),
        _("逾期未检"),
    ]
    return table_response(
        fmt,
        "shelter-sites",
        header,
        (
            [
                s.name,
                s.town.name,
                s.address,
                s.level_label,
                s.status_label,
                _("是") if s.is_standardized else _("否"),
                s.standardized_on.isoformat() if s.standardized_on else "",
                s.capacity,
                site_rules.area_capacity(s.area_m2),
                _("、").join(v.name for v in s.villages),
                st.last_inspected_on.isoformat() if st.last_inspected_on else "",
                st.open_defects,
                _("是") if st.is_overdue else _("否"),
            ]
            for s in rows
            for st in (states[s.id],)
        ),
    )


@bp.route("/sites/<int:shelter_id>")
@permission("shelters.view")
def site_detail(shelter_id: int):
    """One site: its facts and warnings, its acceptance, the villages it serves, inspections
    and defects."""
    return _detail_page(_shelter(shelter_id))


def _detail_page(
    shelter: Shelter,
    *,
    accept_form: AcceptanceForm | None = None,
    request_form: AcceptanceRequestForm | None = None,
    withdraw_form: WithdrawAcceptanceForm | None = None,
):
    actor = current_actor()
    today = date.today()
    if accept_form is None:
        accept_form = AcceptanceForm(formdata=None, accepted_on=today.isoformat())
    state = site_rules.site_states(
        db.session, [shelter], today=date.today(), interval_days=_interval()
    )[shelter.id]
    stock_unit = shelter.unit
    # the relief supplies on its shelves against the shelter standard
    supplies = []
    if stock_unit is not None and can(db.session, actor, "stock.view", stock_unit):
        supplies = shortfall(db.session, unit_ids={stock_unit.id}).rows
    return render_template(
        "shelters/site_detail.html",
        shelter=shelter,
        state=state,
        warnings=site_rules.shelter_warnings(shelter),
        area_allows=site_rules.area_capacity(shelter.area_m2),
        to_relocate=sum(v.to_relocate for v in shelter.villages),
        floor=LEVEL_MIN_CAPACITY.get(shelter.level, 0),
        checklist=CHECKLIST,
        results=CHECK_RESULTS,
        stock_unit=stock_unit,
        supplies=supplies,
        may_print=bool(stock_unit) and can(db.session, actor, "labels.print", stock_unit),
        may_write=can(db.session, actor, "shelters.write", shelter.town_id),
        may_accept=can(db.session, actor, "shelters.accept", shelter.town_id),
        acceptable=shelter.status in acceptance.ACCEPTABLE_STATUSES,
        accept_form=accept_form,
        request_form=request_form or AcceptanceRequestForm(formdata=None),
        withdraw_form=withdraw_form or WithdrawAcceptanceForm(formdata=None),
        registered_on=inspections.registration_date(shelter, today),
        document_accept=files.ACCEPT,
        today=today,
        action_statuses=ACTION_STATUSES,
    )


def _villages_in_reach(town_list) -> list[tuple]:
    """(town, [villages]) for the towns in reach, for the checkbox list."""
    ids = [t.id for t in town_list]
    by_town: dict[int, list[Village]] = {t.id: [] for t in town_list}
    if ids:
        for v in db.session.scalars(
            select(Village).where(Village.town_id.in_(ids)).order_by(Village.name)
        ):
            by_town[v.town_id].append(v)
    return [(t, by_town[t.id]) for t in town_list]


def _shelter_input(form: ShelterForm, town_list) -> site_rules.ShelterInput:
    """The form as the service takes it; raises DomainError for a village id that is unknown."""
    town = next((t for t in town_list if t.code == form.town.data), None)
    ids = {int_or_none(v) for v in form.villages.data or []}
    if None in ids:
        raise DomainError(_("所选的村/社区不存在。"), field="villages")
    villages = list(db.session.scalars(select(Village).where(Village.id.in_(ids)))) if ids else []
    if len(villages) != len(ids):
        raise DomainError(_("所选的村/社区不存在，请刷新页面后重新选择。"), field="villages")
    return site_rules.ShelterInput(
        name=form.name.data or "",
        town=town,
        level=form.level.data or "",
        capacity=pi.number_or_text((form.capacity.data or "").strip() or 0),
        area_m2=(form.area_m2.data or "").strip() or None,
        address=form.address.data or "",
        latitude=(form.latitude.data or "").strip() or None,
        longitude=(form.longitude.data or "").strip() or None,
        structure=form.structure.data or "",
        is_accessible=bool(form.is_accessible.data),
        has_generator=bool(form.has_generator.data),
        is_in_floodplain=bool(form.is_in_floodplain.data),
        # not on the form: a site is standardized by an acceptance; a form that sends the
        # flag anyway is refused by the service
        is_standardized=_posted_flag("is_standardized"),
        standardized_on=date_or_none(request.form.get("standardized_on")),
        status=form.status.data or "",
        manager_name=form.manager_name.data or "",
        manager_phone=form.manager_phone.data or "",
        contacts=form.contacts.data or "",
        note=form.note.data or "",
        villages=villages,
    )


def _posted_flag(name: str) -> bool | None:
    """A checkbox the form does not have, if a request posts it anyway (None when absent)."""
    raw = request.form.get(name)
    if raw is None:
        return None
    return raw.strip().lower() not in ("", "0", "n", "no", "false", "off")


def _save_site(form: ShelterForm, call):
    """Run the form's service call: (site, 200), or (None, status) with the refusal on the
    form; a site marked standardized by the form is refused with 403."""
    try:
        result = call()
    except PermissionDenied as err:
        db.session.rollback()
        form_error(form, err)
        return None, 403
    except DomainError as err:
        db.session.rollback()
        form_error(form, err, "name")
        return None, 200
    db.session.commit()
    return result, 200


def _fill(form: ShelterForm, shelter: Shelter) -> None:
    for name in SHELTER_TEXT_FIELDS:
        getattr(form, name).data = getattr(shelter, name) or ""
    for name in SHELTER_FLAGS:
        getattr(form, name).data = getattr(shelter, name)
    form.town.data = shelter.town.code
    form.capacity.data = str(shelter.capacity)
    for name in ("area_m2", "latitude", "longitude"):
        value = getattr(shelter, name)
        getattr(form, name).data = "" if value is None else str(value)
    form.villages.data = [str(v.id) for v in shelter.villages]
    form.version.data = str(shelter.version)


def _town_choices(form: ShelterForm, shelter: Shelter | None = None) -> list:
    town_list = [t for t in places.towns(db.session, _scope()) if t.is_active]
    if shelter is not None and shelter.town not in town_list:
        town_list.append(shelter.town)
    form.town.choices = [("", "—")] + [
        (t.code, t.name + _("（{text}）").format(text=t.code)) for t in town_list
    ]
    return town_list


def _site_form(form: ShelterForm, town_list, shelter: Shelter | None):
    return render_template(
        "shelters/site_form.html",
        form=form,
        shelter=shelter,
        groups=_villages_in_reach(town_list),
        chosen={str(v) for v in form.villages.data or []},
        floors=LEVEL_MIN_CAPACITY,
    )


@bp.route("/sites/new", methods=["GET", "POST"])
@permission("shelters.write")
def site_new():
    """Register a shelter site: its figures, acceptance and the villages it serves."""
    form = ShelterForm()
    town_list = _town_choices(form)
    if request.method == "GET":
        form.town.data = request.args.get("town") or (
            town_list[0].code if len(town_list) == 1 else ""
        )
    status = 200
    if form.validate_on_submit():
        site, status = _save_site(
            form,
            lambda: site_rules.create_shelter(
                db.session, _shelter_input(form, town_list), actor=current_actor()
            ),
        )
        if site is not None:
            flash(_("已登记避灾安置场所：{name}。").format(name=site.name), "success")
            return redirect(url_for("shelters.site_detail", shelter_id=site.id))
    return _site_form(form, town_list, None), status


@bp.route("/sites/<int:shelter_id>/edit", methods=["GET", "POST"])
@permission("shelters.write")
def site_edit(shelter_id: int):
    """Change a site's figures, status, acceptance or the villages it serves."""
    shelter = _shelter(shelter_id)
    form = ShelterForm()
    town_list = _town_choices(form, shelter)
    if request.method == "GET":
        _fill(form, shelter)
    status = 200
    if form.validate_on_submit():
        done, status = _save_site(
            form,
            lambda: site_rules.update_shelter(
                db.session,
                shelter,
                _shelter_input(form, town_list),
                actor=current_actor(),
                expected_version=int_or_none(form.version.data),
            ),
        )
        if done is not None:
            flash(_("已保存场所：{name}。").format(name=done.name), "success")
            return redirect(url_for("shelters.site_detail", shelter_id=shelter_id))
    return _site_form(form, town_list, shelter), status


# ---------------------------------------------------------------- inspections and defects


@bp.route("/sites/<int:shelter_id>/inspections/new", methods=["GET", "POST"])
@permission("shelters.write")
def inspection_new(shelter_id: int):
    """Record an inspection: checklist, defects found, supplies and subsidy."""
    shelter = _shelter(shelter_id)
    actor = current_actor()
    form = InspectionForm()
    if request.method == "GET":
        form.inspected_on.data = date.today().isoformat()
        form.inspector.data = getattr(actor, "display_name", "")
        form.request_key.data = secrets.token_urlsafe(16)
    if form.validate_on_submit():
        defects = []
        for n in range(DEFECT_ROWS):
            text = (request.form.get(f"defect-{n}") or "").strip()
            if text:
                defects.append(
                    inspections.DefectInput(
                        text,
                        bool(request.form.get(f"fixed-{n}")),
                        date_or_none(request.form.get(f"due-{n}")),
                    )
                )
        try:
            inspections.record_inspection(
                db.session,
                shelter,
                inspected_on=date_or_none(form.inspected_on.data),
                inspector=form.inspector.data or "",
                checklist={k: request.form.get(f"check-{k}") for k in CHECKLIST},
                defects=defects,
                replenished_qty=pi.number_or_text((form.replenished_qty.data or "").strip() or 0),
                rotated_qty=pi.number_or_text((form.rotated_qty.data or "").strip() or 0),
                subsidy=(form.subsidy.data or "").strip() or 0,
                note=form.note.data or "",
                request_key=form.request_key.data or None,
                actor=actor,
            )
        except inspections.AlreadyRecorded as err:
            db.session.rollback()
            flash(err.message, "warning")
            return redirect(url_for("shelters.site_detail", shelter_id=shelter_id))
        except inspections.InspectionRefused as err:
            db.session.rollback()
            for field, message in err.problems:
                form_error(form, DomainError(message, field=field), "note")
        except DomainError as err:
            db.session.rollback()
            form_error(form, err, "note")
        else:
            db.session.commit()
            open_count = sum(1 for d in defects if not d.is_resolved)  # not reported fixed
            if open_count:
                flash(
                    _("已登记检查，{n} 个问题待整改。").format(n=open_count),
                    "warning",
                )
            else:
                flash(_("已登记检查。"), "success")
            return redirect(url_for("shelters.site_detail", shelter_id=shelter_id))
    return render_template(
        "shelters/inspection_form.html",
        form=form,
        shelter=shelter,
        checklist=CHECKLIST,
        results=CHECK_RESULTS,
        values=request.form,
        rows=range(DEFECT_ROWS),
        today=date.today(),
        registered_on=inspections.registration_date(shelter, date.today()),
    )


@bp.route("/defects/<int:defect_id>/resolve", methods=["POST"])
@permission("shelters.write")
def defect_resolve(defect_id: int):
    """Mark a defect as repaired, saying what was done."""
    defect = db.session.get(Defect, defect_id)
    if defect is None:
        abort(404)
    shelter = _shelter(defect.shelter_id)
    confirmed_action(
        lambda _version: inspections.resolve_defect(
            db.session,
            defect,
            resolution=request.form.get("resolution", ""),
            resolved_on=date_or_none(request.form.get("resolved_on")),
            actor=current_actor(),
        ),
        lambda _d: _("已标记为已整改。"),
    )
    return redirect(url_for("shelters.site_detail", shelter_id=shelter.id) + "#defects")


# ---------------------------------------------------------------- acceptance


def _uploads() -> list[acceptance.Upload]:
    """The acceptance documents chosen on the form (one byte past the limit is read)."""
    limit = int(current_app.config["ATTACHMENT_MAX_BYTES"]) + 1
    return [
        acceptance.Upload(f.filename or "", f.stream.read(limit))
        for f in request.files.getlist("files")
        if f.filename
    ]


def _posted_date(form, name: str) -> date | None:
    raw = (getattr(form, name).data or "").strip()
    value = date_or_none(raw)
    if raw and value is None:
        raise DomainError(_("验收日期必须是 YYYY-MM-DD 格式的日期。"), field=name)
    return value


def _back_to_acceptance(shelter_id: int):
    return redirect(url_for("shelters.site_detail", shelter_id=shelter_id, _anchor="acceptance"))


@bp.route("/sites/<int:shelter_id>/acceptance", methods=["POST"])
@permission("shelters.accept")
def acceptance_record(shelter_id: int):
    """Command staff accept the site as standardized: date, opinion and documents."""
    shelter = _shelter(shelter_id)
    form = AcceptanceForm()
    if form.validate_on_submit():
        try:
            acceptance.accept_shelter(
                db.session,
                shelter,
                accepted_on=_posted_date(form, "accepted_on"),
                note=form.note.data or "",
                documents=_uploads(),
                storage_dir=storage_dir(),
                max_bytes=int(current_app.config["ATTACHMENT_MAX_BYTES"]),
                actor=current_actor(),
            )
        except DomainError as err:
            db.session.rollback()
            form_error(form, err)
        else:
            db.session.commit()
            flash(_("已验收：{name} 计为规范化场所。").format(name=shelter.name), "success")
            return _back_to_acceptance(shelter_id)
    return _detail_page(shelter, accept_form=form)


@bp.route("/sites/<int:shelter_id>/acceptance/request", methods=["POST"])
@permission("shelters.write")
def acceptance_request(shelter_id: int):
    """The town asks command staff to accept its site."""
    shelter = _shelter(shelter_id)
    form = AcceptanceRequestForm()
    if form.validate_on_submit():
        try:
            acceptance.request_acceptance(
                db.session, shelter, note=form.note.data or "", actor=current_actor()
            )
        except DomainError as err:
            db.session.rollback()
            form_error(form, err)
        else:
            db.session.commit()
            flash(_("已申请验收，等待指挥人员验收。"), "success")
            return _back_to_acceptance(shelter_id)
    return _detail_page(shelter, request_form=form)


@bp.route("/sites/<int:shelter_id>/acceptance/withdraw", methods=["POST"])
@permission("shelters.accept")
def acceptance_withdraw(shelter_id: int):
    """Command staff withdraw the site's acceptance, saying why."""
    shelter = _shelter(shelter_id)
    form = WithdrawAcceptanceForm()
    if form.validate_on_submit():
        try:
            acceptance.withdraw_acceptance(
                db.session, shelter, reason=form.reason.data or "", actor=current_actor()
            )
        except DomainError as err:
            db.session.rollback()
            form_error(form, err)
        else:
            db.session.commit()
            flash(_("已撤销验收：{name} 不再计为规范化场所。").format(name=shelter.name), "success")
            return _back_to_acceptance(shelter_id)
    return _detail_page(shelter, withdraw_form=form)


@bp.route("/sites/<int:shelter_id>/documents/<int:attachment_id>")
@permission("shelters.view")
def document_download(shelter_id: int, attachment_id: int):
    """An acceptance document, to whoever may see the site."""
    shelter = _shelter(shelter_id)
    document = db.session.get(AcceptanceDocument, attachment_id)
    if document is None or document.acceptance.shelter_id != shelter.id:
        abort(404)
    return send_document(document)


# ---------------------------------------------------------------- towns and villages


# The towns list: searched by name or code, sorted by any figure. Its figures are computed
# per town (a few dozen at most), so it is searched and sorted in Python: the orders here
# only name the columns.
TOWN_LIST = lists.ListSpec(
    search=(Unit.name, Unit.code),
    columns=(
        lists.Column("code", (Unit.code,)),
        lists.Column("name", (Unit.name,)),
        lists.Column("villages", ()),
        lists.Column("population", ()),
        lists.Column("to_relocate", ()),
        lists.Column("sites", ()),
        lists.Column("covered", ()),
    ),
    tiebreak=Unit.code,
)


@bp.route("/towns")
@permission("shelters.view")
def towns():
    """Towns in reach: villages, people, people to relocate, sites and villages covered;
    searched and sorted as the URL says."""
    scope = _scope()
    shown = lists.shown(TOWN_LIST)
    town_list = places.towns(db.session, scope)
    if shown.q:
        q = shown.q.casefold()
        town_list = [t for t in town_list if q in t.name.casefold() or q in t.code.casefold()]
    ids = [t.id for t in town_list]
    target = coverage.parse_target(None, current_app.config["SHELTER_COVERAGE_TARGET"])
    report = coverage.coverage(db.session, target, unit_ids=scope)
    covered = {row.town_id: row for row in report.towns}
    people = dict(
        db.session.execute(
            select(Village.town_id, func.coalesce(func.sum(Village.population), 0))
            .where(Village.town_id.in_(ids))
            .group_by(Village.town_id)
        ).all()
    )
    counts = {
        town_id: (villages, relocate)
        for town_id, villages, relocate in db.session.execute(
            select(Village.town_id, func.count(), func.coalesce(func.sum(Village.to_relocate), 0))
            .where(Village.town_id.in_(ids))
            .group_by(Village.town_id)
        )
    }
    site_counts = dict(
        db.session.execute(
            select(Shelter.town_id, func.count())
            .where(Shelter.town_id.in_(ids), Shelter.status != "closed")
            .group_by(Shelter.town_id)
        ).all()
    )
    rows = [
        {
            "town": t,
            "code": t.code,
            "name": t.name,
            "villages": counts.get(t.id, (0, 0))[0],
            "population": people.get(t.id, 0),
            "to_relocate": counts.get(t.id, (0, 0))[1],
            "sites": site_counts.get(t.id, 0),
            "covered": covered[t.id].covered if t.id in covered else 0,
        }
        for t in town_list
    ]
    rows.sort(key=lambda r: r["code"], reverse=shown.desc)
    rows.sort(key=lambda r: r[shown.sort], reverse=shown.desc)
    return render_template(
        "shelters/towns.html",
        rows=rows,
        shown=shown,
        may_import=can(db.session, current_actor(), "places.manage"),
    )


@bp.route("/towns/<code>")
@permission("shelters.view")
def town_detail(code: str):
    """A town's villages: people, people to relocate, the sites serving each, covered or not."""
    town = _town(code)
    villages = places.villages_of(db.session, town)
    return render_template(
        "shelters/town_detail.html",
        town=town,
        villages=villages,
        kinds=VILLAGE_KINDS,
        may_manage=can(db.session, current_actor(), "places.manage"),
        may_write=can(db.session, current_actor(), "shelters.write", town),
    )


# The villages list: searched by name, filtered by town and coverage, sorted (issue 22).
VILLAGE_COVERED = case((places.village_is_covered(), 1), else_=0)
VILLAGE_LIST = lists.ListSpec(
    search=(Village.name,),
    columns=(
        lists.Column("town", (Unit.code, Village.name)),
        lists.Column("name", (Village.name,)),
        lists.Column("population", (Village.population,)),
        lists.Column("to_relocate", (Village.to_relocate,)),
        lists.Column("covered", (VILLAGE_COVERED,)),
    ),
    tiebreak=Village.id,
)
COVERED_STATES = {"yes": True, "no": False}


@bp.route("/villages")
@permission("shelters.view")
def villages():
    """The villages of the towns in reach: people, people to relocate, the sites serving
    each and whether it is covered; searched, filtered and sorted as the URL says, and
    downloadable as shown."""
    shown = lists.shown(VILLAGE_LIST)
    town_list = places.towns(db.session, _scope())
    stmt = places.villages_query([t.id for t in town_list])
    town = lists.unit_filter(town_list, "town")
    if town is not None:
        stmt = stmt.where(Village.town_id == town.id)
    raw_covered = request.args.get("covered", "")
    if raw_covered in COVERED_STATES:
        covered_filter = places.village_is_covered()
        stmt = stmt.where(covered_filter if COVERED_STATES[raw_covered] else ~covered_filter)
    elif raw_covered:
        flash(_("未知的覆盖情况：{value}。").format(value=raw_covered[:32]), "error")
    stmt = lists.apply(stmt, VILLAGE_LIST, shown)
    fmt = request.args.get("format", "html")
    if fmt in FILE_FORMATS:
        rows = db.session.scalars(stmt).all()
        return _villages_download(fmt, rows, places.covered_ids(db.session, [v.id for v in rows]))
    listing = paginate(stmt)
    listing.args.pop("format", None)
    return render_template(
        "shelters/villages.html",
        listing=listing,
        shown=shown,
        villages=listing.rows,
        covered=places.covered_ids(db.session, [v.id for v in listing.rows]),
        towns=town_list,
    )


def _villages_download(fmt: str, rows, covered: set[int]):
    """The villages as shown, one row each, as CSV or XLSX."""
    header = [
        _("村/社区"),
        _("镇/街道"),
        _("类型"),
        _("人口"),
        _("需转移人口"),
        _("服务场所"),
        _("覆盖"),
    ]
    return table_response(
        fmt,
        "villages",
        header,
        (
            [
                v.name,
                v.town.name,
                v.kind_label,
                v.population,
                v.to_relocate,
                _("、").join(s.name for s in v.shelters),
                _("已覆盖") if v.id in covered else _("未覆盖"),
            ]
            for v in rows
        ),
    )


@bp.route("/villages/<int:village_id>", methods=["POST"])
@permission("places.manage")
def village_edit(village_id: int):
    """Correct a village's name, kind or population figures."""
    village = db.session.get(Village, village_id)
    if village is None:
        abort(404)
    town = _town(village.town.code)
    confirmed_action(
        lambda _version: places.update_village(
            db.session,
            village,
            name=request.form.get("name", ""),
            kind=request.form.get("kind", ""),
            population=pi.number_or_text(request.form.get("population") or ""),
            to_relocate=pi.number_or_text(request.form.get("to_relocate") or ""),
            actor=current_actor(),
        ),
        lambda v: _("已保存 {name}。").format(name=v.name),
    )
    return redirect(url_for("shelters.town_detail", code=town.code))


# ---------------------------------------------------------------- importing villages


@bp.route("/import", methods=["GET", "POST"])
@permission("places.manage")
def places_import():
    """Upload a town/village list; see every row checked against the database before saving."""
    form = ImportForm()
    preview = None
    confirm = None
    if form.validate_on_submit():
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            form.file.errors = [*form.file.errors, _("请选择要导入的文件。")]
        else:
            preview = pi.compare(db.session, pi.parse(upload.filename, upload.read()))
            if not preview.errors:
                confirm = ImportConfirmForm(
                    formdata=None,
                    rows=json.dumps(preview.records(), ensure_ascii=False, separators=(",", ":")),
                )
    return render_template(
        "shelters/import.html",
        form=form,
        preview=preview,
        confirm=confirm,
        kinds=VILLAGE_KINDS,
        max_rows=pi.MAX_ROWS,
    )


@bp.route("/import/confirm", methods=["POST"])
@permission("places.manage")
def places_import_confirm():
    """Save the previewed villages, all towns in one transaction, after checking them again."""
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        flash(_("表单已过期，请重新上传文件。"), "error")
        return redirect(url_for("shelters.places_import"))
    try:
        records = json.loads(form.rows.data or "")
    except (ValueError, RecursionError):
        records = None
    preview = pi.compare(db.session, pi.from_records(records))
    if preview.errors:
        for message in preview.errors[:10]:
            flash(message, "error")
        flash(_("未导入任何数据。"), "error")
        return redirect(url_for("shelters.places_import"))
    try:
        saved = pi.apply(db.session, preview, actor=current_actor())
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        flash(_("未导入任何数据。"), "error")
        return redirect(url_for("shelters.places_import"))
    db.session.commit()
    for result in saved:
        flash(
            _("{town}：新增 {added} 个、更新 {changed} 个村/社区{new}。").format(
                town=result.town.name,
                added=result.added,
                changed=result.changed,
                new=_("（新建镇/街道）") if result.is_new else "",
            ),
            "success",
        )
    return redirect(url_for("shelters.towns"))


@bp.route("/import/template.csv")
@permission("places.manage")
def places_import_template():
    """A sample village list to fill in."""
    return Response(
        pi.template_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=villages-template.csv"},
    )
