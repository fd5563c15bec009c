"""Inventory: item catalog, the equipment standard, the ledger, stocktakes, shortfall."""

from flask import Flask


def init_app(app: Flask) -> None:
    from inventory import api, views

    app.register_blueprint(views.bp)
    api.init_app(app)
