"""The register of corrective actions (整改台账), below the features that feed it, and the
inspection visits (督察检查) whose findings it records."""

from flask import Flask


def init_app(app: Flask) -> None:
    from rectification import api, reports_api, reports_views, views

    api.init_app(app)
    reports_api.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(reports_views.bp)
