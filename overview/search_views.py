"""The search page behind the header's search box: a label code opens its scan page, anything
else lists what matched, kind by kind."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from overview import search
from readiness.auth import current_actor, permission
from readiness.extensions import db
from readiness.lists import SEARCH_MAX

bp = Blueprint("search", __name__)


@bp.app_context_processor
def header_search() -> dict:
    """Offer the search to the header of every page (the core's layout names no overview
    page: it shows the box where this blueprint is installed)."""
    return {"header_search_url": url_for("search.results")}


@bp.route("/search")
@permission("home.view")
def results():
    """Find a unit, item, label, person, drill or shelter site by name or code."""
    q = " ".join(request.args.get("q", "").split())[:SEARCH_MAX]
    actor = current_actor()
    found = None
    if q:
        code = search.label_code(db.session, actor, q)
        if code:
            return redirect(url_for("labels.scan", code=code))
        found = search.find(db.session, actor, q)
    return render_template("overview/search.html", q=q, found=found)
