"""Forms for sign-in, accounts, units, users and the audit filter.

They check shape only; the rules live in the services.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from readiness.models import ROLES, UNIT_KINDS
from readiness.text import first_unsafe, unsafe_message


def _leaf_fields(form):
    for field in form:
        if hasattr(field, "entries"):  # FieldList
            for entry in field.entries:
                yield from _leaf_fields([entry])
        elif hasattr(field, "form"):  # FormField
            yield from _leaf_fields(field.form)
        else:
            yield field


class SafeForm(FlaskForm):
    """Every form of the app: besides its own checks, refuses what no record may hold."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in _leaf_fields(self):
            for raw in field.raw_data or ():
                char = first_unsafe(raw) if isinstance(raw, str) else None
                if char is not None:
                    field.errors = [*field.errors, unsafe_message(str(field.label.text), char)]
                    valid = False
                    break
        return valid


class LoginForm(SafeForm):
    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=40)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=128)])
    remember = BooleanField(_l("在此设备上保持登录"))
    submit = SubmitField(_l("登录"))


class ChangePasswordForm(SafeForm):
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(), Length(max=128)])
    new_password = PasswordField(_l("新密码"), validators=[DataRequired(), Length(min=8, max=128)])
    confirm = PasswordField(_l("再次输入新密码"), validators=[DataRequired(), Length(max=128)])
    submit = SubmitField(_l("修改密码"))

    def validate_confirm(self, field):
        if field.data != self.new_password.data:
            raise ValidationError(_l("两次输入的新密码不一致。"))


class UnitForm(SafeForm):
    code = StringField(
        _l("单位代码"),
        description=_l("字母、数字、- 或 _，用于网址、标签和接口，创建后不可更改"),
        validators=[DataRequired(), Length(max=32)],
    )
    name = StringField(_l("单位名称"), validators=[DataRequired(), Length(max=100)])
    kind = SelectField(_l("单位类型"), choices=[], validators=[DataRequired()])
    parent = SelectField(_l("上级单位"), choices=[], validate_choice=False)
    headcount = IntegerField(
        _l("警力/人数"),
        validators=[InputRequired(), NumberRange(min=0, max=100_000)],
        default=0,
    )
    version = HiddenField()
    submit = SubmitField(_l("保存"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(code, str(label)) for code, label in UNIT_KINDS.items()]


class UserForm(SafeForm):
    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("姓名"), validators=[Optional(), Length(max=60)])
    role = SelectField(_l("角色"), choices=[], validators=[DataRequired()])
    unit = SelectField(_l("所属单位"), choices=[], validate_choice=False)
    password = PasswordField(_l("初始密码"), validators=[DataRequired(), Length(min=8, max=128)])
    version = HiddenField()
    submit = SubmitField(_l("保存"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [(code, str(label)) for code, label in ROLES.items()]


class UserEditForm(UserForm):
    password = None
    username = None


class PasswordResetForm(SafeForm):
    password = PasswordField(_l("新密码"), validators=[DataRequired(), Length(min=8, max=128)])
    submit = SubmitField(_l("重置密码"))


class ConfirmForm(SafeForm):
    """A bare POST with CSRF and the record version it was shown at."""

    version = HiddenField()
    submit = SubmitField(_l("确认"))


class AuditFilterForm(SafeForm):
    class Meta:
        csrf = False

    actor = StringField(_l("操作人"), validators=[Optional(), Length(max=40)])
    unit = SelectField(_l("单位"), choices=[], validate_choice=False)
    object_type = SelectField(_l("对象类型"), choices=[], validate_choice=False)
    object_id = StringField(_l("对象编号"), validators=[Optional(), Length(max=40)])
    date_from = DateField(_l("起始日期"), validators=[Optional()])
    date_to = DateField(_l("截止日期"), validators=[Optional()])
    submit = SubmitField(_l("筛选"))
