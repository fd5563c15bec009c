"""Inventory: item catalog, the equipment standard, the ledger, stocktakes, shortfall."""

from flask import Flask


def init_app(app: Flask) -> None:
    from inventory import (
        allocations_api,
        allocations_views,
        api,
        maintenance_api,
        maintenance_views,
        preseason_api,
        preseason_views,
        rounds_api,
        rounds_views,
        views,
    )

    app.register_blueprint(views.bp)
    app.register_blueprint(allocations_views.bp)
    app.register_blueprint(maintenance_views.bp)
    app.register_blueprint(rounds_views.bp)
    app.register_blueprint(preseason_views.bp)
    api.init_app(app)
    allocations_api.init_app(app)
    maintenance_api.init_app(app)
    rounds_api.init_app(app)
    preseason_api.init_app(app)
