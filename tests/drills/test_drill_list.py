"""The drill list searches, sorts and filters by unit with a picker, all kept in the URL,
and downloads as shown (issue 22)."""

import csv
import io
import re

from tests.conftest import post_form


def _record(client, title, held_on, lead, participants):
    response = post_form(
        client,
        "/drills/new",
        {
            "title": title,
            "kind": "tabletop",
            "held_on": held_on,
            "lead_unit": lead,
            "participants": str(participants),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def _titles(page: str) -> list[str]:
    return re.findall(r'/drills/\d+">([^<]+)</a>', page)


def test_drills_are_searched_sorted_filtered_and_downloaded_as_shown(bureau, login):
    client = login("cmd1")
    _record(client, "防汛桌面推演", "2022-05-10", "DAYE", 12)
    _record(client, "山洪转移演练", "2022-07-01", "LUDIAN", 40)
    _record(client, "防汛物资调拨演练", "2022-06-15", "LUDIAN", 25)
    # newest first by default, the date heading saying so
    page = client.get("/drills").get_data(as_text=True)
    assert _titles(page) == ["山洪转移演练", "防汛物资调拨演练", "防汛桌面推演"]
    assert re.search(r'<th aria-sort="descending"><a class="sort" href="[^"]*sort=date', page)
    assert _titles(client.get("/drills?q=防汛").get_data(as_text=True)) == [
        "防汛物资调拨演练",
        "防汛桌面推演",
    ]
    by_size = client.get("/drills?sort=participants&dir=desc").get_data(as_text=True)
    assert _titles(by_size) == ["山洪转移演练", "防汛物资调拨演练", "防汛桌面推演"]
    # the unit filter is a picker of the units in reach, by name, not a code to type
    assert re.search(r'<select id="unit" name="unit" data-picker>', page)
    assert _titles(client.get("/drills?unit=DAYE").get_data(as_text=True)) == ["防汛桌面推演"]
    shown = "/drills?q=防汛&sort=participants&dir=asc"
    csv_text = client.get(shown + "&format=csv", buffered=True).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert [r[1] for r in rows[1:]] == ["防汛桌面推演", "防汛物资调拨演练"]


def test_actions_are_searched_sorted_and_filtered_by_people_picked_by_name(
    bureau, login, make_unit, make_user
):
    make_user("stranger", "clerk", make_unit("ELSEWHERE", name="别处派出所"), name="外单位人员")
    client = login("cmd1")
    response = post_form(
        client,
        "/drills/new",
        {
            "title": "防汛演练",
            "kind": "tabletop",
            "held_on": "2022-05-10",
            "lead_unit": "DAYE",
            "finding-0": "救生衣数量不足",
            "owner-0": "owner1",
            "due-0": "2022-09-30",
            "element-0": "equipment",
            "finding-1": "通讯不畅",
            "owner-1": "clerk1",
            "due-1": "2022-08-30",
            "element-1": "organisation",
        },
    )
    assert response.status_code == 302
    page = client.get("/actions").get_data(as_text=True)
    texts = re.findall(r'/actions/\d+">([^<]+)</a>', page)
    assert texts[:2] == ["通讯不畅", "救生衣数量不足"]  # earliest due first
    # the owner is picked by name among the reader's people, not typed as an account name
    owners = re.search(r'<select id="owner" name="owner" data-picker>(.*?)</select>', page, re.S)
    assert "张队长" in owners.group(1) and "外单位人员" not in owners.group(1)
    mine = client.get("/actions?owner=owner1").get_data(as_text=True)
    assert re.findall(r'/actions/\d+">([^<]+)</a>', mine) == ["救生衣数量不足"]
    found = client.get("/actions?q=通讯").get_data(as_text=True)
    assert re.findall(r'/actions/\d+">([^<]+)</a>', found) == ["通讯不畅"]
    by_text = client.get("/actions?sort=due&dir=desc").get_data(as_text=True)
    assert re.findall(r'/actions/\d+">([^<]+)</a>', by_text)[:2] == ["救生衣数量不足", "通讯不畅"]
