"""Lists a page at a time, by keyset (issue 21): ``?limit=`` rows (default 100, at most 1,000)
after ``?cursor=``, the opaque mark the previous page's ``next_cursor`` gave.

A cursor is the last row's sort-key values, as URL-safe base64 of compact JSON, tagged with
the list it came from: the next page is the rows *after* those values in the list's order
(``(a > :a) OR (a = :a AND b > :b) …``), read through an index, never by OFFSET, so page
9,999 costs what page 2 costs. The last key of every order is unique (an id), so no row is
shown twice or skipped when rows share the other keys. A list computed in memory pages the
same way over its sorted rows.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from flask_babel import gettext as _
from pydantic import BeforeValidator, Field, WithJsonSchema
from sqlalchemy import and_, or_
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from readiness.errors import DomainError
from readiness.openapi import Answer, Query

LIMIT_DEFAULT = 100
LIMIT_MAX = 1000
# Far longer than any cursor we write; a longer one is refused before it is decoded.
CURSOR_MAX = 2000


def bad_limit() -> DomainError:
    return DomainError(
        _("limit 必须是 1 到 {high} 之间的整数。").format(high=LIMIT_MAX), field="limit"
    )


def bad_cursor(name: str = "cursor") -> DomainError:
    return DomainError(_("{name} 无效，请从第一页重新读取。").format(name=name), field=name)


def _limit(raw: Any) -> int:
    if raw is None or (isinstance(raw, int) and not isinstance(raw, bool)):
        value = LIMIT_DEFAULT if raw is None else raw
    else:
        text = str(raw).strip()
        if text == "":
            return LIMIT_DEFAULT
        # isascii: "²" and other Unicode digits pass isdigit() but not int()
        if not (text.isascii() and text.isdigit() and len(text) <= 6):
            raise bad_limit()
        value = int(text)
    if not 1 <= value <= LIMIT_MAX:
        raise bad_limit()
    return value


def _cursor(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > CURSOR_MAX:
        raise bad_cursor()
    return raw


PageLimit = Annotated[
    int,
    BeforeValidator(_limit),
    WithJsonSchema(
        {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT}
    ),
]
PageCursor = Annotated[
    str | None,
    BeforeValidator(_cursor),
    WithJsonSchema({"type": "string", "maxLength": CURSOR_MAX}),
]


class Paged(Query):
    """The query parameters of a paged list; a list's own filters come on top."""

    limit: PageLimit = Field(
        default=LIMIT_DEFAULT,
        description=f"Rows per page: 1 to {LIMIT_MAX:,} (default {LIMIT_DEFAULT})",
    )
    cursor: PageCursor = Field(
        default=None,
        description="The next_cursor of the previous page, with the same filters; "
        "absent for the first page",
    )


class PagedAnswer(Answer):
    """An answer holding one page of a list."""

    next_cursor: str | None = Field(
        default=None,
        description="Null on the last page; else pass it back as ?cursor= (with the same "
        "filters and limit, or another limit) for the next page",
    )


# ---------------------------------------------------------------- orders and cursors


@dataclass(frozen=True)
class Key:
    """One sort key: a NOT NULL column or expression (None for a list sorted in memory), the
    Python kind of its values (int, str, date or tuple: a path of texts) and its direction."""

    kind: type
    expr: ColumnElement | None = None
    descending: bool = False


@dataclass(frozen=True)
class Order:
    """A list's order: its tag (a cursor from another list is refused) and its keys, the last
    one unique."""

    tag: str
    keys: tuple[Key, ...]

    def __init__(self, tag: str, *keys: Key):
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "keys", keys)


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def encode_cursor(order: Order, values: Sequence[Any]) -> str:
    """The cursor that marks the row with these sort-key values in ``order``."""
    text = json.dumps([order.tag, [_plain(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _value(kind: type, raw: Any) -> Any:
    """A key value read back from a cursor's JSON, or ValueError if it is not of ``kind``."""
    if kind is int and isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) < 2**63:
        return raw
    if kind is str and isinstance(raw, str):
        return raw
    if kind is date and isinstance(raw, str) and len(raw) == 10:
        return date.fromisoformat(raw)
    if kind is tuple and isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        return tuple(raw)
    raise ValueError(raw)


def decode_cursor(order: Order, cursor: str, name: str = "cursor") -> tuple:
    """The sort-key values a cursor of ``order`` marks; refused (422 naming ``name``) when it
    cannot be read, was altered, or belongs to another list."""
    try:
        if len(cursor) > CURSOR_MAX:
            raise ValueError(cursor[:20])
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, raw = json.loads(text)
        if tag != order.tag or not isinstance(raw, list) or len(raw) != len(order.keys):
            raise ValueError(tag)
        return tuple(_value(k.kind, v) for k, v in zip(order.keys, raw, strict=True))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as err:
        raise bad_cursor(name) from err


# ---------------------------------------------------------------- pages


def after(keys: Sequence[Key], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after ``values`` in the order of ``keys``: (a > :a) OR (a = :a AND b > :b) …,
    each comparison in its key's direction (so mixed directions work on every backend), with
    the first key's bound repeated alone so that an index on it starts at the cursor."""
    first = keys[0].expr <= values[0] if keys[0].descending else keys[0].expr >= values[0]
    branches = []
    for i, key in enumerate(keys):
        same = [k.expr == v for k, v in zip(keys[:i], values[:i], strict=True)]
        beyond = key.expr < values[i] if key.descending else key.expr > values[i]
        branches.append(and_(*same, beyond))
    return and_(first, or_(*branches))


def keyset(
    stmt: Select, order: Order, limit: int, cursor: str | None, name: str = "cursor"
) -> Select:
    """``stmt`` in ``order``, from the row after ``cursor``, ``limit`` + 1 rows (one more
    than a page, to know whether another page follows), each row ending with its key values."""
    keys = order.keys
    stmt = stmt.order_by(None).order_by(
        *(k.expr.desc() if k.descending else k.expr.asc() for k in keys)
    )
    if cursor is not None:
        stmt = stmt.where(after(keys, decode_cursor(order, cursor, name)))
    return stmt.add_columns(*(k.expr for k in keys)).limit(limit + 1)


def page(
    session: Session,
    stmt: Select,
    order: Order,
    limit: int,
    cursor: str | None,
    *,
    unique: bool = False,
    name: str = "cursor",
) -> tuple[list, str | None]:
    """One page of ``stmt`` (a select of one entity or of columns) in ``order``: its rows
    (entities, or tuples of the selected columns) and the cursor of the next page (None on
    the last). ``unique`` for a select that eager-joins a collection; ``name`` is the query
    parameter a refused cursor came in."""
    result = session.execute(keyset(stmt, order, limit, cursor, name))
    rows = list(result.unique() if unique else result)
    n = len(order.keys)
    width = len(rows[0]) - n if rows else 0
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(order, tuple(rows[-1][width:]))
    if width == 1:
        return [row[0] for row in rows], next_cursor
    return [tuple(row[:width]) for row in rows], next_cursor


def _compare(keys: Sequence[Key], row: Sequence[Any], mark: Sequence[Any]) -> int:
    """-1, 0 or 1 as key values ``row`` come before, at or after ``mark`` in ``keys``' order."""
    for key, a, b in zip(keys, row, mark, strict=True):
        if a != b:
            later = (a < b) if key.descending else (a > b)
            return 1 if later else -1
    return 0


def page_of_rows(
    rows: Iterable[Any],
    order: Order,
    key: Callable[[Any], tuple],
    limit: int,
    cursor: str | None,
    *,
    name: str = "cursor",
) -> tuple[list, str | None]:
    """One page of rows in ``order`` (``key`` gives a row's key values): the rows after the
    cursor's, and the cursor of the next page. The rows are sorted here by their key values
    as Python compares them, so that "after" means the same as the order shown (a database
    may collate text otherwise)."""
    keys = order.keys
    ordered = sorted(rows, key=functools.cmp_to_key(lambda a, b: _compare(keys, key(a), key(b))))
    if cursor is not None:
        mark = decode_cursor(order, cursor, name)
        ordered = [r for r in ordered if _compare(keys, key(r), mark) > 0]
    taken: list = []
    for r in ordered:
        if len(taken) == limit:
            return taken, encode_cursor(order, key(taken[-1]))
        taken.append(r)
    return taken, None
