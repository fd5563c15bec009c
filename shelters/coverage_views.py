"""The coverage page: villages covered by standardized shelter sites, per town, vs the target."""

from __future__ import annotations

from flask import current_app, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.routing import BuildError

from readiness import services as core
from readiness.auth import current_actor, permission
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.models import Unit
from shelters import coverage as cov
from shelters import places
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
    return "red" if row.coverage < float(target) / 2 else "amber"


def _target_value(target) -> str:
    """The target for the input box, read back the same way: 60 for 0.6; a target of 1% or
    less stays a fraction (0.01), since "1" would be read back as 100%."""
    pct = target * 100
    return f"{pct.normalize():f}" if pct > 1 else f"{target.normalize():f}"


@bp.route("/")
@permission("shelters.view")
def coverage():
    """How many villages active standardized sites cover, per town and overall, against the
    target; which villages are left and which sites would close the gap."""
    actor = current_actor()
    errors: dict[str, str] = {}
    default = current_app.config["SHELTER_COVERAGE_TARGET"]
    raw_target = request.args.get("target", "").strip()
    try:
        target = cov.parse_target(raw_target, default)
    except DomainError as err:
        errors["target"] = err.message
        target = cov.parse_target(None, default)
    reach = core.visible_unit_ids(db.session, actor)
    scope, scope_label = reach, None
    unit_code = (request.args.get("unit") or "").strip()
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None or (reach is not None and unit.id not in reach):
            errors["unit"] = _("单位 {code} 不存在或不在您的管辖范围内。").format(
                code=unit_code[:32]
            )
        else:
            scope, scope_label = cov.scope_for(db.session, actor, unit_code), unit.name
    report = cov.coverage(db.session, target, unit_ids=scope)
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
        target_value=_target_value(target),
        target_label=target_percent(target),
        unit_code=unit_code,
        unit_choices=_unit_choices(reach),
        scope_label=scope_label,
        args=args,
        band=lambda row: _band(row, target),
        percent=percent,
        site_url=_site_url,
    )
