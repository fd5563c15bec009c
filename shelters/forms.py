"""Shelter forms: shape only; the rules (and their Chinese refusals) live in the services
(shelters.places, shelters.sites, shelters.inspections, shelters.coverage).

Numbers and dates are text fields on purpose: the service judges them and says what is wrong
in the words the bureaus use, on the field concerned.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    BooleanField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)

from readiness.forms import SafeForm
from shelters.models import LEVELS, STATUSES, STRUCTURES

DEFECT_ROWS = 5


def _choices(labels: dict) -> list[tuple[str, str]]:
    return [(code, str(label)) for code, label in labels.items()]


class ShelterForm(SafeForm):
    name = StringField(_l("场所名称"))
    town = SelectField(_l("所属镇/街道"), choices=[], validate_choice=False)
    level = SelectField(_l("场所级别"), choices=[], validate_choice=False, default="village")
    capacity = StringField(
        _l("核定容量（人）"),
        description=_l("规范化场所不少于：县级 200 人，乡镇级 100 人，村级 50 人"),
    )
    area_m2 = StringField(
        _l("可用面积（m²）"), description=_l("按人均 1.5 m² 计算面积可容纳人数（GB 21734）")
    )
    address = StringField(_l("地址"))
    latitude = StringField(_l("纬度"))
    longitude = StringField(_l("经度"))
    structure = SelectField(_l("建筑结构"), choices=[], validate_choice=False)
    is_accessible = BooleanField(_l("有无障碍设施"))
    has_generator = BooleanField(_l("有备用电源（发电机）"))
    is_in_floodplain = BooleanField(_l("位于洪涝淹没区"))
    status = SelectField(_l("状态"), choices=[], validate_choice=False, default="active")
    manager_name = StringField(_l("管理员"))
    manager_phone = StringField(_l("联系电话"))
    contacts = TextAreaField(_l("其他联系人"))
    note = TextAreaField(_l("备注"))
    villages = SelectMultipleField(_l("服务的村/社区"), choices=[], validate_choice=False)
    version = HiddenField()
    submit = SubmitField(_l("保存"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.level.choices = _choices(LEVELS)
        self.status.choices = _choices(STATUSES)
        self.structure.choices = _choices(STRUCTURES)


class InspectionForm(SafeForm):
    inspected_on = StringField(_l("检查日期"))
    inspector = StringField(_l("检查人"))
    replenished_qty = StringField(_l("补充物资件数"), default="0")
    rotated_qty = StringField(_l("轮换过期物资件数"), default="0")
    subsidy = StringField(_l("补助资金（元）"), default="0")
    note = TextAreaField(_l("备注"))
    # the checklist and defect rows are hand-built (check-<item>, defect-<n>, fixed-<n>);
    # these two only carry the service's refusal about them
    checklist = HiddenField()
    defects = HiddenField()
    request_key = HiddenField()
    submit = SubmitField(_l("登记检查"))


class AcceptanceForm(SafeForm):
    """Command staff accept a site; the documents are read from the request's ``files``."""

    accepted_on = StringField(_l("验收日期"))
    note = TextAreaField(_l("验收意见"))
    files = MultipleFileField(
        _l("验收材料"), description=_l("如房屋安全检测报告、验收表、照片；PDF、图片、Word 或 Excel")
    )
    submit = SubmitField(_l("验收通过"))


class AcceptanceRequestForm(SafeForm):
    note = TextAreaField(_l("申请说明"))
    submit = SubmitField(_l("申请验收"))


class WithdrawAcceptanceForm(SafeForm):
    reason = TextAreaField(_l("撤销原因"))
    submit = SubmitField(_l("撤销验收"))


class CoverageTargetForm(SafeForm):
    target = StringField(_l("本单位覆盖率目标"))
    submit = SubmitField(_l("保存目标"))


class ImportForm(SafeForm):
    file = FileField(
        _l("村/社区名单文件"),
        description=_l("CSV（UTF-8 或 GBK）或 XLSX，最多 5,000 行"),
    )
    submit = SubmitField(_l("预览"))


class ImportConfirmForm(SafeForm):
    rows = HiddenField()
    submit = SubmitField(_l("确认导入"))
