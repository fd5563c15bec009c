"""Lists people search, sort and filter as in the tools they know (issue 22).

What a list shows is all in its URL: ``?q=`` searches the list's text columns, ``?sort=``
and ``?dir=`` order it by a column, and each filter is its own argument. A filtered, sorted
list can therefore be bookmarked, paged and downloaded exactly as shown: the download links
carry the same arguments and the view applies the same ``ListSpec`` to the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flask import flash, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select, or_
from sqlalchemy.sql.elements import ColumnElement

# A search longer than this is cut: no list has a name this long, and the text goes into SQL.
SEARCH_MAX = 100


@dataclass(frozen=True)
class Column:
    """A sortable column: its key in ``?sort=`` and what it sorts by."""

    key: str
    order: tuple[ColumnElement, ...]


@dataclass(frozen=True)
class ListSpec:
    """How one list searches and sorts: the text columns ``?q=`` looks in, the sortable
    columns (the first is the default, ``default_desc`` its direction), and the column that
    breaks ties so that paging never shows a row twice."""

    search: tuple[ColumnElement, ...]
    columns: tuple[Column, ...]
    tiebreak: ColumnElement
    default_desc: bool = False

    def column(self, key: str | None) -> Column:
        return next((c for c in self.columns if c.key == key), self.columns[0])


@dataclass
class Shown:
    """The list as the request asks for it: the search, the sort and every other argument
    (filters), for the page's links."""

    q: str
    sort: str
    desc: bool
    args: dict[str, str] = field(default_factory=dict)

    def sort_args(self, key: str) -> dict[str, str]:
        """The arguments of a link sorting by ``key``: the other way round when the list is
        sorted by it already; the filters and the search kept, back to the first page."""
        desc = not self.desc if key == self.sort else False
        args = {k: v for k, v in self.args.items() if k not in ("page", "sort", "dir")}
        return args | {"sort": key, "dir": "desc" if desc else "asc"}

    def sort_url(self, key: str) -> str:
        return _here(self.sort_args(key))

    def download_url(self, fmt: str) -> str:
        """The list as shown, as a file (every matching row, in this order)."""
        return _here(self.args | {"format": fmt})

    def direction(self, key: str) -> str | None:
        """``aria-sort`` of a column: ascending, descending, or None when not sorted by it."""
        if key != self.sort:
            return None
        return "descending" if self.desc else "ascending"


def _here(args: dict[str, str]) -> str:
    """This page (its path arguments kept) with these query arguments."""
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def shown(spec: ListSpec) -> Shown:
    """What the request asks of a list; an unknown sort or direction is the default."""
    column = spec.column(request.args.get("sort"))
    raw_dir = request.args.get("dir")
    if column.key == request.args.get("sort") and raw_dir in ("asc", "desc"):
        desc = raw_dir == "desc"
    else:
        desc = spec.default_desc if column is spec.columns[0] else False
    args = {k: v for k, v in request.args.items() if k not in ("page", "format")}
    q = " ".join(request.args.get("q", "").split())[:SEARCH_MAX]
    return Shown(q=q, sort=column.key, desc=desc, args=args)


def apply(stmt: Select, spec: ListSpec, state: Shown) -> Select:
    """``stmt`` searched and sorted as ``state`` asks (filters are the view's own)."""
    if state.q:
        stmt = stmt.where(or_(*(col.icontains(state.q, autoescape=True) for col in spec.search)))
    order = spec.column(state.sort).order
    # empty values last either way, on both databases (their defaults differ)
    keys: Sequence[ColumnElement] = [
        (c.desc() if state.desc else c.asc()).nulls_last() for c in order
    ]
    tiebreak = spec.tiebreak.desc() if state.desc else spec.tiebreak.asc()
    return stmt.order_by(None).order_by(*keys, tiebreak)


def unit_filter(units: Sequence, name: str = "unit"):
    """The unit ``?unit=CODE`` names among ``units`` (those the reader may pick), or None;
    a code that is not one of them is said on the page and filters nothing."""
    code = request.args.get(name, "").strip()
    if not code:
        return None
    unit = next((u for u in units if u.code == code), None)
    if unit is None:
        flash(_("单位 {code} 不存在或不在您的管辖范围内。").format(code=code[:32]), "error")
    return unit


def unknown_filter(label: str, value: str) -> None:
    """Say on the page that a filter's value is not one of its choices (it filters nothing)."""
    flash(
        _("{label}没有“{value}”这一项，未按它筛选。").format(label=label, value=value[:40]),
        "error",
    )


def choice_filter(name: str, choices, label: str) -> str | None:
    """``?name=`` when it is one of ``choices``; an unknown value is said and ignored."""
    value = request.args.get(name, "")
    if not value:
        return None
    if value not in choices:
        unknown_filter(label, value)
        return None
    return value
