"""Keyset paging (issue 21, item 2): the cursor, the order it is bound to, the rows after it,
and the refusals of a wrong ``limit`` or ``cursor`` — on the database in use."""

from __future__ import annotations

import base64
import json
from datetime import date

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, insert, select

from readiness import paging
from readiness.errors import DomainError

META = MetaData()
ROWS = Table(
    "paging_rows",
    META,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False),
    Column("name", String(10), nullable=False),
)
# Newest day first, then by name, then id: mixed directions, the last key unique.
MIXED = paging.Order(
    "test-mixed",
    paging.Key(date, ROWS.c.day, descending=True),
    paging.Key(str, ROWS.c.name),
    paging.Key(int, ROWS.c.id),
)
DAYS = [date(2026, 1, d) for d in (3, 1, 2)]
NAMES = ["b", "a", "c"]


@pytest.fixture
def rows(session):
    """27 rows, every (day, name) three times, inserted out of order."""
    META.create_all(session.connection())
    session.commit()
    n = 0
    values = []
    for _ in range(3):
        for day in DAYS:
            for name in NAMES:
                n += 1
                values.append({"id": (n * 7) % 31 + 1, "day": day, "name": name})
    session.execute(insert(ROWS), values)
    session.commit()
    expected = sorted(values, key=lambda r: (-r["day"].toordinal(), r["name"], r["id"]))
    yield [r["id"] for r in expected]
    session.rollback()
    META.drop_all(session.connection())
    session.commit()


def _walk(session, limit: int) -> tuple[list[int], int]:
    ids: list[int] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = paging.page(session, select(ROWS.c.id), MIXED, limit, cursor)
        pages += 1
        assert len(page) <= limit
        ids += page  # one column selected: its values
        if cursor is None:
            return ids, pages


@pytest.mark.parametrize("limit", [1, 2, 4, 26, 27, 28])
def test_pages_walk_every_row_once_in_the_mixed_order(session, rows, limit):
    """Newest day first, names ascending, ids ascending: each row once, in order, and the
    last page says so (no cursor), whatever the page size."""
    ids, pages = _walk(session, limit)
    assert ids == rows
    assert pages == -(-len(rows) // limit)  # no empty page at the end


def test_a_full_last_page_still_ends_the_walk(session, rows):
    """27 rows by 9: three pages, the third without a next cursor (one row more is read to
    know, not a fourth, empty page)."""
    ids, pages = _walk(session, 9)
    assert (ids, pages) == (rows, 3)


def test_the_cursor_is_the_last_rows_keys_as_urlsafe_json(session, rows):
    page, cursor = paging.page(session, select(ROWS.c.id), MIXED, 2, None)
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    last = session.execute(select(ROWS).where(ROWS.c.id == page[-1])).one()
    assert raw == ["test-mixed", [last.day.isoformat(), last.name, last.id]]
    assert paging.decode_cursor(MIXED, cursor) == (last.day, last.name, last.id)
    assert all(c.isalnum() or c in "-_" for c in cursor)


def test_rows_after_a_cursor_are_the_later_rows_even_across_a_new_row(session, rows):
    """Keyset, not offset: a row added before the cursor moves nothing after it."""
    _first, cursor = paging.page(session, select(ROWS.c.id), MIXED, 5, None)
    session.execute(insert(ROWS), [{"id": 100, "day": date(2026, 1, 9), "name": "a"}])
    session.commit()
    second, _ = paging.page(session, select(ROWS.c.id), MIXED, 5, cursor)
    assert second == rows[5:10]


def _refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "e30",  # {}
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        paging.encode_cursor(MIXED, [date(2026, 1, 1), "a"]),  # a key short
        paging.encode_cursor(MIXED, ["2026-01-01", 5, 1]),  # a name that is a number
        paging.encode_cursor(MIXED, ["2026-13-01", "a", 1]),  # no such day
        paging.encode_cursor(MIXED, ["2026-01-01", "a", True]),  # an id that is a boolean
        "A" * 5000,
    ],
)
def test_an_unreadable_or_altered_cursor_is_refused_naming_the_field(session, rows, cursor):
    err = _refusal(lambda: paging.page(session, select(ROWS.c.id), MIXED, 2, cursor))
    assert (err.status, err.field) == (422, "cursor")
    assert "cursor" in err.message and "第一页" in err.message


def test_a_cursor_of_another_list_is_refused(session, rows):
    other = paging.Order("test-other", *MIXED.keys)
    _page, cursor = paging.page(session, select(ROWS.c.id), other, 2, None)
    err = _refusal(lambda: paging.page(session, select(ROWS.c.id), MIXED, 2, cursor))
    assert err.field == "cursor"


def test_the_refusal_names_the_parameter_it_came_in(session, rows):
    err = _refusal(lambda: paging.decode_cursor(MIXED, "%%%", "after"))
    assert (err.field, err.message.startswith("after")) == ("after", True)


@pytest.mark.parametrize("raw", ["0", "1001", "-1", "abc", "1.5", "²", "9" * 40])
def test_a_limit_out_of_range_or_not_a_whole_number_is_refused_naming_limit(app, raw):
    err = _refusal(lambda: paging.Paged.model_validate({"limit": raw}))
    assert (err.status, err.field) == (422, "limit")
    assert "limit" in err.message and "1000" in err.message


@pytest.mark.parametrize(("raw", "limit"), [(None, 100), ("", 100), ("1", 1), ("1000", 1000)])
def test_limit_defaults_to_100_and_takes_1_to_1000(app, raw, limit):
    data = {} if raw is None else {"limit": raw}
    assert paging.Paged.model_validate(data).limit == limit


def test_rows_in_memory_page_by_the_same_cursor(app):
    """A list computed in memory pages by its rows' keys (mixed directions), not by count."""
    order = paging.Order("test-memory", paging.Key(int, descending=True), paging.Key(str))
    rows = [(n % 3, f"r{n:02d}") for n in range(10)]
    expected = sorted(rows, key=lambda r: (-r[0], r[1]))
    seen, cursor = [], None
    while True:
        page, cursor = paging.page_of_rows(rows, order, lambda r: r, 3, cursor)
        seen += page
        if cursor is None:
            break
    assert seen == expected
    # a row dropped before the cursor does not shift the next page
    _first, cursor = paging.page_of_rows(rows, order, lambda r: r, 3, None)
    fewer = [r for r in rows if r != expected[0]]
    assert paging.page_of_rows(fewer, order, lambda r: r, 3, cursor)[0] == expected[3:6]
    with pytest.raises(DomainError):
        paging.page_of_rows(rows, MIXED, lambda r: r, 3, cursor)
