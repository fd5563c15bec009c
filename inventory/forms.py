"""Inventory forms: shape only; the rules live in catalog, standard, ledger and counts."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from inventory.models import MANUAL_KINDS, MOVEMENT_KINDS, TRACKING
from readiness.checks import check_expiry
from readiness.errors import DomainError
from readiness.forms import SafeForm
from readiness.models import UNIT_KINDS

WRITE_OFF_REASON_LABELS = {
    "expired": _l("过期"),
    "damaged": _l("损坏"),
    "lost": _l("丢失"),
}


class ItemForm(SafeForm):
    code = StringField(_l("物资代码"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("名称"), validators=[DataRequired(), Length(max=100)])
    category = StringField(_l("类别"), validators=[DataRequired(), Length(max=40)])
    uom = StringField(_l("计量单位"), validators=[DataRequired(), Length(max=10)])
    # The English the English UI shows (issue 22); the Chinese when left empty.
    name_en = StringField(_l("英文名称"), validators=[Optional(), Length(max=100)])
    category_en = StringField(_l("英文类别"), validators=[Optional(), Length(max=40)])
    uom_en = StringField(_l("英文计量单位"), validators=[Optional(), Length(max=20)])
    unit_cost = DecimalField(
        _l("单价（元）"), places=2, validators=[InputRequired(), NumberRange(min=0)]
    )
    shelf_life_days = IntegerField(
        _l("保质期（天）"), validators=[Optional(), NumberRange(min=1, max=36500)]
    )
    tracking = SelectField(_l("管理方式"), choices=[])
    is_active = BooleanField(_l("在用"), default=True)
    submit = SubmitField(_l("保存"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tracking.choices = [(k, str(v)) for k, v in TRACKING.items()]


class MovementForm(SafeForm):
    """A receipt, issue or write-off. Every field is on the page (the page works without
    JavaScript); the view takes only those the chosen kind and item use, and these
    validators refuse, all at once, what the choice needs and lacks."""

    kind = SelectField(_l("类型"), choices=[])
    item = SelectField(
        _l("物资"), choices=[], validate_choice=False, render_kw={"data-picker": True}
    )
    qty = IntegerField(_l("数量"), validators=[InputRequired(), NumberRange(min=1, max=1_000_000)])
    lot = StringField(_l("批次号"), validators=[Optional(), Length(max=40)])
    # Issues and write-offs pick one of the unit's lots, or none: earliest expiry first.
    lot_pick = SelectField(
        _l("出库批次"),
        choices=[],
        validate_choice=False,
        render_kw={"data-options-follow": "item"},
    )
    expires_on = DateField(_l("有效期至"), validators=[Optional()])
    serials = TextAreaField(
        _l("序列号"),
        description=_l("按件管理的物资逐件填写，用逗号或换行分隔"),
        validators=[Optional(), Length(max=5000)],
    )
    reason = SelectField(_l("报损原因"), choices=[], validate_choice=False)
    note = TextAreaField(_l("备注"), validators=[Optional(), Length(max=500)])
    request_key = HiddenField()
    submit = SubmitField(_l("登记"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k, str(MOVEMENT_KINDS[k])) for k in MANUAL_KINDS]
        self.reason.choices = [("", "—")] + [
            (k, str(v)) for k, v in WRITE_OFF_REASON_LABELS.items()
        ]

    def validate_item(self, field) -> None:
        if not field.data:
            raise ValidationError(_("请选择物资。"))

    def validate_reason(self, field) -> None:
        if self.kind.data == "write_off" and not field.data:
            raise ValidationError(_("报损核销必须选择原因：过期、损坏或丢失。"))

    def validate_expires_on(self, field) -> None:
        if self.kind.data != "receipt" or field.data is None:
            return
        try:
            check_expiry(field.data, field.name, label=_("有效期至"))
        except DomainError as err:
            raise ValidationError(err.message) from None


class StandardLineForm(Form):
    unit_kind = SelectField(_l("单位类型"), choices=[], validate_choice=False)
    item = SelectField(_l("物资"), choices=[], validate_choice=False)
    base_qty = StringField(_l("基数"), validators=[Optional(), Length(max=20)])
    per_officer = StringField(_l("每人配备"), validators=[Optional(), Length(max=20)])


class StandardForm(SafeForm):
    effective_from = DateField(_l("生效日期"), validators=[DataRequired()])
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=500)])
    lines = FieldList(FormField(StandardLineForm), min_entries=1, max_entries=5000)
    submit = SubmitField(_l("发布新版本"))

    def set_choices(self, items) -> None:
        kinds = [("", "—")] + [(k, str(v)) for k, v in UNIT_KINDS.items()]
        item_choices = [("", "—")] + [(i.code, f"{i.shown_name} ({i.code})") for i in items]
        for entry in self.lines:
            entry.form.unit_kind.choices = kinds
            entry.form.item.choices = item_choices


class OverrideForm(SafeForm):
    item = SelectField(
        _l("物资"), choices=[], validate_choice=False, render_kw={"data-picker": True}
    )
    qty = IntegerField(_l("应配数量"), validators=[Optional(), NumberRange(min=0, max=1_000_000)])
    reason = StringField(_l("原因"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("保存调整"))


class StartCountForm(SafeForm):
    note = StringField(_l("盘点说明（选填）"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("开始盘点"))


class StartCountAtForm(StartCountForm):
    """Start a count from the counts page: the unit is picked (units the user may count)."""

    unit = SelectField(
        _l("盘点单位"), choices=[], validate_choice=False, render_kw={"data-picker": True}
    )

    def validate_unit(self, field) -> None:
        if not field.data:
            raise ValidationError(_("请选择要盘点的单位。"))


class CountEntryForm(SafeForm):
    """Counted quantities come as fields named line-<id>; one field for an extra item."""

    extra_item = SelectField(
        _l("账上没有的物资"), choices=[], validate_choice=False, render_kw={"data-picker": True}
    )
    extra_lot = StringField(_l("批次号"), validators=[Optional(), Length(max=40)])
    extra_counted = IntegerField(
        _l("清点数量"), validators=[Optional(), NumberRange(min=0, max=1_000_000)]
    )
    submit = SubmitField(_l("保存清点数量"))


class ReturnCountForm(SafeForm):
    reason = StringField(_l("退回原因"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("退回重盘"))


class IntervalForm(SafeForm):
    unit_kind = SelectField(_l("单位类型"), choices=[])
    days = IntegerField(_l("盘点间隔（天）"), validators=[InputRequired(), NumberRange(1, 3660)])
    # Empty keeps what is in force; a box left unticked would silently turn blindness off.
    blind = SelectField(_l("盲盘（清点人提交前看不到账面数）"), choices=[], default="")
    submit = SubmitField(_l("保存"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_kind.choices = [(k, str(v)) for k, v in UNIT_KINDS.items()]
        self.blind.choices = [("", _l("不变")), ("1", _l("盲盘")), ("0", _l("显示账面数"))]


class ShortfallFilterForm(SafeForm):
    class Meta:
        csrf = False

    unit = SelectField(
        _l("单位范围"), choices=[], validate_choice=False, render_kw={"data-picker": True}
    )
    category = SelectField(_l("类别"), choices=[], validate_choice=False)
    item = SelectField(
        _l("物资"), choices=[], validate_choice=False, render_kw={"data-picker": True}
    )
    as_of = DateField(_l("截至日期"), validators=[Optional()])
    submit = SubmitField(_l("查询"))


class LedgerFilterForm(SafeForm):
    class Meta:
        csrf = False

    unit = SelectField(
        _l("单位范围"), choices=[], validate_choice=False, render_kw={"data-picker": True}
    )
    date_from = DateField(_l("起始日期"), validators=[Optional()])
    date_to = DateField(_l("截止日期"), validators=[Optional()])
    kind = SelectField(_l("类型"), choices=[], validate_choice=False)
    item = SelectField(
        _l("物资"), choices=[], validate_choice=False, render_kw={"data-picker": True}
    )
    submit = SubmitField(_l("查询"))
