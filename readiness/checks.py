"""Input checks shared by every feature's services: free text within its limit, whole
numbers, decimals, dates not in the future and notes.

One set of messages for the whole house. Each refusal is a ``DomainError`` whose ``field``
is the input's name and whose message names the field in the words of the form: callers
pass ``label`` (already translated); without one the field's own name is shown."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from readiness.errors import DomainError

NOTE_MAX = 500


def check_text(value, field: str, *, limit: int, required: bool = False, label=None) -> str:
    """The text stripped ("" for nothing); refused when not text, when ``required`` and
    blank, or when longer than ``limit``."""
    label = label or field
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError(_("字段 {name} 的类型不正确。").format(name=field), field=field)
    value = value.strip()
    if required and not value:
        raise DomainError(_("请填写{field}。").format(field=label), field=field)
    if len(value) > limit:
        raise DomainError(_("{field}不能超过 {n} 个字。").format(field=label, n=limit), field=field)
    return value


def check_note(note, field: str = "note", *, limit: int = NOTE_MAX) -> str:
    """A note without surrounding blanks, no longer than ``limit`` characters."""
    note = (note or "").strip()
    if len(note) > limit:
        raise DomainError(_("备注不能超过 {n} 个字。").format(n=limit), field=field)
    return note


def check_whole(value, field: str, *, maximum: int, label=None, minimum: int = 0) -> int:
    """A whole number from ``minimum`` to ``maximum``; ``minimum`` is 0 ("不能为负数") or 1
    ("必须大于零"), the two refusals the forms use. Digits in a string
    (forms, imported files, a minus sign allowed) and whole floats (spreadsheets store whole
    numbers as floats) are accepted; a bool never is."""
    label = label or field
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_("{field}必须是整数。").format(field=label), field=field)
    if value < minimum:
        if minimum == 0:
            raise DomainError(_("{field}不能为负数。").format(field=label), field=field)
        raise DomainError(_("{field}必须大于零。").format(field=label), field=field)
    if value > maximum:
        raise DomainError(
            _("{field}不能超过 {n}。").format(field=label, n=f"{maximum:,}"), field=field
        )
    return value


def check_decimal(
    value,
    field: str,
    *,
    places: int,
    maximum: Decimal,
    minimum: Decimal = Decimal(0),
    label=None,
) -> Decimal:
    """A finite decimal from ``minimum`` (0 unless told) to ``maximum`` with at most
    ``places`` decimals, returned as written (not padded to ``places``)."""
    label = label or field
    if isinstance(value, bool):
        raise DomainError(_("{field}必须是数字。").format(field=label), field=field)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("{field}必须是数字。").format(field=label), field=field) from None
    if not number.is_finite():
        raise DomainError(_("{field}必须是数字。").format(field=label), field=field)
    if number < minimum:
        raise DomainError(_("{field}不能为负数。").format(field=label), field=field)
    if number > maximum:
        raise DomainError(_("{field}数值过大。").format(field=label), field=field)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(_("{field}最多 {n} 位小数。").format(field=label, n=places), field=field)
    return number


def check_past_date(value, field: str, *, today: date, label) -> date:
    """A date given (not text), not after ``today`` and not before 1950."""
    if not isinstance(value, date):
        raise DomainError(_("请填写{field}。").format(field=label), field=field)
    if value > today:
        raise DomainError(_("{field}不能晚于今天。").format(field=label), field=field)
    if value.year < 1950:
        raise DomainError(_("{field}不正确。").format(field=label), field=field)
    return value
