"""Training sessions, certificates, and certification rates per unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drills.checks import check_count, check_text
from drills.models import CERTIFICATE_KINDS, Certificate, TrainingSession
from readiness import audit
from readiness.checks import check_past_date
from readiness.errors import Conflict, DomainError
from readiness.models import Unit
from readiness.permissions import require


def add_training(
    session: Session,
    unit: Unit,
    *,
    course: str,
    held_on: date,
    trainees,
    trainee_names: str = "",
    note: str = "",
    actor,
    today: date | None = None,
) -> TrainingSession:
    """Record a training course held for a unit, with its trainees (a count, names optional),
    on a day from 2000 to ``today``."""
    require(session, actor, "drills.write", unit)
    held_on = check_past_date(held_on, "held_on", today=today or date.today(), label=_("培训日期"))
    trainees = check_count(trainees, "trainees", 100_000)
    trainee_names = check_text(trainee_names, "trainee_names", required=False)
    names = [n for n in trainee_names.splitlines() if n.strip()]
    trainees = trainees or len(names)
    if len(names) > trainees:
        raise DomainError(
            _("名单有 {names} 人，多于参训人数 {n}。").format(names=len(names), n=trainees),
            field="trainees",
        )
    row = TrainingSession(
        unit_id=unit.id,
        course=check_text(course, "course", limit=200),
        held_on=held_on,
        trainees=trainees,
        trainee_names="\n".join(n.strip() for n in names),
        note=check_text(note, "note", required=False, limit=1000),
        created_by_id=getattr(actor, "id", None),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "training.add",
        row,
        unit_id=unit.id,
        after={"course": row.course, "held_on": held_on.isoformat(), "trainees": trainees},
    )
    return row


def add_certificate(
    session: Session,
    unit: Unit,
    *,
    person_name: str,
    kind: str,
    number: str,
    valid_until: date | None,
    actor,
) -> Certificate:
    """Register a certificate held by a member of a unit."""
    require(session, actor, "drills.write", unit)
    if kind not in CERTIFICATE_KINDS:
        raise DomainError(_("未知的证书类别。"), field="kind")
    row = Certificate(
        unit_id=unit.id,
        person_name=check_text(person_name, "person_name", limit=60),
        kind=kind,
        number=check_text(number, "number", limit=60),
        valid_until=valid_until,
        created_by_id=getattr(actor, "id", None),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            _("证书编号 {number} 已登记。").format(number=row.number), field="number"
        ) from None
    audit.record(
        session,
        actor,
        "certificate.add",
        row,
        unit_id=unit.id,
        after={"person": row.person_name, "kind": kind, "number": row.number},
    )
    return row


@dataclass
class Rate:
    unit: Unit
    certified: int
    team_size: int

    @property
    def rate(self) -> float | None:
        return self.certified / self.team_size if self.team_size else None


def certification_rates(
    session: Session, unit_ids: set[int] | None, *, today: date, kind: str | None = None
) -> list[Rate]:
    """Per unit: members holding a valid certificate ÷ team size (the unit's headcount).
    Shelter sites have no team: their headcount is the number of people they take."""
    stmt = (
        select(Certificate.unit_id, func.count(func.distinct(Certificate.person_name)))
        .where(or_(Certificate.valid_until.is_(None), Certificate.valid_until >= today))
        .group_by(Certificate.unit_id)
    )
    if kind:
        stmt = stmt.where(Certificate.kind == kind)
    certified = dict(session.execute(stmt).all())
    units = select(Unit).where(
        Unit.is_active,
        Unit.kind != "shelter",
        Unit.id.in_(list(certified)) | (Unit.headcount > 0),
    )
    if unit_ids is not None:
        units = units.where(Unit.id.in_(unit_ids))
    rows = [
        Rate(u, certified.get(u.id, 0), u.headcount)
        for u in session.scalars(units.order_by(Unit.code))
    ]
    return [r for r in rows if r.certified or r.unit.id in certified or r.team_size]
