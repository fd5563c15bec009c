"""Lists that search, sort and filter, kept in the URL and downloaded as shown (issue 22):
the accounts list at the HTTP level."""

import csv
import io
import re

import pytest

from readiness import services
from readiness.permissions import SYSTEM


@pytest.fixture
def bureau(session, make_unit, make_user):
    """Bureau A (a station under it) with its people, and bureau B elsewhere in the city."""
    a = make_unit("BA", name="甲区应急管理局", kind="bureau")
    station = make_unit("BA-S1", name="甲区城关派出所", parent=a)
    store = make_unit("BA-W", name="甲区物资仓库", kind="warehouse", parent=a)
    b = make_unit("BB", name="乙区应急管理局", kind="bureau")
    people = {
        "cmd": make_user("cmd_a", "command", a, name="指挥员"),
        "zhang": make_user("zhang", "clerk", station, name="张三"),
        "li": make_user("li", "keeper", store, name="李四"),
        "wang": make_user("wang", "clerk", station, name='=HYPERLINK("http://x")'),
        "other": make_user("zhao_b", "clerk", b, name="赵乙"),
    }
    services.set_user_active(session, people["li"], False, actor=SYSTEM)
    session.commit()
    return people


def _usernames(page: str) -> list[str]:
    return re.findall(r'/users/\d+">([^<]+)</a>', page)


def test_the_search_finds_accounts_by_name_username_or_unit(client, login, bureau):
    login("cmd_a")
    assert _usernames(client.get("/users?q=张").get_data(as_text=True)) == ["zhang"]
    assert _usernames(client.get("/users?q=ZHA").get_data(as_text=True)) == ["zhang"]
    by_unit = _usernames(client.get("/users?q=城关").get_data(as_text=True))
    assert sorted(by_unit) == ["wang", "zhang"]
    # another bureau's account is never found
    assert _usernames(client.get("/users?q=赵").get_data(as_text=True)) == []
    # % and _ are letters in a search, not patterns
    assert _usernames(client.get("/users?q=%25").get_data(as_text=True)) == []


def test_columns_sort_both_ways_and_say_so(client, login, bureau):
    login("cmd_a")
    page = client.get("/users?sort=username&dir=desc").get_data(as_text=True)
    assert _usernames(page) == ["zhang", "wang", "li", "cmd_a"]
    assert re.search(r'<th aria-sort="descending"><a class="sort" href="[^"]*sort=username', page)
    # the heading's link turns it round
    assert "sort=username&amp;dir=asc" in page
    assert _usernames(client.get("/users?sort=username").get_data(as_text=True)) == [
        "cmd_a",
        "li",
        "wang",
        "zhang",
    ]
    # an unknown sort is the default order, not an error
    assert client.get("/users?sort=password_hash&dir=sideways").status_code == 200


def test_filters_combine_and_keep_the_search_and_sort(client, login, bureau):
    login("cmd_a")
    page = client.get("/users?unit=BA-S1&role=clerk&sort=username&dir=desc").get_data(as_text=True)
    assert _usernames(page) == ["zhang", "wang"]
    assert _usernames(client.get("/users?status=inactive").get_data(as_text=True)) == ["li"]
    # the filter form carries the sort, so filtering does not lose it
    assert 'name="sort" value="username"' in page and 'name="dir" value="desc"' in page


def test_a_unit_out_of_reach_filters_nothing_and_says_so(client, login, bureau):
    login("cmd_a")
    page = client.get("/users?unit=BB").get_data(as_text=True)
    assert "单位 BB 不存在或不在您的管辖范围内。" in page
    assert "zhao_b" not in page and "zhang" in page


def test_the_download_holds_the_list_as_shown_with_no_formula(client, login, bureau):
    login("cmd_a")
    shown = "/users?unit=BA-S1&sort=username&dir=desc"
    page = client.get(shown).get_data(as_text=True)
    assert "format=csv" in page and "unit=BA-S1" in page
    response = client.get(shown + "&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == ["zhang", "wang"]
    # what a user typed never becomes a formula in a spreadsheet
    assert rows[2][1].startswith("'=")
    xlsx = client.get(shown + "&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def _unit_codes(page: str) -> list[str]:
    return re.findall(r"<td><code>([^<]+)</code></td>", page)


def test_the_unit_tree_becomes_a_searchable_sortable_list(client, login, bureau):
    login("cmd_a")
    tree = client.get("/units").get_data(as_text=True)
    assert _unit_codes(tree) == ["BA", "BA-S1", "BA-W"]  # the command user's branch, as a tree
    found = client.get("/units?q=仓库").get_data(as_text=True)
    assert _unit_codes(found) == ["BA-W"] and "甲区应急管理局" in found  # with its parent
    stations = client.get("/units?kind=station").get_data(as_text=True)
    assert _unit_codes(stations) == ["BA-S1"]
    ordered = client.get("/units?sort=code&dir=desc").get_data(as_text=True)
    assert _unit_codes(ordered) == ["BA-W", "BA-S1", "BA"]
    # another bureau's units are not found by searching for them
    assert _unit_codes(client.get("/units?q=乙区").get_data(as_text=True)) == []


def test_the_unit_list_downloads_as_shown_with_each_parent(client, login, bureau):
    login("cmd_a")
    page = client.get("/units?q=甲区&sort=name&dir=desc").get_data(as_text=True)
    response = client.get("/units?q=甲区&sort=name&dir=desc&format=csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    # the same units in the same order as the page shows them
    assert [r[1] for r in rows[1:]] == _unit_codes(page) and len(rows) == 4
    assert {r[1]: r[3] for r in rows[1:]}["BA-S1"] == "甲区应急管理局"
    tree = client.get("/units?format=csv").get_data(as_text=True)
    assert tree.count("\n") == 4  # header and the three units of the branch


def test_a_clerks_unit_list_never_names_a_parent_outside_their_reach(client, login, bureau):
    login("zhang")  # a clerk of the station BA-S1, under the bureau BA
    page = client.get("/units?q=城关").get_data(as_text=True)
    assert _unit_codes(page) == ["BA-S1"] and "甲区应急管理局" not in page
    csv_text = client.get("/units?q=城关&format=csv").get_data(as_text=True)
    assert "BA-S1" in csv_text and "甲区应急管理局" not in csv_text
