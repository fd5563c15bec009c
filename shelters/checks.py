"""The shelter services' input checks: the core checks (``readiness.checks``) with the
shelters' field names (``_label``, the words of the form) and their optional measurements
(blank is None; a value is padded to its decimal places)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l

from readiness import checks

TEXT_MAX = 2000
PERSON_MAX = 60


# The words of the form, translated only when a message needs one (a dict of translated
# strings rebuilt on every call cost 20 translations a field: 19 s of a 5,000-row import).
_LABELS = {
    "name": _l("名称"),
    "town": _l("所属镇/街道"),
    "village": _l("村/社区名称"),
    "population": _l("人口"),
    "to_relocate": _l("需转移人口"),
    "capacity": _l("核定容量"),
    "area_m2": _l("可用面积"),
    "address": _l("地址"),
    "manager_name": _l("管理员"),
    "manager_phone": _l("联系电话"),
    "contacts": _l("其他联系人"),
    "note": _l("备注"),
    "inspector": _l("检查人"),
    "text": _l("问题描述"),
    "resolution": _l("整改情况"),
    "replenished_qty": _l("补充物资件数"),
    "rotated_qty": _l("轮换过期物资件数"),
    "subsidy": _l("补助资金"),
    "latitude": _l("纬度"),
    "longitude": _l("经度"),
}


def _label(name: str) -> str:
    label = _LABELS.get(name)
    return str(label) if label is not None else name


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
