"""Issue 22, allocations: suggestions that leave room for requests already waiting, one draft
per source → target pair, drafts that can be edited, a request page that says who acts next,
and refused actions that keep what was typed."""

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from inventory import allocations as alloc
from inventory import standard
from inventory.models import Allocation
from inventory.shortfall import shortfall, transfer_groups
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import AuditEntry
from readiness.permissions import SYSTEM
from tests.conftest import post_form

THRESHOLD = Decimal("50000")


@pytest.fixture
def town(session, make_unit, make_item, make_user, stock):
    """A warehouse with 20 spare whistles and 20 jackets; 大冶 needs 12 whistles, 君召 10."""
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    daye = make_unit("DAYE", name="大冶派出所", headcount=12)
    junzhao = make_unit("JZ", name="君召派出所", headcount=10)
    whistles = make_item("WHISTLE", name="救生哨", unit_cost="5.00")
    jackets = make_item("LJ", name="救生衣", unit_cost="120.00")
    make_item("ROPE", name="救援绳", unit_cost="30.00")
    stock(wh, whistles, 20)
    stock(wh, jackets, 20)
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        actor=SYSTEM,
        lines=[
            standard.StandardLineInput("station", "WHISTLE", "0", "1"),
            standard.StandardLineInput("station", "LJ", "1", "0"),
        ],
    )
    session.commit()
    return {
        "wh": wh,
        "daye": daye,
        "jz": junzhao,
        "clerk": make_user("clerk1", "clerk", daye),
        "other_clerk": make_user("clerk2", "clerk", junzhao),
        "keeper": make_user("keeper1", "keeper", wh),
        "cmd": make_user("cmd1", "command", None),
    }


def ask(session, t, lines, *, draft=False, to="daye", actor="clerk"):
    a = alloc.create_allocation(
        session,
        from_unit=t["wh"],
        to_unit=t[to],
        lines=[alloc.LineInput(code, qty) for code, qty in lines],
        reason="汛期前补齐",
        draft=draft,
        actor=t[actor],
    )
    session.commit()
    return a


def suggested(session):
    report = shortfall(session, use_cache=False)
    return {(tr.source.code, tr.target.code, tr.item.code): tr.qty for tr in report.transfers}


# ---------------------------------------------------------------- 1. pending requests


def test_suggestions_leave_room_for_requests_awaiting_approval(session, town):
    """The seed story: 4 whistles were suggested to 大冶 while its request for 8 waited. The
    target's gap shrinks by what it asked for, and the source's spare by what it promised."""
    before = suggested(session)
    assert before[("WH", "DAYE", "WHISTLE")] == 12 and before[("WH", "JZ", "WHISTLE")] == 8
    ask(session, town, [("WHISTLE", 8)])
    after = suggested(session)
    assert after[("WH", "DAYE", "WHISTLE")] == 4  # 12 needed − 8 already asked for
    assert after[("WH", "JZ", "WHISTLE")] == 8  # the warehouse has 20 − 8 promised = 12 left
    row = next(
        r
        for r in shortfall(session, use_cache=False).rows
        if (r.unit.code, r.item.code) == ("DAYE", "WHISTLE")
    )
    assert (row.uncovered, row.pending) == (12, 8)


def test_a_draft_is_not_pending_and_an_approved_request_counts_once(session, town):
    """Drafts ask for nothing yet; once approved, the quantity is inbound at the target and
    reserved at the source, never subtracted twice."""
    a = ask(session, town, [("WHISTLE", 8)], draft=True)
    assert suggested(session)[("WH", "DAYE", "WHISTLE")] == 12
    alloc.submit_allocation(session, a, actor=town["clerk"])
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.commit()
    after = suggested(session)
    # 大冶 still lacks 4 (8 inbound), 君召 10: the 12 the warehouse has left go to both
    assert after[("WH", "JZ", "WHISTLE")] + after[("WH", "DAYE", "WHISTLE")] == 12
    assert after[("WH", "DAYE", "WHISTLE")] <= 4
    totals = {t.item.code: t for t in shortfall(session, use_cache=False).items}
    assert (totals["WHISTLE"].uncovered, totals["WHISTLE"].pending) == (14, 0)
    assert totals["WHISTLE"].to_buy == 2  # nothing counted twice


def test_budget_does_not_buy_what_a_pending_request_brings(session, town):
    ask(session, town, [("WHISTLE", 8)])
    totals = {t.item.code: t for t in shortfall(session, use_cache=False).items}
    whistles = totals["WHISTLE"]
    assert (whistles.uncovered, whistles.pending, whistles.transferable) == (22, 8, 12)
    assert whistles.to_buy == 2


# ---------------------------------------------------------------- 2. one draft per pair


def test_suggestions_are_grouped_per_source_and_target(session, town):
    groups = transfer_groups(shortfall(session, use_cache=False).transfers)
    pairs = {(g.source.code, g.target.code): sorted(t.item.code for t in g.lines) for g in groups}
    assert pairs == {("WH", "DAYE"): ["LJ", "WHISTLE"], ("WH", "JZ"): ["LJ", "WHISTLE"]}


def test_one_click_makes_one_draft_with_every_suggested_line_of_the_pair(login, session, town):
    client = login("cmd1")
    page = client.get("/reports/shortfall").get_data(as_text=True)
    assert page.count(">生成调拨草稿</button>") == 2  # two pairs, four lines
    form = re.search(r"<form[^>]*from-suggestion.*?</form>", page, re.S).group(0)
    assert form.count('name="item"') == 2
    r = post_form(
        client,
        "/allocations/from-suggestion",
        {"from": "WH", "to": "DAYE", "item": ["WHISTLE", "LJ"], "qty": ["12", "1"]},
    )
    drafts = session.scalars(select(Allocation)).all()
    assert len(drafts) == 1 and r.location == f"/allocations/{drafts[0].id}"
    assert {ln.item.code: ln.requested for ln in drafts[0].lines} == {"WHISTLE": 12, "LJ": 1}
    assert drafts[0].status == "draft"


# ---------------------------------------------------------------- 3. editing a draft


def test_a_draft_takes_more_lines_changes_and_loses_them_audited(session, town):
    a = ask(session, town, [("WHISTLE", 4)], draft=True)
    alloc.edit_draft_lines(
        session,
        a,
        lines=[alloc.LineInput("WHISTLE", "6"), alloc.LineInput("LJ", "1")],
        actor=town["clerk"],
    )
    session.commit()
    assert {ln.item.code: ln.requested for ln in a.lines} == {"WHISTLE": 6, "LJ": 1}
    alloc.edit_draft_lines(session, a, lines=[alloc.LineInput("LJ", "2")], actor=town["clerk"])
    session.commit()
    session.expire_all()
    assert {ln.item.code: ln.requested for ln in a.lines} == {"LJ": 2}
    edits = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "allocation.edit").order_by(AuditEntry.id)
    ).all()
    assert len(edits) == 2
    assert edits[-1].before["lines"].keys() == {"WHISTLE", "LJ"}
    assert edits[-1].after["lines"].keys() == {"LJ"}


def test_only_a_draft_is_edited_only_by_its_unit_and_never_left_empty(session, town):
    a = ask(session, town, [("WHISTLE", 4)], draft=True)
    with pytest.raises(PermissionDenied):
        alloc.edit_draft_lines(
            session, a, lines=[alloc.LineInput("LJ", 1)], actor=town["other_clerk"]
        )
    session.rollback()
    with pytest.raises(DomainError, match="至少要有一行"):
        alloc.edit_draft_lines(session, a, lines=[], actor=town["clerk"])
    session.rollback()
    with pytest.raises(DomainError) as err:
        alloc.edit_draft_lines(
            session,
            a,
            lines=[alloc.LineInput("NOPE", 1), alloc.LineInput("LJ", "abc")],
            actor=town["clerk"],
        )
    assert "NOPE" in err.value.message and "第 2 行" in err.value.message  # both at once
    session.rollback()
    submitted = ask(session, town, [("WHISTLE", 4)])
    with pytest.raises(Conflict):
        alloc.edit_draft_lines(
            session, submitted, lines=[alloc.LineInput("LJ", 1)], actor=town["clerk"]
        )
    session.rollback()
    session.expire_all()
    assert {ln.item.code: ln.requested for ln in a.lines} == {"WHISTLE": 4}


def test_the_draft_page_adds_changes_and_removes_lines(login, session, town):
    a = ask(session, town, [("WHISTLE", 4), ("LJ", 1)], draft=True)
    client = login("clerk1")
    page = client.get(f"/allocations/{a.id}").get_data(as_text=True)
    assert "保存物资" in page and 'name="item-2" data-picker' in page
    r = post_form(
        client,
        f"/allocations/{a.id}/lines",
        {"item-0": "WHISTLE", "qty-0": "5", "item-1": "LJ", "qty-1": "1", "remove-1": "1"}
        | {"item-2": "ROPE", "qty-2": "3"},
    )
    assert r.status_code == 302
    session.expire_all()
    assert {ln.item.code: ln.requested for ln in a.lines} == {"WHISTLE": 5, "ROPE": 3}


def test_a_refused_edit_keeps_what_was_typed(login, session, town):
    a = ask(session, town, [("WHISTLE", 4)], draft=True)
    client = login("clerk1")
    r = post_form(
        client,
        f"/allocations/{a.id}/lines",
        {"item-0": "WHISTLE", "qty-0": "0", "item-1": "ROPE", "qty-1": "7"},
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "第 1 行" in page
    assert 'name="qty-0" type="number" min="1" inputmode="numeric" class="qty" value="0"' in page
    assert 'value="7"' in page and '<option value="ROPE" selected>' in page
    session.expire_all()
    assert {ln.item.code: ln.requested for ln in a.lines} == {"WHISTLE": 4}


# ---------------------------------------------------------------- 4. who acts next


def test_the_requester_sees_who_approves_and_what_happens_next(login, session, town, city):
    a = ask(session, town, [("WHISTLE", 8)])
    client = login("clerk1")
    page = client.get(f"/allocations/{a.id}").get_data(as_text=True)
    assert f"{city.name}（或其上级单位）的指挥部/装备科人员，申请人本人除外" in page
    assert "等待" in page and "审批，还需 1 人；批准后由中心仓库发出。" in page
    assert 'name="qty-WHISTLE"' not in page  # nothing for the requester to type a number in
    assert "尚无人批准" in page


def test_each_role_is_told_its_own_next_step(login, client, session, town):
    a = ask(session, town, [("WHISTLE", 8)])
    cmd = login("cmd1")
    page = cmd.get(f"/allocations/{a.id}").get_data(as_text=True)
    assert "请审核：可核减数量" in page and 'name="qty-WHISTLE"' in page
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    session.commit()
    client.get("/logout")
    keeper = login("keeper1")
    page = keeper.get(f"/allocations/{a.id}").get_data(as_text=True)
    assert "已批准：请按批准数量备货发出" in page
    assert re.search(r"cmd1[^<]* 于 \d{4}-\d\d-\d\d[^<]* 批准", page)
    client.get("/logout")
    clerk = login("clerk1")
    page = clerk.get(f"/allocations/{a.id}").get_data(as_text=True)
    assert "已批准，等待中心仓库的仓库保管员或本单位登记员发出。" in page


def test_next_step_after_dispatch_and_rejection(session, town):
    a = ask(session, town, [("WHISTLE", 8)])
    flags = {"may_approve": False, "may_dispatch": False, "may_receive": True, "may_request": True}
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    alloc.dispatch_allocation(session, a, actor=town["keeper"])
    text = alloc.next_step(a, needed=1, approver_unit="X", viewer_id=None, **flags)
    assert text.startswith("物资已发出：到货后请清点并接收入库")
    b = ask(session, town, [("LJ", 1)])
    alloc.reject_allocation(session, b, actor=town["cmd"], note="库存另有安排")
    text = alloc.next_step(b, needed=1, approver_unit="X", viewer_id=None, **flags)
    assert "已驳回" in text


# ---------------------------------------------------------------- 5. refused actions


def test_a_refused_approval_keeps_the_typed_quantity(login, session, town):
    """Reducing without a reason is refused: the page comes back with 6 still typed."""
    a = ask(session, town, [("WHISTLE", 8)])
    client = login("cmd1")
    r = post_form(client, f"/allocations/{a.id}/approve", {"qty-WHISTLE": "6", "reason": ""})
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "核减数量时请说明原因" in page
    assert re.search(r'name="qty-WHISTLE"[^>]*value="6"', page)
    session.expire_all()
    assert a.status == "submitted" and a.lines[0].approved is None


def test_a_refused_receipt_keeps_quantity_and_reason(login, session, town):
    a = ask(session, town, [("WHISTLE", 8)])
    alloc.approve_allocation(session, a, actor=town["cmd"], threshold=THRESHOLD)
    alloc.dispatch_allocation(session, a, actor=town["keeper"])
    session.commit()
    client = login("clerk1")
    r = post_form(client, f"/allocations/{a.id}/receive", {"qty-WHISTLE": "99", "reason": "少"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "实收数量不能超过发出的 8" in page
    assert re.search(r'name="qty-WHISTLE"[^>]*value="99"', page) and 'value="少"' in page


def test_the_new_request_form_shows_every_problem_and_keeps_what_was_typed(login, town):
    client = login("cmd1")
    r = post_form(
        client,
        "/allocations/new",
        {"from": "DAYE", "to": "DAYE", "item-0": "WHISTLE", "qty-0": "-3", "reason": ""},
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    for message in ("调出单位和调入单位不能相同", "请填写调拨事由", "第 1 行"):
        assert message in page
    assert 'value="-3"' in page and "data-picker" in page


# ---------------------------------------------------------------- 6. the shortfall page


def test_the_shortfall_page_puts_the_summary_and_transfers_before_the_long_table(login, town):
    page = login("cmd1").get("/reports/shortfall").get_data(as_text=True)
    summary, transfers, rows = (
        page.index('id="summary"'),
        page.index('id="transfers"'),
        page.index('id="rows"'),
    )
    assert summary < transfers < rows
    assert 'href="#transfers"' in page[:transfers]


def test_a_date_before_any_standard_says_so_and_names_the_field(login, town):
    page = login("cmd1").get("/reports/shortfall?as_of=2020-01-01").get_data(as_text=True)
    assert "截至日期（as_of）为 2020-01-01：这一天还没有生效的标准" in page
    assert "最早的标准自 2022-01-01 起生效" in page and "as_of=2022-01-01" in page
    assert "请先发布标准" not in page


def test_without_any_standard_it_asks_to_publish_one(login, make_unit, make_user):
    make_unit("DAYE")
    make_user("cmd1", "command", None)
    page = login("cmd1").get("/reports/shortfall").get_data(as_text=True)
    assert "请先发布标准" in page


def test_the_api_sets_a_drafts_lines(api, session, town, make_token):
    a = ask(session, town, [("WHISTLE", 4)], draft=True)
    token = make_token(town["clerk"])
    r = api(token).put(
        f"/api/v1/allocations/{a.id}/lines",
        json={"lines": [{"item": "LJ", "qty": 2}, {"item": "WHISTLE", "qty": 5}]},
    )
    assert r.status_code == 200, r.get_json()
    lines = {ln["item"]: ln["requested"] for ln in r.get_json()["lines"]}
    assert lines == {"WHISTLE": 5, "LJ": 2}
    r = api(token).put(f"/api/v1/allocations/{a.id}/lines", json={"lines": []})
    assert r.status_code == 422
    other = api(make_token(town["other_clerk"]))
    r = other.put(f"/api/v1/allocations/{a.id}/lines", json={"lines": [{"item": "LJ", "qty": 1}]})
    assert r.status_code in (403, 404)


def test_a_refused_approval_names_every_wrong_line_and_the_missing_reason(session, town):
    a = ask(session, town, [("WHISTLE", 8), ("LJ", 1)])
    with pytest.raises(DomainError) as err:
        alloc.approve_allocation(
            session,
            a,
            actor=town["cmd"],
            threshold=THRESHOLD,
            quantities={"WHISTLE": "9", "LJ": "x"},
        )
    assert "救生哨 批准数量不能超过申请的 8" in err.value.message
    assert "救生衣：数量必须是整数" in err.value.message
    session.rollback()
    with pytest.raises(DomainError) as err:
        alloc.approve_allocation(
            session,
            a,
            actor=town["cmd"],
            threshold=THRESHOLD,
            quantities={"WHISTLE": "9", "LJ": "0"},
        )
    assert "不能超过" in err.value.message and "核减数量时请说明原因" in err.value.message
