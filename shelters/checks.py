"""Small input checks shared by the shelter services: text, whole numbers, decimals, dates.

Each refusal is a DomainError naming the field, in the words of the form (``_label``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from readiness.errors import DomainError

TEXT_MAX = 2000
PERSON_MAX = 60


def _label(name: str) -> str:
    return {
        "name": _("名称"),
        "town": _("所属镇/街道"),
        "village": _("村/社区名称"),
        "population": _("人口"),
        "to_relocate": _("需转移人口"),
        "capacity": _("核定容量"),
        "area_m2": _("可用面积"),
        "address": _("地址"),
        "manager_name": _("管理员"),
        "manager_phone": _("联系电话"),
        "contacts": _("其他联系人"),
        "note": _("备注"),
        "inspector": _("检查人"),
        "text": _("问题描述"),
        "resolution": _("整改情况"),
        "replenished_qty": _("补充物资件数"),
        "rotated_qty": _("轮换过期物资件数"),
        "subsidy": _("补助资金"),
        "latitude": _("纬度"),
        "longitude": _("经度"),
    }.get(name, name)


def _text(value, name: str, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError(_("字段 {name} 的类型不正确。").format(name=name), field=name)
    value = value.strip()
    if required and not value:
        raise DomainError(_("请填写{field}。").format(field=_label(name)), field=name)
    if len(value) > limit:
        raise DomainError(
            _("{field}不能超过 {n} 个字。").format(field=_label(name), n=limit), field=name
        )
    return value


def _whole(value, name: str, maximum: int) -> int:
    """A whole number 0..maximum; digits in a string are accepted (forms, imported files)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets store whole numbers as floats
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_("{field}必须是整数。").format(field=_label(name)), field=name)
    if value < 0:
        raise DomainError(_("{field}不能为负数。").format(field=_label(name)), field=name)
    if value > maximum:
        raise DomainError(
            _("{field}不能超过 {n}。").format(field=_label(name), n=f"{maximum:,}"), field=name
        )
    return value


def _decimal(value, name: str, *, places: int, maximum: Decimal, minimum=Decimal(0)):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DomainError(_("{field}必须是数字。").format(field=_label(name)), field=name)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("{field}必须是数字。").format(field=_label(name)), field=name) from None
    if not number.is_finite():
        raise DomainError(_("{field}必须是数字。").format(field=_label(name)), field=name)
    if number < minimum:
        raise DomainError(_("{field}不能为负数。").format(field=_label(name)), field=name)
    if number > maximum:
        raise DomainError(_("{field}数值过大。").format(field=_label(name)), field=name)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(
            _("{field}最多 {n} 位小数。").format(field=_label(name), n=places), field=name
        )
    return number.quantize(Decimal(1).scaleb(-places))


def _coordinate(value, name: str, limit: int) -> Decimal | None:
    number = _decimal(value, name, places=6, maximum=Decimal(limit), minimum=Decimal(-limit))
    return number


def _past_date(value, name: str, today: date, label: str) -> date:
    if not isinstance(value, date):
        raise DomainError(_("请填写{field}。").format(field=label), field=name)
    if value > today:
        raise DomainError(_("{field}不能晚于今天。").format(field=label), field=name)
    if value.year < 1950:
        raise DomainError(_("{field}不正确。").format(field=label), field=name)
    return value
