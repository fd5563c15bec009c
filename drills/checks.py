"""Small checks shared by drill records, corrective actions and requirements: free text
within its limit and an active drill kind, each with one message wherever it is used."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from drills.models import DrillKind
from readiness.errors import DomainError

TITLE_MAX = 200
TEXT_MAX = 5000


def check_text(value, field: str, *, required: bool = True, limit: int = TEXT_MAX) -> str:
    """The text stripped; refused when required and empty, not text, or over ``limit``."""
    value = (value or "").strip() if isinstance(value, str) else value
    if value is None or value == "":
        if required:
            raise DomainError(_("请填写{field}。").format(field=field_label(field)), field=field)
        return ""
    if not isinstance(value, str):
        raise DomainError(_("字段 {name} 的类型不正确。").format(name=field), field=field)
    if len(value) > limit:
        raise DomainError(
            _("{field}不能超过 {n} 个字。").format(field=field_label(field), n=limit), field=field
        )
    return value


def field_label(field: str) -> str:
    """The field's name as messages show it."""
    return {
        "title": _("标题"),
        "text": _("内容"),
        "evidence": _("整改证据"),
        "reason": _("原因"),
        "scenario": _("情景"),
        "name": _("名称"),
        "participants": _("参演人数"),
        "duration_minutes": _("时长（分钟）"),
        "hazard": _("灾种"),
        "location": _("地点"),
        "roster": _("参演人员名单"),
        "purpose": _("演练目的"),
        "summary": _("演练经过"),
        "problems": _("问题和原因"),
        "lessons": _("经验教训"),
    }.get(field, field)


def check_kind(session: Session, code, *, field: str = "kind", row: int | None = None) -> str:
    """The code of an active drill kind; ``row`` prefixes the message for a line in a list."""
    kind = session.get(DrillKind, code) if isinstance(code, str) else None
    if kind is None or not kind.is_active:
        message = _("未知的演练类型：{kind}。").format(kind=str(code)[:30])
        if row is not None:
            message = _("第 {n} 行：{message}").format(n=row, message=message)
        raise DomainError(message, field=field)
    return kind.code
