"""Labels: codes, QR label sheets, and the phone-first scan pages."""

from flask import Flask


def init_app(app: Flask) -> None:
    from labels import api, phone, views

    del phone  # its routes are on the pages' blueprint

    app.register_blueprint(views.bp)
    api.init_app(app)
