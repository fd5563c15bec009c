"""The audit log reads in words, in the reader's language, linked to the records the reader
may open; the raw codes stay visible for inspectors, the filters and the CSV unchanged."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from funding.models import FUND_KINDS
from inventory.models import MAINTENANCE_KINDS, MOVEMENT_KINDS
from readiness import audit
from readiness.audit_words import OBJECT_NOUNS, WORDS
from tests.readiness.audit_codes import recorded_actions

# Prefixes of action codes built from a value handed over by another module (a public
# service's ``kind``): the kinds that service accepts.
OPEN_KINDS = {"movement.": MOVEMENT_KINDS, "maintenance.": MAINTENANCE_KINDS, "fund.": FUND_KINDS}
CJK = re.compile(r"[\u3400-\u9fff]")


def text_of(response) -> str:
    body = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.fixture(scope="module")
def recorded() -> dict[str, str]:
    return recorded_actions(OPEN_KINDS)


def test_the_walk_finds_codes_written_every_way_the_source_writes_them(recorded):
    for code in (
        "allocation.approve",  # f"allocation.{action}" filled by _record(…, "approve", …)
        "action.verify",  # a parameter filled by _changed(…, "action.verify", …)
        "count.enter",  # a parameter filled two calls away
        "unit.set_custodian",  # a module dict's value
        "user.deactivate",  # one branch of "a if c else b"
        "demo.load",  # a module constant
        "movement.receipt",  # an f-string over another module's kinds
    ):
        assert code in recorded


def test_every_action_code_the_code_base_records_has_words(recorded):
    missing = {code: where for code, where in recorded.items() if code not in WORDS}
    assert not missing, f"add these action codes to readiness/audit_words.WORDS: {missing}"


def test_no_words_are_kept_for_codes_nothing_records(recorded):
    assert set(WORDS) - set(recorded) == set()


def test_every_sentence_and_noun_has_its_english(app):
    with app.test_request_context(), force_locale("en"):
        untranslated = [
            str(words)
            for words in (*WORDS.values(), *OBJECT_NOUNS.values())
            if CJK.search(str(words))
        ]
    assert untranslated == []


def _world(make_unit, make_user, session):
    bureau = make_unit("B", name="甲局", kind="bureau", parent=None)
    station = make_unit("DAYE", name="大冶派出所", parent=bureau)
    boss = make_user("boss", "command", bureau)
    make_user("root", "admin", None)
    audit.record(
        session,
        boss,
        "allocation.approve",
        object_type="allocations",
        object_id=12,
        unit_id=station.id,
    )
    session.commit()
    return station


def test_the_log_says_what_was_done_and_links_the_record(make_unit, make_user, session, login):
    _world(make_unit, make_user, session)
    page = login("boss").get("/audit")
    body = page.get_data(as_text=True)
    assert "批准了调拨单 #12" in text_of(page)
    assert re.search(r'批准了调拨单 <a href="/allocations/12">#12</a>', body)
    # the unit created by the set-up reads by name, linked to the unit's page
    assert re.search(r'新建了单位 <a href="/units/DAYE">大冶派出所</a>', body)
    # inspectors still see the stored code, muted
    assert re.search(r'<small class="muted[^"]*"[^>]*><code>allocation.approve</code>', body)


def test_the_log_reads_in_english_for_an_english_reader(make_unit, make_user, session, login):
    _world(make_unit, make_user, session)
    page = text_of(login("boss").get("/audit?lang=en"))
    assert "approved allocation #12" in page
    assert "created unit 大冶派出所" in page


def test_no_link_to_a_page_the_reader_may_not_open(make_unit, make_user, session, login):
    _world(make_unit, make_user, session)
    page = login("root").get("/audit")  # the administrator reads the log, not allocations
    body = page.get_data(as_text=True)
    assert "批准了调拨单 #12" in text_of(page)
    assert 'href="/allocations/12"' not in body
    assert 'href="/units/DAYE"' in body  # units are the administrator's own


def test_an_unknown_code_still_shows_rather_than_failing(make_unit, make_user, session, login):
    station = _world(make_unit, make_user, session)
    audit.record(session, None, "future.thing", object_type="x", object_id=3, unit_id=station.id)
    session.commit()
    page = login("boss").get("/audit")
    assert page.status_code == 200
    assert "操作 future.thing #3" in text_of(page)


def test_filters_name_objects_in_words_and_still_filter(make_unit, make_user, session, login):
    _world(make_unit, make_user, session)
    client = login("boss")
    body = client.get("/audit").get_data(as_text=True)
    assert '<option value="allocations">调拨单</option>' in body
    filtered = text_of(client.get("/audit?object_type=allocations"))
    assert "批准了调拨单 #12" in filtered and "新建了单位" not in filtered


def test_the_csv_keeps_its_columns_and_raw_codes(make_unit, make_user, session, login):
    _world(make_unit, make_user, session)
    body = login("boss").get("/audit.csv?object_type=allocations").get_data(as_text=True)
    header, row = body.lstrip("\ufeff").splitlines()[:2]
    assert header == "编号,时间(UTC),操作人,操作,对象类型,对象编号,单位,说明,修改前,修改后"
    assert ",boss,allocation.approve,allocations,12,DAYE," in row


def test_an_english_log_of_ascii_records_has_no_chinese_left(make_unit, make_user, session, login):
    bureau = make_unit("HQ", name="Headquarters", kind="bureau")
    station = make_unit("ST1", name="Station One", parent=bureau)
    make_user("boss", "command", bureau)
    make_user("st1", "clerk", station)
    audit.record(
        session, None, "count.approve", object_type="counts", object_id=4, unit_id=station.id
    )
    session.commit()
    body = login("boss").get("/audit?lang=en").get_data(as_text=True)
    leftover = CJK.findall(body.replace('lang="zh-CN">中文<', ""))
    assert leftover == [], "".join(leftover)[:80]
    assert re.search(r'approved count <a href="/counts/4">#4</a>', body)


def test_a_record_without_its_own_page_links_the_page_it_belongs_to(
    make_unit, make_user, session, login
):
    station = _world(make_unit, make_user, session)
    finding = {"object_type": "findings", "object_id": 5, "unit_id": station.id}
    audit.record(session, None, "finding.add", **finding, after={"drill": 7})
    # a stored value that no longer fits the page's address: words, no link, no error
    odd = {"object_type": "drill_attachments", "object_id": 6, "unit_id": station.id}
    audit.record(session, None, "attachment.add", **odd, after={"drill_id": "x/../y"})
    session.commit()
    page = login("boss").get("/audit")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'登记了演练发现的问题 <a href="/drills/7">#5</a>', body)
    assert "上传了演练附件 #6" in text_of(page)
