"""Language selection: ?lang= for this browser, else the user's choice, else Chinese."""

from __future__ import annotations

from flask import Flask, g, has_request_context, request, session
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from sqlalchemy import func

from readiness.extensions import babel
from readiness.models import LANGUAGES

TRANSLATIONS = "translations"


def select_locale() -> str:
    from readiness.auth import current_actor

    if not has_request_context():
        return "zh"
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    current_actor()
    language = g.get("actor_language")
    return language if language in LANGUAGES else "zh"


def is_english() -> bool:
    """Whether this request reads English (outside a request: Chinese)."""
    if not has_request_context():
        return False
    locale = get_locale()
    return locale is not None and locale.language == "en"


def in_language(zh: str, en: str | None) -> str:
    """A record's text kept in both languages, as the reader reads it: the English in the
    English UI when there is one, else the Chinese (the record's own)."""
    return en if en and is_english() else zh


def in_language_sql(zh, en, english: bool):
    """``in_language`` for SQL to sort or search by: two columns kept in Chinese and
    English, read as the reader reads them (``english``: the reader's UI is English)."""
    return func.coalesce(func.nullif(en, ""), zh) if english else zh


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=TRANSLATIONS,
    )
    app.jinja_env.filters["datetime"] = lambda v, fmt="yyyy-MM-dd HH:mm": (
        format_datetime(v, fmt) if v else ""
    )
    app.jinja_env.filters["date"] = lambda v: format_date(v, "yyyy-MM-dd") if v else ""
    app.jinja_env.filters["number"] = lambda v: format_decimal(v) if v is not None else ""
