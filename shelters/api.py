"""JSON API for towns and villages, shelter sites, inspections and coverage.

Each shape is declared once below as a model: the bodies (as loose as the checks they
replace: the rules stay in ``shelters.places``, ``shelters.sites`` and
``shelters.inspections``), the query parameters and the answers."""

from __future__ import annotations

from copy import copy
from datetime import date
from decimal import Decimal
from functools import wraps
from typing import Annotated, Any, Literal, TypeVar

from flask import Blueprint, Flask, current_app, request
from flask_babel import gettext as _
from pydantic import (
    AliasPath,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    computed_field,
    create_model,
)
from sqlalchemy import func, select

from readiness import paging
from readiness import services as core
from readiness.api import (
    REPORT_FILES,
    BadRequest,
    ReportFormat,
    date_field,
    field,
    json_body,
    operation,
    unit_field,
)
from readiness.auth import current_actor, permission
from readiness.config import storage_dir
from readiness.errors import DomainError, NotFound
from readiness.extensions import csrf, db
from readiness.models import Unit
from readiness.openapi import (
    Answer,
    Body,
    Code,
    DateText,
    DecimalText,
    Described,
    IsoDate,
    Number,
    OptionalCode,
    OptionalDateText,
    OptionalIsoDate,
    OptionalIsoDateTime,
    Query,
    Rows,
)
from readiness.paging import Paged, PagedAnswer
from readiness.permissions import in_scope
from readiness.text import first_unsafe, unsafe_message
from shelters import acceptance, coverage, inspections, places, sites
from shelters.documents import send_document
from shelters.models import (
    ACCEPTANCE_STATUSES,
    CHECK_RESULTS,
    CHECKLIST,
    LEVELS,
    STATUSES,
    STRUCTURES,
    VILLAGE_KINDS,
    AcceptanceDocument,
    Defect,
    Shelter,
    Village,
)
from shelters.reports import coverage_download

bp = Blueprint("shelters_api", __name__, url_prefix="/api/v1")

# ---------------------------------------------------------------- field types


def Defaulted(kind: Any, default: Any) -> Any:
    """An optional body field as ``readiness.api.field`` read it: absent or null is
    ``default``; any other value must be of ``kind``."""
    return Annotated[kind, BeforeValidator(lambda value: copy(default) if value is None else value)]


# A number in a body: a JSON number or its text ("650.5"); never a boolean.
Amount = int | float | str


def QueryText(**schema: Any) -> Any:
    """Optional text from the query string, checked in the view; ``schema`` documents it."""
    return Annotated[str | None, WithJsonSchema({"type": "string", **schema})]


def _names(rows: Any) -> Any:
    return [getattr(row, "name", row) for row in rows]


def _ids(rows: Any) -> Any:
    return sorted(getattr(row, "id", row) for row in rows)


# A list of villages (or other rows) shown by their names, or by their sorted ids.
Names = Annotated[list[str], BeforeValidator(_names)]
Ids = Annotated[list[int], BeforeValidator(_ids)]


# ---------------------------------------------------------------- bodies


class VillageRow(Body):
    """One village of a town (checked by the view row by row)."""

    name: str = Field(json_schema_extra={"maxLength": places.VILLAGE_NAME_MAX})
    kind: str = Field("village", json_schema_extra={"enum": list(VILLAGE_KINDS)})
    population: int = Field(json_schema_extra={"minimum": 0})
    to_relocate: int = Field(0, json_schema_extra={"minimum": 0})


class DefectRow(Body):
    """One defect found by an inspection (checked by the view row by row)."""

    text: str
    resolved: bool | None = None
    # the corrective action's due date (the inspection date + 30 days unless given)
    due_on: OptionalDateText = None


ShelterChecklist = create_model(
    "ShelterChecklist",
    __doc__="The checklist's answers by item (checked by the service).",
    **{key: (Literal[tuple(CHECK_RESULTS)] | None, None) for key in CHECKLIST},
)


class TownBody(Body):
    """A town and the villages to add or update (by name)."""

    # Fields in the order the checks they replace read them (the first wrong one is named).

    villages: Defaulted(Rows(VillageRow), []) = Field(default_factory=list)
    parent: str | None = None
    code: str
    name: Defaulted(str, "") = Field("", description="Required for a new town")


class ShelterBody(Body):
    """A shelter site's facts and the villages it serves (by name)."""

    name: str = Field(json_schema_extra={"maxLength": sites.NAME_MAX})
    # Read by the view (an unknown town is named as the field at fault).
    town: Any = Field(json_schema_extra={"type": "string"})
    level: Defaulted(str, "village") = Field("village", json_schema_extra={"enum": list(LEVELS)})
    capacity: Defaulted(Amount, 0) = Field(0, json_schema_extra={"minimum": 0})
    area_m2: Amount | None = None
    address: Defaulted(str, "") = ""
    latitude: Amount | None = None
    longitude: Amount | None = None
    structure: Defaulted(str, "frame") = Field(
        "frame", json_schema_extra={"enum": list(STRUCTURES)}
    )
    is_accessible: Defaulted(bool, False) = False
    has_generator: Defaulted(bool, False) = False
    is_in_floodplain: Defaulted(bool, False) = False
    # Set by an acceptance only: sent with another value than the site's, refused (403 for
    # a town, 422 for command staff, who accept at /shelters/<id>/acceptance).
    is_standardized: bool | None = Field(
        None, description="Read-only: set by POST /shelters/{id}/acceptance"
    )
    standardized_on: OptionalDateText = Field(
        None, description="Read-only: the acceptance date in force"
    )
    status: Defaulted(str, "active") = Field("active", json_schema_extra={"enum": list(STATUSES)})
    manager_name: Defaulted(str, "") = ""
    manager_phone: Defaulted(str, "") = ""
    contacts: Defaulted(str, "") = ""
    note: Defaulted(str, "") = ""
    villages: Defaulted(list[Any], []) = Field(
        default_factory=list, json_schema_extra={"items": {"type": "string"}}
    )


class ShelterEdit(ShelterBody):
    """A site's facts replaced; its version as last read refuses an edit made meanwhile."""

    version: int | None = Field(None, description="Refuse if the site changed since")


class InspectionBody(Body):
    """An inspection of a site: checklist, defects found, supplies, subsidy."""

    # Fields in the order the checks they replace read them (the first wrong one is named).
    defects: Defaulted(Rows(DefectRow), []) = Field(default_factory=list)
    inspected_on: DateText
    inspector: Defaulted(str, "") = ""
    checklist: Defaulted(Described(dict[str, Any], ShelterChecklist), {}) = Field(
        default_factory=dict
    )
    replenished_qty: Defaulted(Amount, 0) = Field(0, json_schema_extra={"minimum": 0})
    rotated_qty: Defaulted(Amount, 0) = Field(0, json_schema_extra={"minimum": 0})
    subsidy: Defaulted(Amount, 0) = Field(0, json_schema_extra={"minimum": 0})
    note: Defaulted(str, "") = ""
    request_key: str | None = None


class AcceptanceBody(Body):
    """Command staff accept a site: the acceptance date and a note (JSON), or the same as
    multipart/form-data with the acceptance documents as ``files``."""

    accepted_on: DateText
    note: Defaulted(str, "") = ""


class AcceptanceUpload(Body):
    """The acceptance as multipart/form-data: its date, a note and one or more documents
    (PDF, JPEG, PNG, WebP, docx or xlsx, each at most ATTACHMENT_MAX_BYTES)."""

    # Each part is read and checked by the view and the service (their refusals name the
    # field), so the model takes any value: it gives the document its shape.
    model_config = ConfigDict(json_schema_extra={"required": ["accepted_on"]})

    accepted_on: Any = Field(default=None, json_schema_extra={"type": "string", "format": "date"})
    note: Any = Field(default=None, json_schema_extra={"type": "string"})
    files: Any = Field(
        default=None,
        json_schema_extra={"type": "array", "items": {"type": "string", "format": "binary"}},
    )


class AcceptanceRequestBody(Body):
    """The town asks for acceptance, with a note for command staff."""

    note: Defaulted(str, "") = ""


class AcceptanceWithdrawal(Body):
    """Why the acceptance is withdrawn (required)."""

    model_config = ConfigDict(json_schema_extra={"required": ["reason"]})

    reason: Defaulted(str, "") = ""


class CoverageTargetBody(Body):
    """The coverage target of the caller's unit: 60, "60%" or 0.6."""

    target: Amount = Field(json_schema_extra={"example": 60})


class DefectRepair(Body):
    """What was done about a defect, and when (today unless told)."""

    # The service refuses a blank resolution: the document says it is required.
    model_config = ConfigDict(json_schema_extra={"required": ["resolution"]})

    resolution: Defaulted(str, "") = ""
    resolved_on: OptionalDateText = None


# ---------------------------------------------------------------- query parameters


class ShelterFilter(Paged):
    town: QueryText() = None
    status: QueryText(enum=list(STATUSES)) = None
    standardized: QueryText(enum=["0", "1"]) = None


class ShelterCoverageQuery(Query):
    format: ReportFormat = "json"
    target: QueryText(
        type="number",
        example=0.6,
        description="A fraction (0.6) or a percentage (60 or 60%); absent: the configured target",
    ) = None
    unit: QueryText() = None


# ---------------------------------------------------------------- answers


class VillageAnswer(Answer):
    id: int
    name: str
    kind: str
    population: int
    to_relocate: int


class TownVillage(VillageAnswer):
    shelters: Ids = Field(description="Ids of the sites serving the village")


class TownAnswer(Answer):
    code: str
    name: str
    parent: OptionalCode
    is_active: bool
    villages: list[TownVillage]


class SavedTown(Answer):
    code: str
    name: str
    villages: list[VillageAnswer]
    added: int
    changed: int


class TownRow(Answer):
    code: str
    name: str
    parent: OptionalCode
    is_active: bool
    villages: int
    population: int
    to_relocate: int


class TownList(PagedAnswer):
    towns: list[TownRow]


class ShelterAnswer(Answer):
    """A shelter site's facts."""

    id: int
    name: str
    town: Code
    town_name: str = Field(validation_alias=AliasPath("town", "name"))
    unit: OptionalCode = Field(description="The stock-holding unit of an active site")
    level: str
    capacity: int
    area_m2: DecimalText | None
    address: str
    latitude: DecimalText | None
    longitude: DecimalText | None
    structure: str
    is_accessible: bool
    has_generator: bool
    is_in_floodplain: bool
    is_standardized: bool
    standardized_on: OptionalIsoDate
    status: str
    counts_for_coverage: bool
    acceptance_requested: Annotated[
        bool, BeforeValidator(lambda v: v if isinstance(v, bool) else v is not None)
    ] = Field(
        validation_alias=AliasPath("acceptance_request"),
        description="The town asked for acceptance; command staff have not yet decided",
    )
    manager_name: str
    manager_phone: str
    contacts: str
    note: str
    villages: Names
    version: int

    @computed_field
    @property
    def area_capacity(self) -> int | None:
        """People the floor area allows at 1.5 m² each (GB 21734)."""
        return sites.area_capacity(None if self.area_m2 is None else Decimal(self.area_m2))


class AcceptanceDocumentAnswer(Answer):
    id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str


def _user_name(user: Any) -> Any:
    return getattr(user, "display_name", user)


UserName = Annotated[str | None, BeforeValidator(_user_name)]


class AcceptanceAnswer(Answer):
    """A request for acceptance, an acceptance, or a withdrawn acceptance of a site."""

    id: int
    status: str = Field(json_schema_extra={"enum": list(ACCEPTANCE_STATUSES)})
    requested_at: OptionalIsoDateTime
    requested_by: UserName
    request_note: str
    accepted_on: OptionalIsoDate
    accepted_by: UserName = Field(description="null with accepted_on: accepted by the system")
    note: str
    withdrawn_at: OptionalIsoDateTime
    withdrawn_by: UserName
    withdrawal_reason: str
    documents: list[AcceptanceDocumentAnswer]


class ShelterState(Answer):
    """Whether a site needs attention (an open defect) or an inspection (overdue)."""

    last_inspected_on: OptionalIsoDate
    open_defects: int
    needs_attention: bool
    is_overdue: bool
    failed_items: list[str]


class ShelterRow(ShelterState, ShelterAnswer):
    """A site's facts and its state."""


class ShelterList(PagedAnswer):
    shelters: list[ShelterRow]


class CreatedShelter(ShelterAnswer):
    warnings: list[str]


class ShelterDefect(Answer):
    """A defect: ``is_resolved`` says it was reported fixed; its corrective action
    (``action``, ``action_status``) closes when a second person verifies the fix."""

    id: int
    text: str
    is_resolved: bool
    resolved_on: OptionalIsoDate
    resolution: str
    action: int | None = Field(None, validation_alias="action_id")
    action_status: str | None = None
    action_due_on: OptionalIsoDate = None


class ShelterInspection(Answer):
    id: int
    shelter: int = Field(validation_alias="shelter_id")
    inspected_on: IsoDate
    inspector: str
    checklist: dict[str, str]
    failed_items: list[str]
    replenished_qty: int
    rotated_qty: int
    subsidy: DecimalText
    note: str
    defects: list[ShelterDefect]


class ShelterDetail(ShelterRow):
    """A site with its state (also at the top level), warnings, inspections and the history
    of its acceptance (newest first)."""

    state: ShelterState
    warnings: list[str]
    inspections: list[ShelterInspection]
    acceptance: AcceptanceAnswer | None = Field(description="The acceptance in force")
    acceptance_request: AcceptanceAnswer | None = Field(description="A request waiting")
    acceptances: list[AcceptanceAnswer]


class RecordedInspection(ShelterInspection):
    state: ShelterState


class ResolvedDefect(ShelterDefect):
    shelter: int = Field(validation_alias="shelter_id")
    state: ShelterState


class CoverageOverall(Answer):
    villages: int
    covered: int
    covered_with_capacity: int
    coverage: float
    capacity_coverage: float
    needed: int
    capacity: int
    to_relocate: int


class TownCoverage(Answer):
    town: Code
    name: str = Field(validation_alias=AliasPath("town", "name"))
    villages: int
    covered: int
    covered_with_capacity: int
    coverage: float
    capacity_coverage: float
    capacity: int
    to_relocate: int
    uncovered: list[str]
    needed: int
    meets_target: bool


class CoverageCandidate(Answer):
    """A site that does not count yet, and how many uncovered villages it would cover."""

    shelter: int
    name: str
    town: str
    would_cover: int


class ShelterCoverage(Answer):
    target: Number
    target_unit: OptionalCode = Field(
        None,
        description="The unit whose coverage target applies (null: the configured default "
        "or ?target=)",
    )
    overall: CoverageOverall
    towns: list[TownCoverage]
    candidates: list[CoverageCandidate]


A = TypeVar("A", bound=Answer)


def _with(model: type[A], facts: Answer, **more: Any) -> A:
    """An answer of ``model``: the fields of ``facts`` and ``more``."""
    return model(**dict(facts), **more)


def _states(shelters: list[Shelter]) -> dict[int, ShelterState]:
    states = sites.site_states(
        db.session,
        shelters,
        today=date.today(),
        interval_days=current_app.config["SHELTER_INSPECTION_DAYS"],
    )
    return {sid: ShelterState.model_validate(state) for sid, state in states.items()}


def _detail(s: Shelter) -> ShelterDetail:
    """A site with its state, warnings and inspections (state keys also at the top level)."""
    state = _states([s])[s.id]
    return _with(
        ShelterDetail,
        ShelterAnswer.model_validate(s),
        **dict(state),
        state=state,
        warnings=sites.shelter_warnings(s),
        inspections=s.inspections,
        acceptance=s.acceptance,
        acceptance_request=s.acceptance_request,
        acceptances=s.acceptances,
    )


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
@operation(json=TownBody, answers={200: SavedTown, 201: SavedTown}, errors=(400, 401, 403, 409))
def save_town(json: TownBody):
    """Create a town with villages, or add and update villages of a town by name

    201 when the town is new, 200 when it existed; villages not named are left as they are.
    """
    villages = [_village_input(n, raw) for n, raw in enumerate(json.villages, 1)]
    result = places.save_town(
        db.session,
        code=json.code,
        name=json.name,
        villages=villages,
        parent=unit_field(json.parent, "parent") if json.parent else None,
        actor=current_actor(),
    )
    db.session.commit()
    town = result.town
    answer = SavedTown(
        code=town.code,
        name=town.name,
        villages=places.villages_of(db.session, town),
        added=result.added,
        changed=result.changed,
    )
    return answer, 201 if result.is_new else 200


@bp.route("/towns", methods=["GET"])
@permission("shelters.view")
@operation(query=Paged, answers={200: TownList}, errors=(401, 403))
def list_towns(query: Paged):
    """Towns in reach, with how many villages and people each has; by code, a page at a time."""
    rows, next_cursor = paging.page(
        db.session, places.towns_query(_reach()), places.TOWN_ORDER, query.limit, query.cursor
    )
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
    towns = []
    for t in rows:
        n, population, relocate = figures.get(t.id, (0, 0, 0))
        towns.append(
            TownRow(
                code=t.code,
                name=t.name,
                parent=t.parent,
                is_active=t.is_active,
                villages=n,
                population=int(population),
                to_relocate=int(relocate),
            )
        )
    return TownList(towns=towns, next_cursor=next_cursor)


@bp.route("/towns/<code>", methods=["GET"])
@permission("shelters.view")
@operation(answers={200: TownAnswer}, errors=(401, 403, 404))
def get_town(code: str):
    """One town with its villages and the sites serving each."""
    town = _visible_town(code)
    return TownAnswer(
        code=town.code,
        name=town.name,
        parent=town.parent,
        is_active=town.is_active,
        villages=places.villages_of(db.session, town),
    )


# ---------------------------------------------------------------- shelter sites


def _shelter_input(body: ShelterBody) -> sites.ShelterInput:
    return sites.ShelterInput(
        name=body.name,
        town=_town_field(body.town),
        level=body.level,
        capacity=body.capacity,
        area_m2=body.area_m2,
        address=body.address,
        latitude=body.latitude,
        longitude=body.longitude,
        structure=body.structure,
        is_accessible=body.is_accessible,
        has_generator=body.has_generator,
        is_in_floodplain=body.is_in_floodplain,
        is_standardized=body.is_standardized,
        standardized_on=date_field(body.standardized_on, "standardized_on"),
        status=body.status,
        manager_name=body.manager_name,
        manager_phone=body.manager_phone,
        contacts=body.contacts,
        note=body.note,
        villages=body.villages,
    )


@bp.route("/shelters", methods=["POST"])
@permission("shelters.write")
@operation(json=ShelterBody, answers={201: CreatedShelter}, errors=(400, 401, 403, 409))
def create_shelter(json: ShelterBody):
    """Register a shelter site in a town, with the villages it serves."""
    shelter = sites.create_shelter(db.session, _shelter_input(json), actor=current_actor())
    db.session.commit()
    answer = _with(
        CreatedShelter,
        ShelterAnswer.model_validate(shelter),
        warnings=sites.shelter_warnings(shelter),
    )
    return answer, 201


@bp.route("/shelters", methods=["GET"])
@permission("shelters.view")
@operation(query=ShelterFilter, answers={200: ShelterList}, errors=(400, 401, 403, 404))
def list_shelters(query: ShelterFilter):
    """Sites in reach, filtered by ?town=CODE, ?status=, ?standardized=1|0; by town and name,
    a page at a time."""
    town = _visible_town(query.town) if query.town else None
    status = query.status or None
    if status and status not in STATUSES:
        raise BadRequest(_("未知的场所状态。"), field="status")
    raw_std = query.standardized or ""
    if raw_std not in ("", "0", "1"):
        raise BadRequest(_("standardized 只能是 1 或 0。"), field="standardized")
    rows, next_cursor = paging.page(
        db.session,
        sites.shelters_query(
            unit_ids=_reach(),
            town=town,
            status=status,
            is_standardized=None if raw_std == "" else raw_std == "1",
        ),
        sites.SHELTER_ORDER,
        query.limit,
        query.cursor,
    )
    states = _states(rows)
    return ShelterList(
        next_cursor=next_cursor,
        shelters=[
            _with(ShelterRow, ShelterAnswer.model_validate(s), **dict(states[s.id])) for s in rows
        ],
    )


@bp.route("/shelters/<int:shelter_id>", methods=["GET"])
@permission("shelters.view")
@operation(answers={200: ShelterDetail}, errors=(401, 403, 404))
def get_shelter(shelter_id: int):
    """One site: its facts, villages, state, warnings and inspections with their defects."""
    return _detail(_shelter(shelter_id))


@bp.route("/shelters/<int:shelter_id>", methods=["PUT"])
@permission("shelters.write")
@operation(json=ShelterEdit, answers={200: ShelterDetail}, errors=(400, 401, 403, 404, 409))
def put_shelter(shelter_id: int, json: ShelterEdit):
    """Replace a site's facts, status and villages served (optional "version" guards edits)."""
    shelter = _shelter(shelter_id)
    sites.update_shelter(
        db.session,
        shelter,
        _shelter_input(json),
        actor=current_actor(),
        expected_version=json.version,
    )
    db.session.commit()
    return _detail(shelter)


# ---------------------------------------------------------------- inspections and defects


def _defect_input(n: int, raw) -> inspections.DefectInput:
    if not isinstance(raw, dict):
        raise DomainError(_("第 {n} 个问题格式不正确。").format(n=n), field="defects")
    resolved = raw.get("resolved", raw.get("is_resolved", False))
    try:
        due_on = date_field(raw.get("due_on"), "due_on")
    except DomainError as err:
        raise DomainError(
            _("第 {n} 个问题：{message}").format(n=n, message=err.message), field="defects"
        ) from None
    return inspections.DefectInput(text=raw.get("text"), is_resolved=resolved, due_on=due_on)


@bp.route("/shelters/<int:shelter_id>/inspections", methods=["POST"])
@permission("shelters.write")
@operation(json=InspectionBody, answers={201: RecordedInspection}, errors=(400, 401, 403, 404, 409))
def record_inspection(shelter_id: int, json: InspectionBody):
    """Record an inspection; open defects mark the site as needing attention."""
    shelter = _shelter(shelter_id)
    defects = [_defect_input(n, raw) for n, raw in enumerate(json.defects, 1)]
    inspection = inspections.record_inspection(
        db.session,
        shelter,
        inspected_on=date_field(json.inspected_on, "inspected_on"),
        inspector=json.inspector,
        checklist=json.checklist,
        defects=defects,
        replenished_qty=json.replenished_qty,
        rotated_qty=json.rotated_qty,
        subsidy=json.subsidy,
        note=json.note,
        request_key=json.request_key,
        actor=current_actor(),
    )
    db.session.commit()
    answer = _with(
        RecordedInspection,
        ShelterInspection.model_validate(inspection),
        state=_states([shelter])[shelter.id],
    )
    return answer, 201


@bp.route("/defects/<int:defect_id>/resolve", methods=["POST"])
@permission("shelters.write")
@operation(json=DefectRepair, answers={200: ResolvedDefect}, errors=(400, 401, 403, 404, 409))
def resolve_defect(defect_id: int, json: DefectRepair):
    """Mark a defect as repaired, saying what was done."""
    defect = db.session.get(Defect, defect_id)
    reach = _reach()
    if defect is None or (reach is not None and defect.shelter.town_id not in reach):
        raise NotFound(_("问题第 {id} 号不存在。").format(id=defect_id))
    inspections.resolve_defect(
        db.session,
        defect,
        resolution=json.resolution,
        resolved_on=date_field(json.resolved_on, "resolved_on"),
        actor=current_actor(),
    )
    db.session.commit()
    return _with(
        ResolvedDefect,
        ShelterDefect.model_validate(defect),
        shelter=defect.shelter_id,
        state=_states([defect.shelter])[defect.shelter_id],
    )


# ---------------------------------------------------------------- acceptance

FORM_MIMETYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _json_unless_form(view):
    """The JSON checks of readiness.api (an object, not too deep, storable characters) for
    a body that is not a form; a form's parts are checked one by one."""

    @wraps(view)
    def checked(*args, **kwargs):
        if request.mimetype not in FORM_MIMETYPES:
            json_body()
        return view(*args, **kwargs)

    return checked


def _form_text(name: str) -> str:
    value = request.form.get(name, "")
    char = first_unsafe(value)
    if char is not None:
        raise DomainError(unsafe_message(name, char), field=name)
    return value


def uploads(name: str = "files") -> list[acceptance.Upload]:
    """The request's uploaded files (one byte past the limit is read: enough to refuse)."""
    limit = int(current_app.config["ATTACHMENT_MAX_BYTES"]) + 1
    return [
        acceptance.Upload(f.filename or "", f.stream.read(limit))
        for key in (name, "file")
        for f in request.files.getlist(key)
        if f.filename or f.content_length
    ]


@bp.route("/shelters/<int:shelter_id>/acceptance", methods=["POST"])
@permission("shelters.accept")
@_json_unless_form
@operation(answers={201: ShelterDetail}, errors=(400, 401, 403, 404, 409, 413))
def accept_shelter(shelter_id: int, json: AcceptanceBody = None, form: AcceptanceUpload = None):
    """Accept a site as standardized (command staff)

    JSON `{"accepted_on", "note"}`, or multipart/form-data with `accepted_on`, `note` and
    the acceptance documents as `files` (PDF, JPEG, PNG, WebP, docx, xlsx). The date may be
    neither in the future nor before the site was registered. 201 with the site.
    """
    shelter = _shelter(shelter_id)
    if request.mimetype in FORM_MIMETYPES:
        accepted_on, note, documents = _form_text("accepted_on"), _form_text("note"), uploads()
    else:
        accepted_on, note, documents = json.accepted_on, json.note, []
    acceptance.accept_shelter(
        db.session,
        shelter,
        accepted_on=date_field(accepted_on, "accepted_on"),
        note=note,
        documents=documents,
        storage_dir=storage_dir(),
        max_bytes=int(current_app.config["ATTACHMENT_MAX_BYTES"]),
        actor=current_actor(),
    )
    db.session.commit()
    return _detail(shelter), 201


@bp.route("/shelters/<int:shelter_id>/acceptance/request", methods=["POST"])
@permission("shelters.write")
@operation(
    json=AcceptanceRequestBody,
    answers={201: ShelterDetail},
    errors=(400, 401, 403, 404, 409),
    optional_body=True,
)
def request_acceptance(shelter_id: int, json: AcceptanceRequestBody = None):
    """Ask command staff to accept a site (its town's clerks)

    The request waits on the command staff's list 待验收 until they accept the site.
    """
    shelter = _shelter(shelter_id)
    acceptance.request_acceptance(
        db.session, shelter, note=json.note if json else "", actor=current_actor()
    )
    db.session.commit()
    return _detail(shelter), 201


@bp.route("/shelters/<int:shelter_id>/acceptance/withdraw", methods=["POST"])
@permission("shelters.accept")
@operation(
    json=AcceptanceWithdrawal, answers={200: ShelterDetail}, errors=(400, 401, 403, 404, 409)
)
def withdraw_acceptance(shelter_id: int, json: AcceptanceWithdrawal):
    """Withdraw a site's acceptance, saying why (command staff)

    The site stops counting as standardized; the acceptance and the reason stay in its
    history.
    """
    shelter = _shelter(shelter_id)
    acceptance.withdraw_acceptance(db.session, shelter, reason=json.reason, actor=current_actor())
    db.session.commit()
    return _detail(shelter)


@bp.route("/shelters/<int:shelter_id>/documents/<int:attachment_id>", methods=["GET"])
@permission("shelters.view")
@operation(
    errors=(401, 403, 404),
    files=tuple(ct for ct, _exts, _name in acceptance.FILE_TYPES.values()),
)
def acceptance_document(shelter_id: int, attachment_id: int):
    """Download an acceptance document of a site

    The file's bytes, with the content type found when it was stored.
    """
    shelter = _shelter(shelter_id)
    document = db.session.get(AcceptanceDocument, attachment_id)
    if document is None or document.acceptance.shelter_id != shelter.id:
        raise NotFound(_("验收材料第 {id} 号不存在。").format(id=attachment_id))
    return send_document(document)


# ---------------------------------------------------------------- coverage


class SavedCoverageTarget(Answer):
    unit: Code
    target: Number


def coverage_answer(report: coverage.CoverageReport, target_unit=None) -> ShelterCoverage:
    towns = {t.town_id: t.town for t in report.towns}
    return ShelterCoverage(
        target=report.target,
        target_unit=target_unit,
        overall=report,
        towns=report.towns,
        candidates=[
            CoverageCandidate(
                shelter=c.shelter_id,
                name=c.name,
                town=towns[c.town_id].code,
                would_cover=c.would_cover,
            )
            for c in report.candidates
        ],
    )


def report_target(raw: str | None):
    """?target= as a fraction (0.6, 60 or 60%), or a 400 naming the field."""
    try:
        return coverage.parse_target(raw, current_app.config["SHELTER_COVERAGE_TARGET"])
    except DomainError as err:
        raise BadRequest(err.message, field="target") from None


@bp.route("/reports/shelter-coverage", methods=["GET"])
@permission("shelters.view")
@operation(
    query=ShelterCoverageQuery,
    answers={200: ShelterCoverage},
    errors=(400, 401, 403, 404),
    files=REPORT_FILES,
)
def shelter_coverage(query: ShelterCoverageQuery):
    """Village coverage by standardized shelter sites against a target

    Villages covered by active standardized sites, per town and overall, against the target
    (?target=0.6, ?unit=CODE, ?format=csv|xlsx|pdf).
    """
    fmt = query.format
    override = report_target(query.target) if query.target else None
    unit_code = query.unit or None
    actor = current_actor()
    scope = coverage.scope_for(db.session, actor, unit_code)
    unit = core.get_unit(db.session, unit_code) if unit_code else None
    report, in_force = coverage.report_for(
        db.session,
        scope,
        unit_id=unit.id if unit else actor.unit_id,
        default=current_app.config["SHELTER_COVERAGE_TARGET"],
        override=override,
    )
    if fmt != "json":
        # A unit outside the caller's reach narrows nothing they may see: the file is then
        # the caller's own report, and says so, rather than carrying the other unit's name.
        label = unit.name if unit and in_scope(db.session, actor, unit) else None
        return coverage_download(fmt, report, scope_label=label)
    return coverage_answer(report, in_force.unit)


@bp.route("/coverage/target", methods=["PUT"])
@permission("shelters.target")
@operation(json=CoverageTargetBody, answers={200: SavedCoverageTarget}, errors=(400, 401, 403))
def put_coverage_target(json: CoverageTargetBody):
    """Set the coverage target of the caller's unit

    60, "60%" or 0.6; it applies to the towns below the unit unless a unit nearer a town
    sets its own.
    """
    actor = current_actor()
    unit = db.session.get(Unit, actor.unit_id) if actor.unit_id else None
    row = coverage.set_target(db.session, unit, json.target, actor=actor)
    db.session.commit()
    return SavedCoverageTarget(unit=unit, target=row.target)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
