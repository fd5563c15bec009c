"""The allocations list searches, filters and sorts as the URL says, pages, and downloads
the rows as shown; nothing of another bureau appears (issue 22)."""

import csv
import io
import re

import pytest
from sqlalchemy import select

from inventory import allocations as alloc
from inventory.models import Allocation
from readiness.permissions import SYSTEM


@pytest.fixture
def requests(session, make_unit, make_item, make_user, stock):
    """Bureau A: warehouse WA, stations A1 (东山所) and A2 (西湖所); bureau B with its own
    warehouse and station. Requests (numbers in order of creation): 1 WA→A1 jackets and
    2 WA→A2 boats (submitted), 3 WA→A1 boats (draft), 4 WB→B1 jackets (bureau B)."""
    a = make_unit("BA", name="甲局", kind="bureau")
    wa = make_unit("WA", name="甲仓库", kind="warehouse", parent=a)
    a1 = make_unit("A1", name="东山所", parent=a)
    a2 = make_unit("A2", name="西湖所", parent=a)
    b = make_unit("BB", name="乙局", kind="bureau")
    wb = make_unit("WB", name="乙仓库", kind="warehouse", parent=b)
    b1 = make_unit("B1", name="乙站", parent=b)
    jackets = make_item("LJ", name="救生衣")
    jackets.name_en = "Life jacket"
    boats = make_item("BOAT", name="冲锋舟")
    session.commit()
    for unit in (wa, wb):
        stock(unit, jackets, 50)
        stock(unit, boats, 5)

    def make(source, target, item, *, draft=False):
        return alloc.create_allocation(
            session,
            from_unit=source,
            to_unit=target,
            lines=[alloc.LineInput(item.code, 1)],
            reason="补充",
            draft=draft,
            actor=SYSTEM,
        ).id

    ids = [
        make(wa, a1, jackets),
        make(wa, a2, boats),
        make(wa, a1, boats, draft=True),
        make(wb, b1, jackets),
    ]
    session.commit()
    make_user("cmd_a", "command", a)
    make_user("clerk_a1", "clerk", a1)
    return ids


def numbers(page: str) -> list[int]:
    """The request numbers of the list's rows, in order (not the queue above it)."""
    table = page[page.index("全部调拨单") :]
    return [int(n) for n in re.findall(r'/allocations/(\d+)">', table)]


def test_the_list_is_newest_first_and_sorts_both_ways_by_any_column(client, login, requests):
    one, two, three, _other = requests
    login("cmd_a")
    page = client.get("/allocations").get_data(as_text=True)
    assert numbers(page) == [three, two, one]  # bureau B's request is not in reach
    assert re.search(r'<th aria-sort="descending"><a class="sort" href="[^"]*sort=number', page)
    ascending = client.get("/allocations?sort=number&dir=asc").get_data(as_text=True)
    assert numbers(ascending) == [one, two, three]
    by_target = client.get("/allocations?sort=target&dir=asc").get_data(as_text=True)
    assert numbers(by_target) == [one, three, two]  # 东山所 before 西湖所, then by number
    by_target_desc = client.get("/allocations?sort=target&dir=desc").get_data(as_text=True)
    assert numbers(by_target_desc) == [two, three, one]
    # the workflow's order: draft, submitted, approved…
    by_status = client.get("/allocations?sort=status&dir=asc").get_data(as_text=True)
    assert numbers(by_status)[0] == three
    by_status_desc = client.get("/allocations?sort=status&dir=desc").get_data(as_text=True)
    assert numbers(by_status_desc)[-1] == three
    for bad in ("sort=password&dir=sideways", "dir=up", "sort=%27"):
        assert client.get(f"/allocations?{bad}").status_code == 200


def test_the_search_finds_by_number_unit_or_item_in_either_language(client, login, requests):
    one, two, three, other = requests
    login("cmd_a")

    def found(q: str) -> list[int]:
        return numbers(client.get("/allocations", query_string={"q": q}).get_data(as_text=True))

    assert found("西湖") == [two]
    assert found("a2") == [two]  # the unit's code, any case
    assert found("冲锋舟") == [three, two]
    assert found("life JACKET") == [one]  # the English name
    assert found(f"第 {one} 号") == [one]
    assert found("乙仓库") == []  # another bureau's request is never found
    assert found(str(other)) == []
    for odd in ("%", "_", "'\"", "x" * 500):
        assert client.get("/allocations", query_string={"q": odd}).status_code == 200
    assert found("%") == []


def test_filters_combine_in_the_url_and_unknown_values_are_said(client, login, requests):
    one, two, three, _other = requests
    login("cmd_a")
    page = client.get("/allocations?to=A1&sort=number&dir=asc").get_data(as_text=True)
    assert numbers(page) == [one, three]
    assert 'name="sort" value="number"' in page and 'name="dir" value="asc"' in page
    assert numbers(client.get("/allocations?to=A1&status=draft").get_data(as_text=True)) == [three]
    submitted = client.get("/allocations?from=WA&status=submitted").get_data(as_text=True)
    assert numbers(submitted) == [two, one]
    # the pickers offer the units the requests name, not another bureau's
    assert '<select id="to" name="to" data-picker>' in page
    assert 'value="B1"' not in page
    outside = client.get("/allocations?to=B1").get_data(as_text=True)
    assert "单位 B1 不存在或不在您的管辖范围内。" in outside
    assert numbers(outside) == [three, two, one]
    unknown = client.get("/allocations?status=lost").get_data(as_text=True)
    assert "未知的状态：lost。" in unknown and numbers(unknown) == [three, two, one]


def test_a_clerk_sees_only_their_units_requests(client, login, requests):
    one, _two, three, _other = requests
    login("clerk_a1")
    assert numbers(client.get("/allocations").get_data(as_text=True)) == [three, one]
    assert numbers(client.get("/allocations?q=西湖").get_data(as_text=True)) == []


def test_the_download_holds_the_rows_as_shown(client, login, requests):
    one, two, three, _other = requests
    login("cmd_a")
    shown = "/allocations?q=WA&sort=target&dir=desc"
    page = client.get(shown).get_data(as_text=True)
    assert "format=csv" in page and "sort=target" in page
    response = client.get(shown + "&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [int(r[0]) for r in rows[1:]] == numbers(page) == [two, three, one]
    assert rows[1][4:6] == ["甲仓库", "西湖所"] and "冲锋舟" in rows[1][6]
    xlsx = client.get(shown + "&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    english = client.get(shown + "&format=csv&lang=en").get_data(as_text=True)
    assert "Life jacket" in english


def test_the_list_pages_and_keeps_its_arguments(app, client, login, requests, session):
    login("cmd_a")
    app.config["PAGE_SIZE"] = 2
    try:
        first = client.get("/allocations?sort=number&dir=asc").get_data(as_text=True)
        second = client.get("/allocations?sort=number&dir=asc&page=2").get_data(as_text=True)
    finally:
        app.config["PAGE_SIZE"] = 50
    assert numbers(first) == requests[:2] and numbers(second) == [requests[2]]
    assert "page=2" in first and "sort=number" in first
    assert session.scalar(select(Allocation).where(Allocation.id == requests[3])) is not None
