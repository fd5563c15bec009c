"""Input checks shared by every feature's services: free text within its limit, whole
numbers, decimals, dates that happened (2000 to today), expiry dates (at most 30 years on)
and notes.

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


# Nothing this application records happened before it: ledgers, drills, inspections and
# decisions start with the reserve rules of the 2000s (issue 22: 1900-01-01 was taken).
EARLIEST = date(2000, 1, 1)


def check_past_date(value, field: str, *, today: date, label) -> date:
    """The date something happened, as a date or YYYY-MM-DD text: from 2000-01-01 to
    ``today``, never in the future."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise DomainError(
                _("{field}格式应为 YYYY-MM-DD。").format(field=label), field=field
            ) from None
    if not isinstance(value, date):
        raise DomainError(_("请填写{field}。").format(field=label), field=field)
    if value > today:
        raise DomainError(_("{field}不能晚于今天。").format(field=label), field=field)
    if value < EARLIEST:
        raise DomainError(
            _("{field}不能早于 {date}。").format(field=label, date=EARLIEST.isoformat()),
            field=field,
        )
    return value


# The longest shelf life anything in a reserve has (tinned food, hulls) is well under this.
EXPIRY_YEARS = 30


def latest_expiry(today: date) -> date:
    """The last expiry date accepted on ``today``: thirty years on (28 February for a
    29 February that the thirtieth year does not have)."""
    try:
        return today.replace(year=today.year + EXPIRY_YEARS)
    except ValueError:
        return today.replace(year=today.year + EXPIRY_YEARS, day=28)


def check_expiry(value: date | None, field: str, *, label, today: date | None = None):
    """An expiry date (or None: not every lot expires) from 2000-01-01 to thirty years
    after ``today`` (9999-12-31 was taken silently). A lot already expired is accepted: it
    is booked and shown apart."""
    if value is None:
        return None
    today = today or date.today()
    if value < EARLIEST:
        raise DomainError(
            _("{field}不能早于 {date}。").format(field=label, date=EARLIEST.isoformat()),
            field=field,
        )
    latest = latest_expiry(today)
    if value > latest:
        raise DomainError(
            _("{field}不能晚于 {date}（今天起 {n} 年内）。").format(
                field=label, date=latest.isoformat(), n=EXPIRY_YEARS
            ),
            field=field,
        )
    return value
