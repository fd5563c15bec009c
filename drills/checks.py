"""The drills' own checks: an active drill kind, and the names the forms give the fields
(``field_label``). Text and counts are the core checks (``readiness.checks``), called here
with the drills' defaults and labels."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from drills.models import DrillKind
from readiness import checks as core
from readiness.errors import DomainError
from readiness.permissions import unit_ids_above

TITLE_MAX = 200
TEXT_MAX = 5000


def check_text(value, field: str, *, required: bool = True, limit: int = TEXT_MAX) -> str:
    """The core text check (``readiness.checks.check_text``) with the drills' defaults:
    required, up to ``TEXT_MAX``, the field named as the form names it."""
    return core.check_text(value, field, limit=limit, required=required, label=field_label(field))


def check_count(value, field: str, maximum: int) -> int:
    """A whole number from 0 to ``maximum`` (participants, minutes), named as the form does."""
    return core.check_whole(value, field, maximum=maximum, label=field_label(field))


_FIELD_LABELS = {
    "title": _l("标题"),
    "text": _l("内容"),
    "evidence": _l("整改证据"),
    "reason": _l("原因"),
    "scenario": _l("情景"),
    "name": _l("名称"),
    "participants": _l("参演人数"),
    "duration_minutes": _l("时长（分钟）"),
    "hazard": _l("灾种"),
    "location": _l("地点"),
    "roster": _l("参演人员名单"),
    "purpose": _l("演练目的"),
    "summary": _l("演练经过"),
    "problems": _l("问题和原因"),
    "lessons": _l("经验教训"),
    "course": _l("课程"),
    "trainee_names": _l("参训人员名单"),
    "trainees": _l("参训人数"),
    "person_name": _l("姓名"),
    "number": _l("证书编号"),
    "note": _l("备注"),
}


def field_label(field: str) -> str:
    """The field's name as messages show it."""
    label = _FIELD_LABELS.get(field)
    return str(label) if label is not None else field


def check_kind(
    session: Session, code, *, field: str = "kind", row: int | None = None, unit=None
) -> str:
    """The code of an active drill kind (offered to ``unit``, when given: a kind added by a
    unit's command staff applies within that unit's subtree); ``row`` prefixes the message
    for a line in a list."""
    kind = session.get(DrillKind, code) if isinstance(code, str) else None
    if kind is not None and unit is not None and kind.unit_id is not None:
        unit_id = unit if isinstance(unit, int) else unit.id
        if kind.unit_id not in unit_ids_above(session, unit_id):
            kind = None
    if kind is None or not kind.is_active:
        message = _("未知的演练类型：{kind}。").format(kind=str(code)[:30])
        if row is not None:
            message = _("第 {n} 行：{message}").format(n=row, message=message)
        raise DomainError(message, field=field)
    return kind.code
