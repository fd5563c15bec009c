"""JSON API for towns and villages, shelter sites, inspections and coverage."""

from __future__ import annotations

from flask import Blueprint, Flask

from readiness.extensions import csrf

bp = Blueprint("shelters_api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
