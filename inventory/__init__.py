"""Inventory: item catalog, the equipment standard, the ledger, stocktakes, shortfall."""

from flask import Flask


def init_app(app: Flask) -> None:
    from inventory import allocations, api, views  # noqa: F401  (allocations feeds inbound)

    app.register_blueprint(views.bp)
    api.init_app(app)
