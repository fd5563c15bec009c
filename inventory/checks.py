"""Small input checks shared by the inventory services: quantities, notes, decimals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from readiness.errors import DomainError

MAX_QTY = 1_000_000
NOTE_MAX = 500


def check_qty(value, *, field_name: str = "qty", allow_zero: bool = False) -> int:
    """A whole, positive (or zero) quantity below the sanity limit."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        else:
            raise DomainError(_("数量必须是整数。"), field=field_name)
    if value < 0 or (value == 0 and not allow_zero):
        raise DomainError(
            _("数量必须大于零。") if not allow_zero else _("数量不能为负数。"), field=field_name
        )
    if value > MAX_QTY:
        raise DomainError(_("数量不能超过 {n}。").format(n=f"{MAX_QTY:,}"), field=field_name)
    return value


def check_note(note: str | None, field_name: str = "note") -> str:
    """A note without surrounding blanks, no longer than NOTE_MAX characters."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise DomainError(_("备注不能超过 {n} 个字。").format(n=NOTE_MAX), field=field_name)
    return note


def check_decimal(value, field_name: str, *, places: int = 3, maximum: Decimal = Decimal(10**6)):
    """A non-negative decimal below ``maximum`` with at most ``places`` decimals."""
    if isinstance(value, bool):
        raise DomainError(_("{field} 必须是数字。").format(field=field_name), field=field_name)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(
            _("{field} 必须是数字。").format(field=field_name), field=field_name
        ) from None
    if not number.is_finite() or number < 0:
        raise DomainError(_("{field} 不能为负数。").format(field=field_name), field=field_name)
    if number > maximum:
        raise DomainError(_("{field} 数值过大。").format(field=field_name), field=field_name)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(
            _("{field} 最多 {n} 位小数。").format(field=field_name, n=places), field=field_name
        )
    return number
