"""The register of corrective actions (整改台账), below the features that feed it, and the
inspection visits (督察检查) whose findings it records."""

from flask import Flask


def init_app(app: Flask) -> None:
    from rectification import api, views

    api.init_app(app)
    app.register_blueprint(views.bp)
    from rectification import reports_api, reports_views

    app.register_blueprint(reports_views.bp)
    reports_api.init_app(app)
