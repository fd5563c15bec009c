"""Drills: records, findings and corrective actions, requirements and compliance."""

from flask import Flask


def init_app(app: Flask) -> None:
    from drills import api, attachments_api, attachments_views, package_views, views

    app.register_blueprint(views.bp)
    app.register_blueprint(attachments_views.bp)
    api.init_app(app)
    attachments_api.init_app(app)
    package_views.init_app(app)
