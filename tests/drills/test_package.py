"""The inspection package: one PDF naming every drill of a unit (and the units below it) in a
period with its participants, ratings and the state of each corrective action, and a ZIP
of the files — complete, honest, and only for those who may see the unit."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from datetime import date, time
from pathlib import Path

import pytest
from sqlalchemy import event

from drills import package as pkg
from drills import package_pdf, package_zip, records, requirements
from drills.attachments import attachment_path
from drills.models import Attachment
from readiness.db import utcnow
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.models import Unit, User
from readiness.permissions import SYSTEM
from rectification import actions
from tests import pdfcheck
from tests.conftest import PASSWORD, post_form

TODAY = date(2022, 10, 1)
YEAR = (date(2022, 1, 1), date(2022, 12, 31))
SIGN_IN = b"%PDF-1.4 sign-in sheet of the flood drill\n"
EVIDENCE = b"%PDF-1.4 duty roster issued after the drill\n"


@pytest.fixture
def app_config(tmp_path):
    return {"ATTACHMENT_DIR": str(tmp_path / "stored-files")}


def pdf_text(data: bytes) -> str:
    """The PDF's text with all whitespace removed (table cells wrap anywhere)."""
    return re.sub(r"\s+", "", pdfcheck.pdf_text(data))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def store(app, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    path = attachment_path(pkg_storage(app), sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha


def pkg_storage(app) -> Path:
    return Path(app.config["ATTACHMENT_DIR"])


@pytest.fixture
def world(app, session, make_unit, make_user, make_item):
    df = make_unit("DF", name="登封市公安局", kind="bureau")
    daye = make_unit("DAYE", name="大冶派出所", parent=df)
    squad = make_unit("DAYE-SQ", name="大冶应急中队", kind="squad", parent=daye)
    ludian = make_unit("LUDIAN", name="卢店派出所", parent=df)
    clerk = make_user("clerk1", "clerk", daye)
    owner = make_user("owner1", "clerk", daye, name="张队长")
    owner2 = make_user("owner2", "clerk", squad, name="王班长")
    other_clerk = make_user("clerk2", "clerk", ludian)
    cmd = make_user("cmd1", "command", df, name="赵指挥")
    insp = make_user("insp1", "inspector", df, name="李督察")
    boat = make_item("BOAT1", name="冲锋舟")

    flood = records.create_drill(
        session,
        title="2022年防汛抢险综合演练",
        kind="flood_drill",
        held_on=date(2022, 6, 28),
        start_time=time(9, 0),
        end_time=time(11, 30),
        lead_unit=daye,
        units=[ludian],
        participants=120,
        scenario="颍河水位超警戒，村庄群众被困",
        location="颍河大冶段",
        roster="张队长、刘警官",
        items=[boat],
        hands_on_training=True,
        purpose="检验汛期群众转移能力",
        summary="接警后 12 分钟到场",
        problems="岗位任务不明确",
        lessons="提前明确分工",
        objectives=[("15分钟内完成群众转移", "S"), ("救生艇30分钟内下水", "U")],
        findings=[
            records.FindingInput("岗位职责不清", owner=owner, due_on=date(2022, 8, 1), objective=1),
            records.FindingInput("救援绳使用不熟练", owner=owner, due_on=date(2022, 9, 1)),
            records.FindingInput("通讯中断无备用", owner=owner, due_on=date(2022, 8, 15)),
            records.FindingInput("重复登记参演人员", owner=owner, due_on=date(2022, 9, 30)),
            records.FindingInput("转移路线熟悉", is_strength=True),
        ],
        actor=clerk,
        today=TODAY,
    )
    verified, moved, overdue, cancelled = [a for f in flood.findings for a in f.actions]
    actions.mark_done(session, verified, "印发职责分工一览表", actor=owner)
    actions.verify_action(session, verified, actor=insp)
    actions.start_action(session, moved, actor=owner)
    actions.request_extension(
        session, moved, date(2022, 10, 31), "等培训教官到位", actor=owner, today=TODAY
    )
    actions.approve_extension(session, moved, actor=cmd, today=TODAY)
    actions.cancel_action(session, cancelled, "与第3项重复", actor=cmd)

    squad_drill = records.create_drill(
        session,
        title="最小作战单元夜间拉动",
        kind="combat_unit_drill",
        held_on=date(2022, 9, 10),
        lead_unit=squad,
        participants=12,
        objectives=[("夜间10分钟集结", "M")],
        actor=SYSTEM,
        today=TODAY,
    )
    unrelated = records.create_drill(
        session,
        title="卢店单独桌面推演",
        kind="tabletop",
        held_on=date(2022, 7, 1),
        lead_unit=ludian,
        participants=8,
        actor=SYSTEM,
        today=TODAY,
    )
    last_year = records.create_drill(
        session,
        title="去年的防汛演练",
        kind="flood_drill",
        held_on=date(2021, 6, 1),
        lead_unit=daye,
        participants=50,
        actor=SYSTEM,
        today=TODAY,
    )
    planned = records.create_drill(
        session,
        title="冬季计划演练",
        kind="tabletop",
        held_on=date(2022, 12, 1),
        lead_unit=daye,
        actor=SYSTEM,
        today=TODAY,
    )
    sign_in = Attachment(
        drill=flood,
        kind="sign_in",
        filename="签到表.pdf",
        content_type="application/pdf",
        size_bytes=len(SIGN_IN),
        sha256=store(app, SIGN_IN),
        uploaded_by_id=clerk.id,
    )
    evidence = Attachment(
        drill=flood,
        action=verified,
        kind="evidence",
        filename="职责分工.pdf",
        content_type="application/pdf",
        size_bytes=len(EVIDENCE),
        sha256=store(app, EVIDENCE),
        uploaded_by_id=owner.id,
    )
    lost = b"\xff\xd8\xff a photo whose file was lost"
    lost_photo = Attachment(
        drill=squad_drill,
        kind="photo",
        filename="集结照片.jpg",
        content_type="image/jpeg",
        size_bytes=len(lost),
        sha256=hashlib.sha256(lost).hexdigest(),
    )
    session.add_all([sign_in, evidence, lost_photo])
    session.commit()
    return {
        "df": df,
        "daye": daye,
        "ludian": ludian,
        "clerk": clerk,
        "owner2": owner2,
        "other_clerk": other_clerk,
        "cmd": cmd,
        "insp": insp,
        "flood": flood,
        "squad_drill": squad_drill,
        "unrelated": unrelated,
        "last_year": last_year,
        "planned": planned,
        "actions": {
            "verified": verified,
            "moved": moved,
            "overdue": overdue,
            "cancelled": cancelled,
        },
        "sign_in": sign_in,
        "evidence": evidence,
        "lost_photo": lost_photo,
    }


def build(session, world, unit=None, period=YEAR):
    data = pkg.package_data(session, unit or world["daye"], *period, today=TODAY)
    pdf = package_pdf.package_pdf(
        data,
        kinds=requirements.drill_kinds(session),
        generated_at=utcnow(),
        generated_by=world["insp"],
    )
    return data, pdf


# ---------------------------------------------------------------- what is in it


def test_the_package_holds_the_units_held_drills_of_the_period_and_those_below_it(session, world):
    data = pkg.package_data(session, world["daye"], *YEAR, today=TODAY)
    assert [d.title for d in data.drills] == ["2022年防汛抢险综合演练", "最小作战单元夜间拉动"]
    assert data.planned == 1  # counted on the cover, not listed as held
    assert pkg.action_counts(data.actions) == {
        "open": 1,
        "in_progress": 1,
        "done": 0,
        "verified": 1,
        "cancelled": 1,
    }
    # A unit that only took part sees the drill too; the squad's own package does not
    # reach up to its parent.
    ludian = pkg.package_data(session, world["ludian"], *YEAR, today=TODAY)
    assert [d.title for d in ludian.drills] == ["2022年防汛抢险综合演练", "卢店单独桌面推演"]
    squad = pkg.package_data(session, world["owner2"].unit, *YEAR, today=TODAY)
    assert [d.title for d in squad.drills] == ["最小作战单元夜间拉动"]


def _queries(app, session, unit_id: int, insp_id: int) -> tuple[int, int]:
    """Statements run loading the package, and then building its PDF and ZIP."""
    session.expunge_all()
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        unit, insp = session.get(Unit, unit_id), session.get(User, insp_id)
        kinds = requirements.drill_kinds(session)
        statements.clear()
        data = pkg.package_data(session, unit, *YEAR, today=TODAY)
        loading = len(statements)
        statements.clear()
        pdf = package_pdf.package_pdf(data, kinds=kinds, generated_at=utcnow(), generated_by=insp)
        package_zip.package_zip(data, pdf, pkg_storage(app))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return loading, len(statements)


def test_the_package_loads_in_a_fixed_number_of_queries(app, session, world):
    ids = world["daye"].id, world["insp"].id
    owner_id = world["owner2"].id
    loading, building = _queries(app, session, *ids)
    owner = session.get(User, owner_id)
    assert building == 0  # the PDF and the ZIP are built from what was loaded
    for n in range(3):
        records.create_drill(
            session,
            title=f"加练 {n}",
            kind="tabletop",
            held_on=date(2022, 3, 1 + n),
            lead_unit=owner.unit,
            units=[session.get(Unit, ids[0])],
            objectives=[("目标", "P")],
            findings=[records.FindingInput(f"问题 {n}", owner=owner, due_on=date(2022, 5, 1))],
            actor=SYSTEM,
            today=TODAY,
        )
    session.commit()
    assert _queries(app, session, *ids) == (loading, 0)  # more drills, no more queries


def test_the_pdf_names_drills_participants_ratings_and_every_actions_state(session, world):
    _data, pdf = build(session, world)
    text = pdf_text(pdf)
    for expected in (
        "大冶派出所演练检查资料包",
        "2022-01-01至2022-12-31",
        "李督察（insp1）",  # generated by
        "计划中、尚未实施的演练1次",
        "2022年防汛抢险综合演练",
        "最小作战单元夜间拉动",
        "09:00–11:30",
        "150分钟",
        "大型防汛演练（通用分类：综合实战演练）",
        "卢店派出所（LUDIAN）",
        "张队长、刘警官",
        "冲锋舟（BOAT1）",
        "S基本完成，存在一些问题",
        "U未能完成",
        "M存在重大问题",
        "检验汛期群众转移能力",
        "岗位任务不明确",
        "提前明确分工",
        "已验证销号",
        "整改中",
        "未开始（已逾期47天）",
        "已取消",
        "与第3项重复",
        "印发职责分工一览表",
        "2022-09-01改为2022-10-31，原因：等培训教官到位",
        "签到表.pdf",
        hashlib.sha256(SIGN_IN).hexdigest(),
        hashlib.sha256(EVIDENCE).hexdigest(),
        "单位负责人（签字）",
        "检查组（签字）",
    ):
        assert squash(expected) in text, expected
    assert text.count("李督察（insp1）") >= 2  # generator and verifier
    assert "张队长（owner1）" in text
    assert "120" in text and "12" in text
    for excluded in ("卢店单独桌面推演", "去年的防汛演练", "冬季计划演练"):
        assert excluded not in text


def test_the_summary_counts_drills_actions_and_weak_objectives(session, world):
    _data, pdf = build(session, world)
    text = pdf_text(pdf)
    summary = text[: text.index("三、演练明细")]
    assert "大型防汛演练综合实战演练11200" in summary  # kind, family, count, participants, real
    assert "合计21320" in summary
    assert "已验证销号1" in summary and "已完成待验证0" in summary and "合计4" in summary
    assert "通讯中断无备用" in summary  # the overdue action, named
    assert "救生艇30分钟内下水" in summary and "夜间10分钟集结" in summary


def test_compliance_rows_of_the_subtree_are_in_the_pdf(session, world):
    requirements.set_requirements(
        session,
        [requirements.RequirementInput("station", "flood_drill", per_year=1)],
        actor=world["cmd"],
    )
    session.commit()
    _data, pdf = build(session, world)
    text = pdf_text(pdf)
    assert "2022年" in text
    assert "DAYE大冶派出所大型防汛演练11" in text  # required 1, held 1
    assert "LUDIAN" not in text[text.index("二、演练达标情况") : text.index("三、演练明细")]


# ---------------------------------------------------------------- the ZIP


def test_the_zip_holds_the_pdf_the_files_unchanged_and_a_manifest(app, session, world):
    data, pdf = build(session, world)
    archive = zipfile.ZipFile(io.BytesIO(package_zip.package_zip(data, pdf, pkg_storage(app))))
    names = archive.namelist()
    pdf_name = "drill-package-DAYE-2022-01-01-2022-12-31.pdf"
    assert archive.read(pdf_name) == pdf
    folder = "2022-06-28_2022年防汛抢险综合演练"
    assert archive.read(f"{folder}/签到表.pdf") == SIGN_IN
    action_id = world["actions"]["verified"].id
    assert archive.read(f"{folder}/整改证据/整改{action_id}_职责分工.pdf") == EVIDENCE
    assert not any("集结照片" in n for n in names)  # its file is gone
    raw = archive.read("manifest.csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, *lines = rows
    assert header[0] == "文件路径" and header[7] == "SHA-256"
    by_path = {r[0]: r for r in lines}
    assert by_path[pdf_name][7] == hashlib.sha256(pdf).hexdigest()
    sign_in = by_path[f"{folder}/签到表.pdf"]
    assert sign_in[1:4] == ["2022年防汛抢险综合演练", "2022-06-28", "签到表"]
    assert sign_in[6:] == [str(len(SIGN_IN)), hashlib.sha256(SIGN_IN).hexdigest(), "正常"]
    evidence = by_path[f"{folder}/整改证据/整改{action_id}_职责分工.pdf"]
    assert evidence[5] == str(action_id) and evidence[-1] == "正常"
    [lost] = [r for r in lines if r[4] == "集结照片.jpg"]
    assert lost[0] == "2022-09-10_最小作战单元夜间拉动/集结照片.jpg"
    assert lost[-1] == "文件缺失"
    assert len(lines) == 4  # the PDF and all three attachments, none left out


def test_a_file_changed_in_storage_is_flagged_not_passed_off(app, session, world):
    path = attachment_path(pkg_storage(app), world["sign_in"].sha256)
    path.write_bytes(b"%PDF-1.4 something else entirely\n")
    data, pdf = build(session, world)
    archive = zipfile.ZipFile(io.BytesIO(package_zip.package_zip(data, pdf, pkg_storage(app))))
    rows = list(csv.reader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    [row] = [r for r in rows if r[4] == "签到表.pdf"]
    assert row[-1].startswith("校验不符")
    assert row[7] == world["sign_in"].sha256  # the recorded hash stays in its column


def test_missing_files_are_reported_before_download(app, session, world):
    data = pkg.package_data(session, world["daye"], *YEAR, today=TODAY)
    assert [a.filename for a in package_zip.missing_files(data, pkg_storage(app))] == [
        "集结照片.jpg"
    ]


def test_names_in_the_zip_are_safe_and_unique():
    assert package_zip.safe_name('a/b\\c:d*e?"f<g>h|i') == "a_b_c_d_e__f_g_h_i"
    assert package_zip.safe_name("../..") == "_"
    assert package_zip.safe_name("CON.pdf") == "_CON.pdf"
    assert package_zip.safe_name("x" * 100 + ".jpeg", limit=20) == "x" * 15 + ".jpeg"
    taken: set[str] = set()
    assert [package_zip._unique(n, taken) for n in ("a.pdf", "A.pdf", "a.pdf", "b")] == [
        "a.pdf",
        "A (2).pdf",
        "a (3).pdf",
        "b",
    ]


# ---------------------------------------------------------------- the period


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(2022, 6, 1), date(2022, 5, 31), "结束日期不能早于开始日期"),
        (date(2020, 1, 1), date(2023, 1, 1), "期间不能超过 3 年"),
        (None, date(2022, 5, 31), "请填写开始日期"),
    ],
)
def test_a_bad_period_is_refused_in_plain_words(session, world, start, end, message):
    with pytest.raises(DomainError) as err:
        pkg.package_data(session, world["daye"], start, end)
    assert message in err.value.message


def test_three_years_exactly_is_allowed(session, world):
    data = pkg.package_data(session, world["daye"], date(2020, 1, 1), date(2022, 12, 31))
    assert "去年的防汛演练" in [d.title for d in data.drills]


# ---------------------------------------------------------------- page and API


def test_the_page_previews_and_downloads_the_package(app, world, login):
    clerk = login("clerk1")
    page = clerk.get("/drills/package?unit=DAYE&from=2022-01-01&to=2022-12-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2022年防汛抢险综合演练" in html and "卢店单独桌面推演" not in html
    assert "其中 1 个文件缺失" in html and "集结照片.jpg" in html
    # the downloads are buttons of the period form, not links made at the last preview
    assert 'name="format" value="pdf"' in html and 'name="format" value="zip"' in html
    pdf = clerk.get("/drills/package?unit=DAYE&from=2022-01-01&to=2022-12-31&format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "drill-package-DAYE-2022-01-01-2022-12-31.pdf" in pdf.headers["Content-Disposition"]
    assert "最小作战单元夜间拉动" in pdf_text(pdf.data)
    zipped = clerk.get("/drills/package?unit=DAYE&from=2022-01-01&to=2022-12-31&format=zip")
    assert zipped.status_code == 200 and zipped.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.data))
    assert archive.read("2022-06-28_2022年防汛抢险综合演练/签到表.pdf") == SIGN_IN
    index = clerk.get("/drills").get_data(as_text=True)
    assert "/drills/package" in index


def test_the_page_defaults_to_own_unit_or_the_bureau_and_this_year(app, world, login):
    html = login("clerk1").get("/drills/package").get_data(as_text=True)
    assert re.search(r'<option value="DAYE" selected>', html)
    assert f'value="{date.today().year}-01-01"' in html
    assert "LUDIAN" not in html  # a clerk is offered only the units within reach
    command = app.test_client()
    post_form(command, "/login", {"username": "cmd1", "password": PASSWORD})
    assert re.search(r'<option value="DF" selected>', command.get("/drills/package").text)


def test_the_package_even_in_english_is_written_in_chinese(app, world, login):
    clerk = login("clerk1")
    r = clerk.get("/drills/package?unit=DAYE&from=2022-01-01&to=2022-12-31&format=pdf&lang=en")
    assert "检查组（签字）" in pdf_text(r.data)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2022-13-01", "开始日期必须是 YYYY-MM-DD 格式的日期"),
        ("from=2022-06-01&to=2022-05-01", "结束日期不能早于开始日期"),
        ("from=2018-01-01&to=2022-12-31&format=pdf", "期间不能超过 3 年"),
    ],
)
def test_bad_dates_show_the_reason_on_the_page(world, login, query, message):
    r = login("clerk1").get(f"/drills/package?unit=DAYE&{query}")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert message in r.get_data(as_text=True)


def test_a_clerk_of_another_station_is_refused(app, world, login, make_token, api):
    other = login("clerk2")
    assert other.get("/drills/package?unit=DAYE").status_code == 403
    assert other.get("/drills/package?unit=DAYE&format=zip").status_code == 403
    assert other.get("/drills/package?unit=LUDIAN").status_code == 200
    token = make_token(world["other_clerk"])
    r = api(token).get("/api/v1/reports/drill-package?unit=DAYE&format=pdf")
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"


def test_the_api_answers_json_pdf_and_zip(app, world, make_token, api):
    client = api(make_token(world["insp"]))
    query = "/api/v1/reports/drill-package?unit=DAYE&from=2022-01-01&to=2022-12-31"
    r = client.get(query)
    assert r.status_code == 200
    body = r.json
    assert (body["unit"], body["from"], body["to"]) == ("DAYE", "2022-01-01", "2022-12-31")
    flood, squad = body["drills"]
    assert flood == {
        "id": world["flood"].id,
        "title": "2022年防汛抢险综合演练",
        "held_on": "2022-06-28",
        "kind": "flood_drill",
        "participants": 120,
        "actions": {"open": 1, "in_progress": 1, "done": 0, "verified": 1, "cancelled": 1},
    }
    assert squad["participants"] == 12 and sum(squad["actions"].values()) == 0
    pdf = client.get(query + "&format=pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    zipped = client.get(query + "&format=zip")
    assert zipped.mimetype == "application/zip"
    assert "manifest.csv" in zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()
    assert client.get(query + "&format=xml").status_code == 400
    bad = client.get("/api/v1/reports/drill-package?unit=DAYE&from=2022-06-01&to=2022-05-01")
    assert bad.status_code == 422 and "结束日期不能早于开始日期" in bad.json["error"]["message"]
    assert client.get("/api/v1/reports/drill-package?unit=NOPE").status_code == 404
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert (
        "application/zip" in (paths["/reports/drill-package"]["get"]["responses"]["200"]["content"])
    )


def test_the_pdf_shows_refused_extensions_returns_and_who_reported_done(session, world):
    """An inspector reading the package sees what was asked and refused and what was sent
    back, not only the dates that moved."""
    overdue = world["actions"]["overdue"]
    owner = overdue.owner
    actions.request_extension(
        session, overdue, date(2022, 12, 31), "物资未到", actor=owner, today=TODAY
    )
    actions.reject_extension(session, overdue, "物资已到货", actor=world["cmd"])
    actions.mark_done(session, overdue, "已组织复训", actor=owner)
    actions.return_action(session, overdue, "只开了会，未见训练记录", actor=world["insp"])
    actions.mark_done(session, overdue, "补充训练签到表", actor=owner)
    session.commit()
    text = pdf_text(build(session, world)[1])
    assert "申请延期至2022-12-31，原因：物资未到" in text
    assert "已驳回，理由：物资已到货" in text
    assert "退回整改，理由：只开了会，未见训练记录" in text
    assert "报告完成人" in text and owner.username in text
