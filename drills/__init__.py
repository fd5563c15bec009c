"""Drills: records, findings and corrective actions, requirements and compliance."""

from flask import Flask


def init_app(app: Flask) -> None:
    from drills import api, attachment_api, attachment_views, package_views, views

    app.register_blueprint(views.bp)
    app.register_blueprint(attachment_views.bp)
    api.init_app(app)
    attachment_api.init_app(app)
    package_views.init_app(app)
