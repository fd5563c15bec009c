"""Drills: records, findings and corrective actions, requirements and compliance."""

from flask import Flask


def init_app(app: Flask) -> None:
    from drills import api, views

    app.register_blueprint(views.bp)
    api.init_app(app)
