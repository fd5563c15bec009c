"""The coverage page: villages covered by standardized shelter sites, per town, vs the target."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.routing import BuildError

from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.models import Unit
from readiness.pages import form_error
from readiness.permissions import can
from shelters import acceptance, places
from shelters import coverage as cov
from shelters.forms import CoverageTargetForm
from shelters.reports import coverage_download, percent, target_percent
from shelters.views import bp


def _site_url(shelter_id: int) -> str:
    try:
        return url_for("shelters.site_detail", shelter_id=shelter_id)
    except BuildError:  # the site pages may not be registered yet
        return f"{request.script_root}{bp.url_prefix}/sites/{shelter_id}"


def _unit_choices(reach: set[int] | None) -> list[tuple[str, str]]:
    """The towns in reach and the units above them (the bureau), indented as a tree."""
    keep: set[int] = set()
    for town in places.towns(db.session, reach):
        unit = town
        while unit is not None and (reach is None or unit.id in reach):
            keep.add(unit.id)
            unit = unit.parent
    actor = current_actor()
    roots = None if reach is None else ({actor.unit_id} if actor.unit_id else set())
    return [
        (u.code, "\u00a0\u00a0" * depth + u.name)
        for u, depth in core.unit_tree(db.session, roots)
        if u.id in keep
    ]


def _band(row, target) -> str:
    if not row.villages:
        return "off"
    if row.meets_target:
        return "green"
    # each town against its own target (a unit nearer the town may set another)
    return "red" if row.coverage < float(row.target) / 2 else "amber"


def _target_value(target) -> str:
    """The target for the input box, read back the same way: 60 for 0.6; a target of 1% or
    less stays a fraction (0.01), since "1" would be read back as 100%."""
    pct = target * 100
    return f"{pct.normalize():f}" if pct > 1 else f"{target.normalize():f}"


@bp.route("/target", methods=["POST"])
@permission("shelters.target")
def coverage_target():
    """Command staff set their unit's coverage target (it applies to the towns below)."""
    form = CoverageTargetForm()
    actor = current_actor()
    if form.validate_on_submit():
        unit = db.session.get(Unit, actor.unit_id) if actor.unit_id else None
        try:
            row = cov.set_target(db.session, unit, form.target.data, actor=actor)
        except DomainError as err:
            db.session.rollback()
            form_error(form, err, "target")
        else:
            db.session.commit()
            flash(
                _("已将{unit}的覆盖率目标设为 {target}。").format(
                    unit=unit.name, target=target_percent(row.target)
                ),
                "success",
            )
            return redirect(url_for("shelters.coverage"))
    return _coverage_page(form)


@bp.route("/")
@permission("shelters.view")
def coverage():
    """How many villages active standardized sites cover, per town and overall, against the
    target; which villages are left and which sites would close the gap."""
    return _coverage_page()


def _coverage_page(target_form: CoverageTargetForm | None = None):
    actor = current_actor()
    errors: dict[str, str] = {}
    default = current_app.config["SHELTER_COVERAGE_TARGET"]
    raw_target = request.args.get("target", "").strip()
    override = None
    if raw_target:
        try:
            override = cov.parse_target(raw_target, default)
        except DomainError as err:
            errors["target"] = err.message
    reach = core.visible_unit_ids(db.session, actor)
    scope, scope_label, scope_unit = reach, None, None
    unit_code = (request.args.get("unit") or "").strip()
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None or (reach is not None and unit.id not in reach):
            errors["unit"] = _("单位 {code} 不存在或不在您的管辖范围内。").format(
                code=unit_code[:32]
            )
        else:
            scope, scope_label = cov.scope_for(db.session, actor, unit_code), unit.name
            scope_unit = unit
    report, in_force = cov.report_for(
        db.session,
        scope,
        unit_id=scope_unit.id if scope_unit else actor.unit_id,
        default=default,
        override=override,
    )
    target = report.target
    own_unit = db.session.get(Unit, actor.unit_id) if actor.unit_id else None
    may_set = own_unit is not None and can(db.session, actor, "shelters.target", own_unit)
    own = cov.target_in_force(db.session, own_unit.id, default) if own_unit else None
    if target_form is None and may_set:
        target_form = CoverageTargetForm(formdata=None, target=_target_value(own.target))
    if not errors:
        response = coverage_download(
            request.args.get("format", "html"), report, scope_label=scope_label
        )
        if response is not None:
            return response
    towns = {t.town_id: t.town for t in report.towns}
    args = {k: v for k, v in request.args.items() if k != "format" and not errors.get(k)}
    return render_template(
        "shelters/coverage.html",
        report=report,
        towns=towns,
        errors=errors,
        raw_target=raw_target if "target" in errors else "",
        overridden=override is not None,
        target_value=_target_value(target),
        in_force=in_force,
        pending=len(acceptance.pending_requests(db.session, reach))
        if can(db.session, actor, "shelters.accept")
        else 0,
        target_hint=cov.TARGET_HINT,
        own_unit=own_unit,
        own_target=own,
        target_form=target_form if may_set else None,
        target_label=target_percent(target),
        unit_code=unit_code,
        unit_choices=_unit_choices(reach),
        scope_label=scope_label,
        args=args,
        band=lambda row: _band(row, target),
        percent=percent,
        site_url=_site_url,
    )
