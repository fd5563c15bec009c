"""JSON API for towns and villages, shelter sites, inspections and coverage."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from readiness import openapi
from readiness import services as core
from readiness.api import BadRequest, date_field, field, json_body, report_format, unit_field
from readiness.auth import current_actor, permission
from readiness.errors import DomainError, NotFound
from readiness.extensions import csrf, db
from readiness.models import Unit
from readiness.permissions import in_scope
from shelters import coverage, inspections, places, sites
from shelters.models import (
    CHECK_RESULTS,
    CHECKLIST,
    LEVELS,
    STATUSES,
    STRUCTURES,
    Defect,
    Inspection,
    Shelter,
    Village,
)
from shelters.reports import coverage_download

bp = Blueprint("shelters_api", __name__, url_prefix="/api/v1")

NUMBER = (int, float, str)


# ---------------------------------------------------------------- shapes


def village_json(v: Village) -> dict:
    return {
        "id": v.id,
        "name": v.name,
        "kind": v.kind,
        "population": v.population,
        "to_relocate": v.to_relocate,
    }


def town_json(town: Unit, villages: list[Village]) -> dict:
    return {
        "code": town.code,
        "name": town.name,
        "parent": town.parent.code if town.parent else None,
        "is_active": town.is_active,
        "villages": [
            {**village_json(v), "shelters": sorted(s.id for s in v.shelters)} for v in villages
        ],
    }


def _num(value) -> str | None:
    return None if value is None else str(value)


def shelter_json(s: Shelter) -> dict:
    return {
        "id": s.id,
        "name": s.name,
        "town": s.town.code,
        "town_name": s.town.name,
        "unit": s.unit.code if s.unit else None,
        "level": s.level,
        "capacity": s.capacity,
        "area_m2": _num(s.area_m2),
        "area_capacity": sites.area_capacity(s.area_m2),
        "address": s.address,
        "latitude": _num(s.latitude),
        "longitude": _num(s.longitude),
        "structure": s.structure,
        "is_accessible": s.is_accessible,
        "has_generator": s.has_generator,
        "is_in_floodplain": s.is_in_floodplain,
        "is_standardized": s.is_standardized,
        "standardized_on": s.standardized_on.isoformat() if s.standardized_on else None,
        "status": s.status,
        "counts_for_coverage": s.counts_for_coverage,
        "manager_name": s.manager_name,
        "manager_phone": s.manager_phone,
        "contacts": s.contacts,
        "note": s.note,
        "villages": [v.name for v in s.villages],
        "version": s.version,
    }


def state_json(state: sites.SiteState) -> dict:
    return {
        "last_inspected_on": state.last_inspected_on.isoformat()
        if state.last_inspected_on
        else None,
        "open_defects": state.open_defects,
        "needs_attention": state.needs_attention,
        "is_overdue": state.is_overdue,
        "failed_items": list(state.failed_items),
    }


def defect_json(d: Defect) -> dict:
    return {
        "id": d.id,
        "text": d.text,
        "is_resolved": d.is_resolved,
        "resolved_on": d.resolved_on.isoformat() if d.resolved_on else None,
        "resolution": d.resolution,
    }


def inspection_json(i: Inspection) -> dict:
    return {
        "id": i.id,
        "shelter": i.shelter_id,
        "inspected_on": i.inspected_on.isoformat(),
        "inspector": i.inspector,
        "checklist": dict(i.checklist),
        "failed_items": i.failed_items,
        "replenished_qty": i.replenished_qty,
        "rotated_qty": i.rotated_qty,
        "subsidy": str(i.subsidy),
        "note": i.note,
        "defects": [defect_json(d) for d in i.defects],
    }


def _states(shelters: list[Shelter]) -> dict[int, sites.SiteState]:
    return sites.site_states(
        db.session,
        shelters,
        today=date.today(),
        interval_days=current_app.config["SHELTER_INSPECTION_DAYS"],
    )


def _detail(s: Shelter) -> dict:
    """A site with its state, warnings and inspections (state keys also at the top level)."""
    state = state_json(_states([s])[s.id])
    return {
        **shelter_json(s),
        **state,
        "state": state,
        "warnings": sites.shelter_warnings(s),
        "inspections": [inspection_json(i) for i in s.inspections],
    }


# ---------------------------------------------------------------- lookups


def _reach() -> set[int] | None:
    return core.visible_unit_ids(db.session, current_actor())


def _visible_town(code: str) -> Unit:
    """A town the caller may see; one out of reach is not found, like one that does not exist."""
    town = places.get_town(db.session, code)
    reach = _reach()
    if reach is not None and town.id not in reach:
        raise NotFound(_("镇/街道代码 {code} 不存在。").format(code=code[:32]), field="town")
    return town


def _town_field(code) -> Unit:
    """The town named in a body; an unknown one is invalid input (the service checks reach)."""
    if not isinstance(code, str) or not code:
        raise DomainError(_("缺少字段 {name}。").format(name="town"), field="town")
    try:
        return places.get_town(db.session, code)
    except NotFound as err:
        raise DomainError(err.message, field="town") from None


def _shelter(shelter_id: int) -> Shelter:
    return sites.get_shelter(db.session, shelter_id, current_actor())


# ---------------------------------------------------------------- towns and villages


def _village_input(n: int, raw) -> places.VillageInput:
    if not isinstance(raw, dict):
        raise DomainError(_("第 {n} 个村/社区格式不正确。").format(n=n), field="villages")
    return places.VillageInput(
        name=raw.get("name"),
        population=raw.get("population"),
        to_relocate=raw.get("to_relocate", 0),
        kind=field(raw, "kind", str, required=False, default="village"),
    )


@bp.route("/towns", methods=["POST"])
@permission("places.manage")
def save_town():
    """Create a town with its villages, or add and update villages of an existing town."""
    data = json_body()
    villages = [
        _village_input(n, raw)
        for n, raw in enumerate(field(data, "villages", list, required=False, default=[]), 1)
    ]
    parent_code = field(data, "parent", str, required=False, default=None)
    result = places.save_town(
        db.session,
        code=field(data, "code", str),
        name=field(data, "name", str, required=False, default=""),
        villages=villages,
        parent=unit_field(parent_code, "parent") if parent_code else None,
        actor=current_actor(),
    )
    db.session.commit()
    town = result.town
    body = {
        "code": town.code,
        "name": town.name,
        "villages": [village_json(v) for v in places.villages_of(db.session, town)],
        "added": result.added,
        "changed": result.changed,
    }
    return jsonify(body), 201 if result.is_new else 200


@bp.route("/towns", methods=["GET"])
@permission("shelters.view")
def list_towns():
    """Towns in reach, with how many villages and people each has."""
    rows = places.towns(db.session, _reach())
    figures = {
        town_id: (n, population or 0, relocate or 0)
        for town_id, n, population, relocate in db.session.execute(
            select(
                Village.town_id,
                func.count(),
                func.sum(Village.population),
                func.sum(Village.to_relocate),
            )
            .where(Village.town_id.in_([t.id for t in rows]))
            .group_by(Village.town_id)
        )
    }
    return jsonify(
        {
            "towns": [
                {
                    "code": t.code,
                    "name": t.name,
                    "parent": t.parent.code if t.parent else None,
                    "is_active": t.is_active,
                    "villages": figures.get(t.id, (0, 0, 0))[0],
                    "population": int(figures.get(t.id, (0, 0, 0))[1]),
                    "to_relocate": int(figures.get(t.id, (0, 0, 0))[2]),
                }
                for t in rows
            ]
        }
    )


@bp.route("/towns/<code>", methods=["GET"])
@permission("shelters.view")
def get_town(code: str):
    """One town with its villages and the sites serving each."""
    town = _visible_town(code)
    return jsonify(town_json(town, places.villages_of(db.session, town)))


# ---------------------------------------------------------------- shelter sites


def _shelter_input(data: dict) -> sites.ShelterInput:
    text = lambda name: field(data, name, str, required=False, default="")  # noqa: E731
    flag = lambda name: field(data, name, bool, required=False, default=False)  # noqa: E731
    return sites.ShelterInput(
        name=field(data, "name", str),
        town=_town_field(data.get("town")),
        level=field(data, "level", str, required=False, default="village"),
        capacity=field(data, "capacity", NUMBER, required=False, default=0),
        area_m2=field(data, "area_m2", NUMBER, required=False, default=None),
        address=text("address"),
        latitude=field(data, "latitude", NUMBER, required=False, default=None),
        longitude=field(data, "longitude", NUMBER, required=False, default=None),
        structure=field(data, "structure", str, required=False, default="frame"),
        is_accessible=flag("is_accessible"),
        has_generator=flag("has_generator"),
        is_in_floodplain=flag("is_in_floodplain"),
        is_standardized=flag("is_standardized"),
        standardized_on=date_field(data.get("standardized_on"), "standardized_on"),
        status=field(data, "status", str, required=False, default="active"),
        manager_name=text("manager_name"),
        manager_phone=text("manager_phone"),
        contacts=text("contacts"),
        note=text("note"),
        villages=field(data, "villages", list, required=False, default=[]),
    )


@bp.route("/shelters", methods=["POST"])
@permission("shelters.write")
def create_shelter():
    """Register a shelter site in a town, with the villages it serves."""
    data = json_body()
    shelter = sites.create_shelter(db.session, _shelter_input(data), actor=current_actor())
    db.session.commit()
    return jsonify({**shelter_json(shelter), "warnings": sites.shelter_warnings(shelter)}), 201


@bp.route("/shelters", methods=["GET"])
@permission("shelters.view")
def list_shelters():
    """Sites in reach, filtered by ?town=CODE, ?status=, ?standardized=1|0."""
    town = _visible_town(request.args["town"]) if request.args.get("town") else None
    status = request.args.get("status") or None
    if status and status not in STATUSES:
        raise BadRequest(_("未知的场所状态。"), field="status")
    raw_std = request.args.get("standardized", "")
    if raw_std not in ("", "0", "1"):
        raise BadRequest(_("standardized 只能是 1 或 0。"), field="standardized")
    rows = list(
        db.session.scalars(
            sites.shelters_query(
                unit_ids=_reach(),
                town=town,
                status=status,
                is_standardized=None if raw_std == "" else raw_std == "1",
            )
        )
    )
    states = _states(rows)
    return jsonify({"shelters": [{**shelter_json(s), **state_json(states[s.id])} for s in rows]})


@bp.route("/shelters/<int:shelter_id>", methods=["GET"])
@permission("shelters.view")
def get_shelter(shelter_id: int):
    """One site: its facts, villages, state, warnings and inspections with their defects."""
    return jsonify(_detail(_shelter(shelter_id)))


@bp.route("/shelters/<int:shelter_id>", methods=["PUT"])
@permission("shelters.write")
def put_shelter(shelter_id: int):
    """Replace a site's facts, status and villages served (optional "version" guards edits)."""
    data = json_body()
    shelter = _shelter(shelter_id)
    sites.update_shelter(
        db.session,
        shelter,
        _shelter_input(data),
        actor=current_actor(),
        expected_version=field(data, "version", int, required=False, default=None),
    )
    db.session.commit()
    return jsonify(_detail(shelter))


# ---------------------------------------------------------------- inspections and defects


def _defect_input(n: int, raw) -> inspections.DefectInput:
    if not isinstance(raw, dict):
        raise DomainError(_("第 {n} 个问题格式不正确。").format(n=n), field="defects")
    resolved = raw.get("resolved", raw.get("is_resolved", False))
    return inspections.DefectInput(text=raw.get("text"), is_resolved=resolved)


@bp.route("/shelters/<int:shelter_id>/inspections", methods=["POST"])
@permission("shelters.write")
def record_inspection(shelter_id: int):
    """Record an inspection; open defects mark the site as needing attention."""
    data = json_body()
    shelter = _shelter(shelter_id)
    defects = [
        _defect_input(n, raw)
        for n, raw in enumerate(field(data, "defects", list, required=False, default=[]), 1)
    ]
    inspection = inspections.record_inspection(
        db.session,
        shelter,
        inspected_on=date_field(field(data, "inspected_on", str), "inspected_on"),
        inspector=field(data, "inspector", str, required=False, default=""),
        checklist=field(data, "checklist", dict, required=False, default={}),
        defects=defects,
        replenished_qty=field(data, "replenished_qty", NUMBER, required=False, default=0),
        rotated_qty=field(data, "rotated_qty", NUMBER, required=False, default=0),
        subsidy=field(data, "subsidy", NUMBER, required=False, default=0),
        note=field(data, "note", str, required=False, default=""),
        request_key=field(data, "request_key", str, required=False, default=None),
        actor=current_actor(),
    )
    db.session.commit()
    state = state_json(_states([shelter])[shelter.id])
    return jsonify({**inspection_json(inspection), "state": state}), 201


@bp.route("/defects/<int:defect_id>/resolve", methods=["POST"])
@permission("shelters.write")
def resolve_defect(defect_id: int):
    """Mark a defect as repaired, saying what was done."""
    data = json_body()
    defect = db.session.get(Defect, defect_id)
    reach = _reach()
    if defect is None or (reach is not None and defect.shelter.town_id not in reach):
        raise NotFound(_("问题第 {id} 号不存在。").format(id=defect_id))
    inspections.resolve_defect(
        db.session,
        defect,
        resolution=field(data, "resolution", str, required=False, default=""),
        resolved_on=date_field(data.get("resolved_on"), "resolved_on"),
        actor=current_actor(),
    )
    db.session.commit()
    state = state_json(_states([defect.shelter])[defect.shelter_id])
    return jsonify({**defect_json(defect), "shelter": defect.shelter_id, "state": state})


# ---------------------------------------------------------------- coverage


def coverage_json(report: coverage.CoverageReport) -> dict:
    towns = {t.town_id: t.town for t in report.towns}
    return {
        "target": float(report.target),
        "overall": {
            "villages": report.villages,
            "covered": report.covered,
            "covered_with_capacity": report.covered_with_capacity,
            "coverage": report.coverage,
            "capacity_coverage": report.capacity_coverage,
            "needed": report.needed,
            "capacity": report.capacity,
            "to_relocate": report.to_relocate,
        },
        "towns": [
            {
                "town": t.town.code,
                "name": t.town.name,
                "villages": t.villages,
                "covered": t.covered,
                "covered_with_capacity": t.covered_with_capacity,
                "coverage": t.coverage,
                "capacity_coverage": t.capacity_coverage,
                "capacity": t.capacity,
                "to_relocate": t.to_relocate,
                "uncovered": list(t.uncovered),
                "needed": t.needed,
                "meets_target": t.meets_target,
            }
            for t in report.towns
        ],
        "candidates": [
            {
                "shelter": c.shelter_id,
                "name": c.name,
                "town": towns[c.town_id].code,
                "would_cover": c.would_cover,
            }
            for c in report.candidates
        ],
    }


def report_target():
    """?target= as a fraction (0.6, 60 or 60%), or a 400 naming the field."""
    try:
        return coverage.parse_target(
            request.args.get("target"), current_app.config["SHELTER_COVERAGE_TARGET"]
        )
    except DomainError as err:
        raise BadRequest(err.message, field="target") from None


@bp.route("/reports/shelter-coverage", methods=["GET"])
@permission("shelters.view")
def shelter_coverage():
    """Villages covered by active standardized sites, per town and overall, against the
    target (?target=0.6, ?unit=CODE, ?format=csv|xlsx|pdf)."""
    fmt = report_format()
    target = report_target()
    unit_code = request.args.get("unit") or None
    scope = coverage.scope_for(db.session, current_actor(), unit_code)
    report = coverage.coverage(db.session, target, unit_ids=scope)
    if fmt != "json":
        # A unit outside the caller's reach narrows nothing they may see: the file is then
        # the caller's own report, and says so, rather than carrying the other unit's name.
        unit = core.get_unit(db.session, unit_code) if unit_code else None
        label = unit.name if unit and in_scope(db.session, current_actor(), unit) else None
        return coverage_download(fmt, report, scope_label=label)
    return jsonify(coverage_json(report))


# ---------------------------------------------------------------- OpenAPI


def _openapi() -> dict:
    from readiness.openapi import error_responses, json_content

    obj = {"type": "object"}
    ok = {"description": "OK", "content": json_content(obj)}
    created = {"description": "Created", "content": json_content(obj)}
    string = {"type": "string"}
    date_ = {"type": "string", "format": "date"}
    number = {"type": ["number", "string"]}
    boolean = {"type": "boolean"}

    def path_id(name):
        return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}

    def q(name, schema=None):
        return {"name": name, "in": "query", "required": False, "schema": schema or string}

    def body(schema):
        return {"required": True, "content": json_content(schema)}

    village = {
        "type": "object",
        "required": ["name", "population"],
        "properties": {
            "name": {"type": "string", "maxLength": places.VILLAGE_NAME_MAX},
            "kind": {"type": "string", "enum": ["village", "community"]},
            "population": {"type": "integer", "minimum": 0},
            "to_relocate": {"type": "integer", "minimum": 0},
        },
    }
    town_body = {
        "type": "object",
        "required": ["code", "name"],
        "properties": {
            "code": string,
            "name": string,
            "parent": string,
            "villages": {"type": "array", "items": village},
        },
    }
    shelter_body = {
        "type": "object",
        "required": ["name", "town"],
        "properties": {
            "name": {"type": "string", "maxLength": sites.NAME_MAX},
            "town": string,
            "level": {"type": "string", "enum": list(LEVELS)},
            "capacity": {"type": "integer", "minimum": 0},
            "area_m2": number,
            "is_standardized": boolean,
            "standardized_on": date_,
            "status": {"type": "string", "enum": list(STATUSES)},
            "villages": {"type": "array", "items": string},
            "address": string,
            "latitude": number,
            "longitude": number,
            "structure": {"type": "string", "enum": list(STRUCTURES)},
            "is_accessible": boolean,
            "has_generator": boolean,
            "is_in_floodplain": boolean,
            "manager_name": string,
            "manager_phone": string,
            "contacts": string,
            "note": string,
            "version": {"type": "integer", "description": "PUT only: refuse if changed since"},
        },
    }
    inspection_body = {
        "type": "object",
        "required": ["inspected_on"],
        "properties": {
            "inspected_on": date_,
            "inspector": string,
            "checklist": {
                "type": "object",
                "properties": {
                    k: {"type": "string", "enum": list(CHECK_RESULTS)} for k in CHECKLIST
                },
            },
            "defects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": string, "resolved": boolean},
                },
            },
            "replenished_qty": {"type": "integer", "minimum": 0},
            "rotated_qty": {"type": "integer", "minimum": 0},
            "subsidy": number,
            "note": string,
            "request_key": string,
        },
    }
    shelter_id = path_id("shelter_id")
    return {
        "/towns": {
            "post": {
                "summary": "Create a town with villages, or add/update villages by name",
                "requestBody": body(town_body),
                "responses": {
                    "200": {"description": "Existing town updated", "content": json_content(obj)},
                    "201": created,
                    **error_responses(400, 401, 403, 409, 422),
                },
            },
            "get": {
                "summary": "Towns in reach with village counts",
                "responses": {"200": ok, **error_responses(401, 403)},
            },
        },
        "/towns/{code}": {
            "get": {
                "summary": "One town with its villages",
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": string}],
                "responses": {"200": ok, **error_responses(401, 403, 404)},
            }
        },
        "/shelters": {
            "post": {
                "summary": "Register a shelter site",
                "requestBody": body(shelter_body),
                "responses": {"201": created, **error_responses(400, 401, 403, 409, 422)},
            },
            "get": {
                "summary": "Shelter sites in reach",
                "parameters": [
                    q("town"),
                    q("status", {"type": "string", "enum": list(STATUSES)}),
                    q("standardized", {"type": "string", "enum": ["0", "1"]}),
                ],
                "responses": {"200": ok, **error_responses(400, 401, 403, 404)},
            },
        },
        "/shelters/{shelter_id}": {
            "get": {
                "summary": "One site with state, warnings and inspections",
                "parameters": [shelter_id],
                "responses": {"200": ok, **error_responses(401, 403, 404)},
            },
            "put": {
                "summary": "Replace a site's facts (same body as POST)",
                "parameters": [shelter_id],
                "requestBody": body(shelter_body),
                "responses": {"200": ok, **error_responses(400, 401, 403, 404, 409, 422)},
            },
        },
        "/shelters/{shelter_id}/inspections": {
            "post": {
                "summary": "Record an inspection of a site",
                "parameters": [shelter_id],
                "requestBody": body(inspection_body),
                "responses": {"201": created, **error_responses(400, 401, 403, 404, 409, 422)},
            }
        },
        "/defects/{defect_id}/resolve": {
            "post": {
                "summary": "Mark a defect as repaired",
                "parameters": [path_id("defect_id")],
                "requestBody": body(
                    {
                        "type": "object",
                        "required": ["resolution"],
                        "properties": {"resolution": string, "resolved_on": date_},
                    }
                ),
                "responses": {"200": ok, **error_responses(400, 401, 403, 404, 409, 422)},
            }
        },
        "/reports/shelter-coverage": {
            "get": {
                "summary": "Village coverage by standardized shelter sites against a target",
                "parameters": [
                    q("target", {"type": "number", "example": 0.6}),
                    q("unit"),
                    q("format", {"type": "string", "enum": ["json", "csv", "xlsx", "pdf"]}),
                ],
                "responses": {"200": ok, **error_responses(400, 401, 403, 404)},
            }
        },
    }


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
    openapi.add_paths(_openapi())
