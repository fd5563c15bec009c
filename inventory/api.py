"""JSON API for items, the standard, movements, stock, counts and the shortfall report."""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
