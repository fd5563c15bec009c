"""The shelter services' input checks: the core checks (``readiness.checks``) with the
shelters' field names (``_label``, the words of the form) and their optional measurements
(blank is None; a value is padded to its decimal places)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from readiness import checks

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
    return checks.check_text(value, name, limit=limit, required=required, label=_label(name))


def _whole(value, name: str, maximum: int) -> int:
    """A whole number 0..maximum; digits in a string are accepted (forms, imported files)."""
    return checks.check_whole(value, name, maximum=maximum, label=_label(name))


def _decimal(value, name: str, *, places: int, maximum: Decimal, minimum=Decimal(0)):
    """An optional measurement: None when blank, else padded to ``places`` decimals."""
    if value is None or value == "":
        return None
    number = checks.check_decimal(
        value, name, places=places, maximum=maximum, minimum=minimum, label=_label(name)
    )
    return number.quantize(Decimal(1).scaleb(-places))


def _coordinate(value, name: str, limit: int) -> Decimal | None:
    return _decimal(value, name, places=6, maximum=Decimal(limit), minimum=Decimal(-limit))
