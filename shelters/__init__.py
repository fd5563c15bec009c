"""Shelters: towns and villages, shelter sites, inspections and coverage against the target."""

from flask import Flask


def init_app(app: Flask) -> None:
    # coverage_views adds its routes to the shelters blueprint before it is registered
    from shelters import api, coverage_views, views

    del coverage_views
    app.register_blueprint(views.bp)
    api.init_app(app)
