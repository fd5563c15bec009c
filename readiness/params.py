"""Whole numbers from the query string, refused with a 400 naming the parameter when out of range.

``request.args.get(name, type=int)`` accepts any length: a 40-digit id overflows the database
driver, a year of 10000 overflows ``date`` and both answered 500.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from readiness.errors import DomainError

# The range of an id column on every backend (as the ``<int:…>`` route converter).
ID_MAX = 2**31 - 1
# Years the drill pages and reports accept (the compliance report's range).
YEAR_MIN, YEAR_MAX = 2000, 2100
# A page number beyond any listing; keeps OFFSET inside a 64-bit integer.
PAGE_MAX = 1_000_000


class BadParameter(DomainError):
    status = 400
    code = "bad_request"


def whole_number(raw: str | None, name: str, low: int, high: int) -> int | None:
    """``raw`` as an int in low..high; None when empty; BadParameter naming ``name`` otherwise."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    digits = text[1:] if text.startswith("-") else text
    # isascii: "²" and other Unicode digits pass isdigit() but not int()
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 12) or not (
        low <= int(text) <= high
    ):
        raise BadParameter(
            _("参数 {name} 必须是 {low} 到 {high} 之间的整数。").format(
                name=name, low=low, high=high
            ),
            field=name,
        )
    return int(text)


def int_arg(name: str, default: int | None = None, *, low: int = 1, high: int = ID_MAX):
    """The query parameter ``name`` as an int in low..high, ``default`` when absent or empty."""
    value = whole_number(request.args.get(name), name, low, high)
    return default if value is None else value


def year_arg(name: str = "year", default: int | None = None) -> int | None:
    """A year from the query string (YEAR_MIN..YEAR_MAX)."""
    return int_arg(name, default, low=YEAR_MIN, high=YEAR_MAX)


def page_arg() -> int:
    """``?page=``: 1 when absent."""
    return int_arg("page", 1, low=1, high=PAGE_MAX)


def form_int(name: str, default: int | None = None, *, low: int = 1, high: int = ID_MAX):
    """A posted form field ``name`` as an int in low..high (an id, by default)."""
    value = whole_number(request.form.get(name), name, low, high)
    return default if value is None else value
