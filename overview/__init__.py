"""Overview: the pages above the features — the home page with its dashboard, and the
handover (人事调整) of what a person holds in stock, drills and allocations.

It reads every feature package; no feature and no core module imports it.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    from overview import handover_views, home, ranking_views, search_views
    from readiness.admin_views import user_deactivated

    # The home page keeps its endpoint name ``main.home`` (used across templates and
    # redirects), beside the core's ``main.language``; the ``main`` blueprint is the core's.
    app.add_url_rule("/", endpoint="main.home", view_func=home.home)
    app.register_blueprint(handover_views.bp)
    app.register_blueprint(ranking_views.bp)
    app.register_blueprint(search_views.bp)
    user_deactivated.connect(handover_views.warn_if_holding, sender=app)
