"""Use cases for inspections of shelter sites and the defects they find."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from readiness import audit
from readiness.checks import check_past_date
from readiness.errors import Conflict, DomainError, Refusals
from readiness.permissions import require
from rectification import actions as register
from shelters.checks import PERSON_MAX, TEXT_MAX, _decimal, _text, _whole
from shelters.models import CHECK_RESULTS, CHECKLIST, Defect, Inspection, Shelter

SUBSIDY_MAX = Decimal("100000000")
SUPPLY_QTY_MAX = 1_000_000
DEFECTS_MAX = 50
# a defect's action is due this many days after the inspection unless a date is given
DEFECT_DUE_DAYS = 30
# What features above this one do with a recorded inspection, in the same transaction, as
# hook(session, inspection, actor=...): the money feature proposes the subsidy it writes
# (funding registers it; shelters does not import the features above it).
ON_RECORDED: list[Callable[..., object]] = []

INSPECTION_FIELDS = (
    "shelter_id",
    "inspected_on",
    "inspector",
    "checklist",
    "replenished_qty",
    "rotated_qty",
    "subsidy",
    "note",
)


class AlreadyRecorded(Conflict):
    """This form was already submitted: the inspection it recorded is ``inspection_id``."""

    def __init__(self, inspection_id: int | None):
        super().__init__(_("这张表单已经登记过，未重复记录。"))
        self.inspection_id = inspection_id


@dataclass(frozen=True)
class DefectInput:
    text: str
    is_resolved: bool = False
    due_on: date | None = None


class InspectionRefused(Refusals):
    """An inspection refused, every problem with its field (``readiness.errors.Refusals``), so
    the form shows them all at once."""


def _inspection_date(shelter: Shelter, inspected_on, today: date) -> date:
    """The inspection's day: given, not in the future, not before the site was registered
    (said first: the site's own date is the more useful bound), never before 2000."""
    registered_on = registration_date(shelter, today)
    day = inspected_on
    if isinstance(day, str):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(day.strip())  # else check_past_date names the format
    if isinstance(day, date) and registered_on and day < registered_on:
        raise DomainError(
            _("检查日期不能早于场所登记日期（{on}）。").format(on=registered_on.isoformat()),
            field="inspected_on",
        )
    return check_past_date(inspected_on, "inspected_on", today=today, label=_("检查日期"))


def _checklist_results(checklist) -> dict[str, str]:
    """Every checklist item answered explicitly (nothing chosen is not "not applicable")."""
    checklist = {} if checklist is None else checklist
    if not isinstance(checklist, dict):
        raise DomainError(_("检查项格式不正确。"), field="checklist")
    unknown = sorted(set(checklist) - set(CHECKLIST))
    if unknown:
        raise DomainError(
            _("未知的检查项：{names}。").format(names=", ".join(map(str, unknown))[:200]),
            field="checklist",
        )
    results = {}
    missing = []
    for key in CHECKLIST:
        value = checklist.get(key)
        if value is None or value == "":
            missing.append(str(CHECKLIST[key]))
            continue
        if not isinstance(value, str) or value not in CHECK_RESULTS:
            raise DomainError(
                _("检查项 {name} 的结果只能是合格、不合格或不适用。").format(name=CHECKLIST[key]),
                field="checklist",
            )
        results[key] = value
    if missing:
        raise DomainError(
            _("每个检查项都须选择合格、不合格或不适用，尚未选择：{names}。").format(
                names=_("、").join(missing)
            ),
            field="checklist",
        )
    return results


def _checked_defects(defects: Sequence[DefectInput], today: date) -> list:
    """The defects as (text, is_resolved, due_on); every bad row is reported, by its number."""
    if len(defects) > DEFECTS_MAX:
        raise DomainError(_("一次检查最多登记 {n} 个问题。").format(n=DEFECTS_MAX), field="defects")
    problems: list[tuple[str, str]] = []
    checked = []
    for n, d in enumerate(defects, start=1):
        try:
            checked.append(_checked_defect(n, d, today))
        except DomainError as err:
            problems.append(("defects", err.message))
    if problems:
        raise InspectionRefused(problems)
    return checked


def _checked_defect(n: int, d: DefectInput, today: date) -> tuple[str, bool, date | None]:
    """Row ``n``: a text, a yes/no "repaired on the spot", an optional due date from today."""
    if not isinstance(d.is_resolved, bool):
        raise DomainError(_("第 {n} 个问题：是否已整改必须是是或否。").format(n=n), field="defects")
    try:
        text = _text(d.text, "text", TEXT_MAX, required=True)
    except DomainError as err:
        raise DomainError(
            _("第 {n} 个问题：{message}").format(n=n, message=err.message), field="defects"
        ) from None
    due_on = d.due_on
    if due_on is not None:
        if not isinstance(due_on, date):
            raise DomainError(_("第 {n} 个问题：请填写完成时限。").format(n=n), field="defects")
        if due_on < today:
            raise DomainError(
                _("第 {n} 个问题：完成时限不能早于今天。").format(n=n), field="defects"
            )
    return text, d.is_resolved, due_on


def registration_date(shelter: Shelter, today: date | None = None) -> date | None:
    """The day the site was registered (its record created), in the server's time zone as
    ``date.today()`` is; never after ``today``. None for a site not yet saved."""
    created = shelter.created_at
    if created is None:
        return None
    if created.tzinfo is None:  # not yet read back from the database: naive means UTC
        created = created.replace(tzinfo=UTC)
    registered = created.astimezone().date()
    return min(registered, today) if today is not None else registered


def record_inspection(
    session: Session,
    shelter: Shelter,
    *,
    inspected_on: date,
    inspector: str = "",
    checklist: dict[str, str] | None = None,
    defects: Sequence[DefectInput] = (),
    replenished_qty=0,
    rotated_qty=0,
    subsidy=0,
    note: str = "",
    request_key: str | None = None,
    actor,
    today: date | None = None,
) -> Inspection:
    """Record an inspection: checklist, defects found (open ones mark the site as needing
    attention), supplies replenished and expired stock rotated, subsidy paid."""
    require(session, actor, "shelters.write", shelter.town_id)
    if request_key:
        earlier = session.scalar(select(Inspection.id).where(Inspection.request_key == request_key))
        if earlier is not None:
            raise AlreadyRecorded(earlier)
    today = today or date.today()
    if shelter.status == "closed":
        raise Conflict(_("已关闭的场所不能再登记检查。"))
    problems: list[tuple[str, str]] = []
    checked = {}
    checks = (
        ("inspected_on", lambda: _inspection_date(shelter, inspected_on, today)),
        ("checklist", lambda: _checklist_results(checklist)),
        ("defects", lambda: _checked_defects(defects, today)),
        ("inspector", lambda: _text(inspector, "inspector", PERSON_MAX)),
        ("replenished_qty", lambda: _whole(replenished_qty, "replenished_qty", SUPPLY_QTY_MAX)),
        ("rotated_qty", lambda: _whole(rotated_qty, "rotated_qty", SUPPLY_QTY_MAX)),
        ("subsidy", lambda: _decimal(subsidy, "subsidy", places=2, maximum=SUBSIDY_MAX)),
        ("note", lambda: _text(note, "note", TEXT_MAX)),
    )
    for name, check in checks:
        try:
            checked[name] = check()
        except Refusals as err:
            problems.extend(err.problems)
        except DomainError as err:
            problems.append((err.field or name, err.message))
    if problems:
        raise InspectionRefused(problems)
    checked_defects = checked["defects"]
    # each defect is a corrective action of the town: who owns it is settled before writing
    owner = register.default_owner(session, shelter.town, actor) if checked_defects else None
    inspection = Inspection(
        shelter=shelter,
        inspected_on=checked["inspected_on"],
        inspector=checked["inspector"] or getattr(actor, "display_name", "")[:PERSON_MAX],
        checklist=checked["checklist"],
        replenished_qty=checked["replenished_qty"],
        rotated_qty=checked["rotated_qty"],
        subsidy=checked["subsidy"] or Decimal("0.00"),
        note=checked["note"],
        request_key=(request_key or None) and str(request_key)[:64],
        recorded_by_id=getattr(actor, "id", None),
    )
    session.add(inspection)
    try:
        session.flush()
    except IntegrityError:  # the same form, submitted at the same moment
        raise AlreadyRecorded(None) from None
    for text, resolved, due_on in checked_defects:
        action = register.add_action(
            session,
            source="shelter",
            text=text,
            unit=shelter.town,
            owner=owner,
            due_on=due_on or inspected_on + timedelta(days=DEFECT_DUE_DAYS),
            # repaired on the spot: reported done at once, a second person still verifies it
            evidence=_("检查时当场整改") if resolved else "",
            actor=actor,
            audit_after={"shelter": shelter.id, "inspection": inspection.id},
        )
        inspection.defects.append(
            Defect(
                shelter=shelter,
                text=text,
                is_resolved=resolved,
                resolved_on=inspected_on if resolved else None,
                # no text: the page says "repaired on the spot" in the reader's language
                resolution="",
                resolved_by_id=getattr(actor, "id", None) if resolved else None,
                action=action,
            )
        )
    session.flush()
    after = audit.snapshot(inspection, INSPECTION_FIELDS)
    after["defects"] = [{"text": t, "is_resolved": r} for t, r, _due in checked_defects]
    audit.record(
        session,
        actor,
        "shelter.inspect",
        inspection,
        unit_id=shelter.town_id,
        after=after,
        summary=shelter.name,
    )
    for hook in ON_RECORDED:
        hook(session, inspection, actor=actor)
    return inspection


def resolve_defect(
    session: Session,
    defect: Defect,
    *,
    resolution: str,
    resolved_on: date | None = None,
    actor,
    today: date | None = None,
) -> Defect:
    """Report a defect repaired, saying what was done: its corrective action is reported done
    with that as evidence, and the site needs attention until a second person verifies it."""
    require(session, actor, "shelters.write", defect.shelter.town_id)
    today = today or date.today()
    if defect.is_resolved:
        raise Conflict(_("该问题已于 {on} 整改。").format(on=defect.resolved_on.isoformat()))
    action = defect.action
    if action is not None and action.status not in ("open", "in_progress"):
        raise Conflict(
            _("该问题的整改事项当前为“{status}”，不能再报告整改。").format(
                status=register._status(action)
            )
        )
    resolution = _text(resolution, "resolution", TEXT_MAX, required=True)
    resolved_on = check_past_date(
        resolved_on or today, "resolved_on", today=today, label=_("整改日期")
    )
    if resolved_on < defect.inspection.inspected_on:
        raise DomainError(_("整改日期不能早于发现问题的检查日期。"), field="resolved_on")
    if action is not None:
        register.mark_done(session, action, resolution, actor=actor)
    before = audit.snapshot(defect, ("is_resolved", "resolved_on", "resolution"))
    defect.is_resolved = True
    defect.resolved_on = resolved_on
    defect.resolution = resolution
    defect.resolved_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(
        session,
        actor,
        "shelter.defect_resolve",
        defect,
        unit_id=defect.shelter.town_id,
        before=before,
        after=audit.snapshot(defect, ("is_resolved", "resolved_on", "resolution")),
        summary=defect.text[:200],
    )
    return defect
