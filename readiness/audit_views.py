"""Browsing and exporting the audit log (read-only: there is no route that changes it)."""

from __future__ import annotations

import json

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from readiness import audit, audit_words
from readiness.auth import current_actor, permission
from readiness.exports import csv_response
from readiness.extensions import db
from readiness.forms import AuditFilterForm
from readiness.params import ID_MAX, page_arg, whole_number
from readiness.services import unit_ids_below, visible_unit_ids

bp = Blueprint("audit", __name__)


def _filtered(form: AuditFilterForm):
    # Command staff and inspectors read their own bureau's trail only; the administrator
    # (who keeps accounts and units everywhere) reads all of it.
    unit_ids = visible_unit_ids(db.session, current_actor())
    unit_id = whole_number(form.unit.data, "unit", 1, ID_MAX)
    if unit_id is not None:
        below = unit_ids_below(db.session, unit_id)
        unit_ids = below if unit_ids is None else below & unit_ids
    return audit.audit_query(
        actor=(form.actor.data or "").strip() or None,
        unit_ids=unit_ids,
        object_type=form.object_type.data or None,
        object_id=(form.object_id.data or "").strip() or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


def _filter_form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    reach = visible_unit_ids(db.session, current_actor())
    form.unit.choices = [("", _("全部单位"))] + [
        (str(u.id), f"{u.name} ({u.code})")
        for u in audit.unit_choices(db.session)
        if reach is None or u.id in reach
    ]
    form.object_type.choices = [("", _("全部"))] + [
        (t, audit_words.object_noun(t)) for t in audit.object_types(db.session)
    ]
    form.validate()
    return form


@bp.route("/audit")
@permission("audit.view")
def index():
    """Who did what, when, to which record — in words, linked to the record — newest first."""
    form = _filter_form()
    page = page_arg()
    size = 50
    stmt = _filtered(form)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    entries = db.session.scalars(stmt.limit(size).offset((page - 1) * size)).all()
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "readiness/audit.html",
        form=form,
        entries=entries,
        words=audit_words.sentences(db.session, current_actor(), entries),
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        args=args,
    )


@bp.route("/audit.csv")
@permission("audit.view")
def export_csv():
    """The filtered audit log as CSV."""
    form = _filter_form()
    header = [
        _("编号"),
        _("时间(UTC)"),
        _("操作人"),
        _("操作"),
        _("对象类型"),
        _("对象编号"),
        _("单位"),
        _("说明"),
        _("修改前"),
        _("修改后"),
    ]

    def rows():
        for e in db.session.scalars(_filtered(form).execution_options(yield_per=500)):
            yield [
                e.id,
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor_name,
                e.action,
                e.object_type,
                e.object_id,
                e.unit.code if e.unit else "",
                e.summary,
                json.dumps(e.before, ensure_ascii=False) if e.before else "",
                json.dumps(e.after, ensure_ascii=False) if e.after else "",
            ]

    return csv_response("audit-log", header, rows())
