"""The complete drill record through the pages: the full form, evaluation, the life cycle,
findings added later, cancelled actions, interval requirements, drill kinds, overdue lists."""

import io
from datetime import date, timedelta

from sqlalchemy import func, select

from drills.models import CorrectiveAction, Drill, DrillKind, TrainingSession
from inventory import catalog
from inventory.models import Item
from readiness.models import User
from readiness.permissions import SYSTEM
from tests.conftest import post_form


def text(r):
    return r.get_data(as_text=True)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def setup(make_unit, make_user, session):
    df = make_unit("DF", name="登封市公安局", kind="bureau", headcount=0)
    daye = make_unit("DAYE", name="大冶派出所", parent=df)
    make_user("clerk1", "clerk", daye)
    make_user("owner1", "clerk", daye, name="张队长")
    make_user("cmd1", "command", df)
    catalog.create_item(
        session,
        code="ROPE",
        name="救援绳",
        category="防汛救生",
        uom="根",
        unit_cost=60,
        shelf_life_days=None,
        tracking="bulk",
        actor=SYSTEM,
    )
    session.commit()
    return daye


FULL = {
    "title": "颍河防汛实战演练",
    "kind": "field_exercise",
    "held_on": "2022-07-15",
    "start_time": "08:30",
    "end_time": "11:45",
    "scope": "single",
    "hazard": "洪涝",
    "lead_unit": "DAYE",
    "participants": "40",
    "roster": "王建国\n李卫东",
    "purpose": "检验群众转移预案",
    "problems": "对讲机频道混乱",
    "objective-0": "30 分钟内完成转移",
    "rating-0": "P",
    "objective-2": "通信畅通",
    "rating-2": "M",
    "finding-0": "对讲机频道未统一",
    "owner-0": "owner1",
    "due-0": "2022-09-30",
    "element-0": "equipment",
    "objective-of-0": "3",
    "finding-1": "转移路线标识清楚",
    "strength-1": "1",
}


def test_the_full_form_records_times_summary_equipment_and_linked_findings(
    make_unit, make_user, login, session
):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    form = {**FULL, "items": [str(session.scalar(select(Item.id)))]}
    r = post_form(clerk, "/drills/new", form)
    assert r.status_code == 302, text(r)[:500]
    page = text(clerk.get(r.location))
    assert "08:30–11:45" in page and "195 分钟" in page
    assert "单项" in page and "洪涝" in page and "救援绳" in page and "王建国" in page
    assert "检验群众转移预案" in page and "对讲机频道混乱" in page
    assert "目标：通信畅通" in page  # the finding is linked to objective row 3
    drill = session.scalar(select(Drill))
    assert [f.is_strength for f in drill.findings] == [False, True]
    assert len(drill.findings[0].actions) == 1 and drill.findings[1].actions == []


def test_a_bad_time_or_a_missing_owner_records_nothing(make_unit, make_user, login, session):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    bad = post_form(clerk, "/drills/new", {**FULL, "start_time": "25:99"})
    assert "时间格式应为" in text(bad)
    bad = post_form(clerk, "/drills/new", {**FULL, "end_time": "07:00"})
    assert "结束时间应晚于开始时间" in text(bad)
    bad = post_form(clerk, "/drills/new", {**FULL, "owner-0": ""})
    assert "改进事项必须指定负责人" in text(bad)
    bad = post_form(clerk, "/drills/new", {**FULL, "objective-of-0": "2"})  # row 2 is empty
    assert "所关联的演练目标不存在" in text(bad)
    assert count(session, Drill) == 0 and count(session, CorrectiveAction) == 0


def test_evaluate_advance_and_close_only_after_verification(
    app, make_unit, make_user, login, session
):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    form = {k: v for k, v in FULL.items() if k not in ("rating-0", "rating-2")}
    drill_url = post_form(clerk, "/drills/new", form).location
    drill = session.scalar(select(Drill))
    r = post_form(clerk, f"/drills/{drill.id}/status", {"status": "evaluated"})
    assert "还有 2 个目标未评价" in text(clerk.get(r.location))
    first, second = drill.objectives
    post_form(
        clerk,
        f"/drills/{drill.id}/evaluate",
        {f"rating-{first.id}": "S", f"rating-{second.id}": "M", "lessons": "统一频道"},
    )
    r = post_form(clerk, f"/drills/{drill.id}/status", {"status": "evaluated"})
    assert "演练状态已改为“已评估”" in text(clerk.get(r.location))
    r = post_form(clerk, f"/drills/{drill.id}/status", {"status": "closed"})
    assert "未经他人验证销号" in text(clerk.get(r.location))
    session.expire_all()
    assert session.get(Drill, drill.id).status == "evaluated"
    page = text(clerk.get(drill_url))
    assert "统一频道" in page and "<strong>M</strong>" in page


def test_add_a_finding_after_the_drill(make_unit, make_user, login, session):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    post_form(clerk, "/drills/new", {"title": "桌面推演", "kind": "tabletop", **_basic()})
    drill = session.scalar(select(Drill))
    r = post_form(
        clerk,
        f"/drills/{drill.id}/findings",
        {"finding": "预案未明确转移路线", "owner": "", "due": "2022-09-01"},
    )
    assert "改进事项必须指定负责人" in text(clerk.get(r.location))
    assert count(session, CorrectiveAction) == 0
    post_form(
        clerk,
        f"/drills/{drill.id}/findings",
        {"finding": "预案未明确转移路线", "owner": "owner1", "due": "2022-09-01"},
    )
    [action] = session.scalars(select(CorrectiveAction)).all()
    assert (action.owner.username, action.due_on) == ("owner1", date(2022, 9, 1))


def _basic() -> dict:
    return {"held_on": "2022-07-01", "lead_unit": "DAYE"}


def test_command_cancels_an_action_with_a_reason_and_a_clerk_cannot(
    app, make_unit, make_user, login, session
):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    post_form(clerk, "/drills/new", FULL)
    action = session.scalar(select(CorrectiveAction))
    assert post_form(clerk, f"/actions/{action.id}/cancel", {"reason": "x"}).status_code == 403
    cmd = app.test_client()
    post_form(cmd, "/login", {"username": "cmd1", "password": "secret-pass-1"})
    r = post_form(cmd, f"/actions/{action.id}/cancel", {"reason": ""})
    assert "请填写原因" in text(cmd.get(r.location))
    r = post_form(cmd, f"/actions/{action.id}/cancel", {"reason": "已由新预案覆盖"})
    assert "已取消该整改事项" in text(cmd.get(r.location))
    session.expire_all()
    assert session.get(CorrectiveAction, action.id).cancel_reason == "已由新预案覆盖"


def test_requirements_every_n_days_and_a_new_drill_kind(make_unit, make_user, login, session):
    setup(make_unit, make_user, session)
    client = login("cmd1")
    r = post_form(
        client,
        "/drills/requirements",
        {"station-field_exercise": "182", "station-field_exercise-per": "days"},
    )
    assert r.status_code == 302
    page = text(client.get("/drills/compliance?year=2022"))
    assert "（每 182 天）" in page and "已逾期" in page
    form = text(client.get("/drills/requirements"))
    assert 'value="182"' in form and '<option value="days" selected>' in form
    r = post_form(
        client,
        "/drills/kinds",
        {"code": "boat_rescue", "name": "舟艇救援演练", "family": "drill", "is_active": "1"},
    )
    assert "已保存演练类型 boat_rescue" in text(client.get(r.location))
    assert "舟艇救援演练" in text(client.get("/drills/new"))
    r = post_form(client, "/drills/kinds", {"code": "船 救援", "name": "x", "family": "drill"})
    assert "类型代码只能用英文字母" in text(client.get(r.location))
    assert count(session, DrillKind) == 6


def test_overdue_actions_per_owner_and_unit(make_unit, make_user, login, session):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    late = (date.today() - timedelta(days=10)).isoformat()
    post_form(clerk, "/drills/new", {**FULL, "due-0": late})
    page = text(clerk.get("/actions"))
    section = page[page.index("逾期整改") : page.index("</section>", page.index("逾期整改"))]
    assert "张队长" in section and "大冶派出所" in section and late in section
    assert "对讲机频道未统一" in text(clerk.get("/actions?owner=owner1&overdue=1"))
    assert "对讲机频道未统一" not in text(clerk.get("/actions?owner=clerk1"))


def test_training_with_trainee_names(make_unit, make_user, login, session):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    data = {"unit": "DAYE", "course": "冲锋舟实操", "held_on": "2022-07-08", "trainees": ""}
    post_form(clerk, "/training/sessions", {**data, "trainee_names": "王建国\n李卫东"})
    assert session.scalar(select(TrainingSession.trainees)) == 2
    assert "王建国、李卫东" in text(clerk.get("/training"))
    r = post_form(clerk, "/training/sessions", {**data, "trainees": "1", "trainee_names": "甲\n乙"})
    assert "多于参训人数" in text(clerk.get(r.location))
    assert count(session, TrainingSession) == 1


def test_a_double_submitted_record_form_records_one_drill(make_unit, make_user, login, session):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    form = text(clerk.get("/drills/new"))
    key = form.split('name="request_key" value="')[1].split('"')[0]
    first = post_form(clerk, "/drills/new", {**FULL, "request_key": key})
    again = post_form(clerk, "/drills/new", {**FULL, "request_key": key})
    assert again.location == first.location
    assert "这张表单已经登记过" in text(clerk.get(again.location))
    assert count(session, Drill) == 1 and count(session, CorrectiveAction) == 1


def test_the_compliance_report_downloads_as_csv_xlsx_and_pdf(
    make_unit, make_user, make_token, api, login, session
):
    from openpyxl import load_workbook

    from tests.labels.test_services import pdf_text

    setup(make_unit, make_user, session)
    client = login("cmd1")
    post_form(client, "/drills/requirements", {"station-flood_drill": "1"})
    csv = text(client.get("/drills/compliance?year=2022&format=csv"))
    assert "大冶派出所" in csv and "大型防汛演练" in csv and "已逾期" in csv
    token = make_token(session.scalar(select(User).where(User.username == "cmd1")))
    xlsx = api(token).get("/api/v1/reports/drill-compliance?year=2022&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in sheet[2]][:5] == ["DAYE", "大冶派出所", "大型防汛演练", 1, 0]
    pdf = api(token).get("/api/v1/reports/drill-compliance?year=2022&format=pdf")
    assert pdf.mimetype == "application/pdf"
    words = pdf_text(pdf.data)
    assert "2022 年演练达标情况" in words and "已逾期" in words
    assert api(token).get("/api/v1/reports/drill-compliance?format=doc").status_code == 400


def test_the_drill_list_filters_and_pages(app, make_unit, make_user, login, session):
    setup(make_unit, make_user, session)
    app.config["PAGE_SIZE"] = 2
    clerk = login("clerk1")
    for n, (kind, day) in enumerate(
        [("tabletop", "2021-05-01"), ("tabletop", "2022-05-01"), ("field_exercise", "2022-06-01")]
    ):
        post_form(
            clerk, "/drills/new", {**_basic(), "title": f"演练{n}", "kind": kind, "held_on": day}
        )
    first = text(clerk.get("/drills"))
    assert "共 3 次演练" in first and "第 1 / 2 页" in first and "演练0" not in first
    assert "演练0" in text(clerk.get("/drills?page=2"))
    only = text(clerk.get("/drills?year=2022&kind=tabletop"))
    assert "共 1 次演练" in only and "演练1" in only
    csv = text(clerk.get("/drills?format=csv&year=2022"))
    assert "演练1" in csv and "演练2" in csv and "演练0" not in csv
    assert clerk.get("/drills?unit=NOWHERE").status_code == 404


def test_action_lists_page_and_do_not_query_per_row(
    app, make_unit, make_user, make_token, api, login, session
):
    from sqlalchemy import event

    from readiness.db import db

    daye = setup(make_unit, make_user, session)
    for n in range(9):  # a different owner per action: lazy loading would query each
        make_user(f"o{n}", "clerk", daye)
    clerk = login("clerk1")

    def record(n):
        form = {**FULL, "title": f"演练{n}", "finding-0": f"问题{n}", "owner-0": f"o{n}"}
        post_form(clerk, "/drills/new", form)

    for n in range(3):
        record(n)
    app.config["PAGE_SIZE"] = 2
    first = text(clerk.get("/actions"))
    assert "共 3 项" in first and "第 1 / 2 页" in first and "问题2" not in first
    assert "问题2" in text(clerk.get("/actions?page=2"))
    assert all(f"问题{n}" in text(clerk.get("/actions?format=csv")) for n in range(3))
    token = make_token(session.scalar(select(User).where(User.username == "cmd1")))
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        few = len(api(token).get("/api/v1/actions").get_json()["actions"]), len(statements)
        for n in range(3, 9):
            record(n)
        statements.clear()
        many = len(api(token).get("/api/v1/actions").get_json()["actions"]), len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert (few[0], many[0]) == (3, 9)
    assert many[1] == few[1]  # the same queries for 9 actions as for 3


def test_the_correction_form_starts_from_the_record_and_refuses_bad_values(
    make_unit, make_user, login, session
):
    setup(make_unit, make_user, session)
    clerk = login("clerk1")
    post_form(clerk, "/drills/new", FULL)
    drill = session.scalar(select(Drill))
    form = text(clerk.get(f"/drills/{drill.id}/edit"))
    assert 'value="颍河防汛实战演练"' in form and 'value="08:30"' in form
    assert '<option value="single" selected>' in form
    data = {
        "title": "颍河防汛实战演练",
        "kind": "field_exercise",
        "held_on": "2022-07-15",
        "start_time": "08:30",
        "end_time": "12:00",
        "scope": "single",
        "participants": "45",
    }
    bad = post_form(clerk, f"/drills/{drill.id}/edit", {**data, "participants": "-3"})
    assert "参演人数不能为负数。" in text(bad)
    r = post_form(clerk, f"/drills/{drill.id}/edit", data)
    assert "已更正演练记录" in text(clerk.get(r.location))
    session.expire_all()
    drill = session.get(Drill, drill.id)
    assert (drill.participants, drill.duration_minutes) == (45, 210)
