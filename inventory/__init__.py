"""Inventory: item catalog, the equipment standard, the ledger, stocktakes, shortfall."""

from flask import Flask


def init_app(app: Flask) -> None:
    from inventory import allocation_views, allocations_api, api, views

    app.register_blueprint(views.bp)
    app.register_blueprint(allocation_views.bp)
    api.init_app(app)
    allocations_api.init_app(app)
