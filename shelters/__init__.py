"""Shelters: towns and villages, shelter sites, inspections and coverage against the target."""

from flask import Flask


def init_app(app: Flask) -> None:
    from shelters import api, views

    app.register_blueprint(views.bp)
    api.init_app(app)
