"""Importing a town/village list: every row checked before anything is written."""

import io
import json
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from shelters import places_import as pi
from shelters.models import Village
from tests.conftest import post_form

HEADER = "镇街代码,镇街名称,村社名称,类型,人口,需转移人口\n"


def _csv(body: str, *, encoding="utf-8", header=HEADER) -> bytes:
    return (header + body).encode(encoding)


def _xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _villages(session, town_code=None):
    return {
        v.name: (v.kind, v.population, v.to_relocate)
        for v in session.scalars(select(Village))
        if town_code is None or v.town.code == town_code
    }


# ---------------------------------------------------------------- parsing, no database


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_is_read_in_the_encodings_chinese_excel_saves(encoding):
    data = _csv("XQ,新桥镇,新桥村,村,1200,300\nXQ,新桥镇,文昌社区,社区,5000,0\n", encoding=encoding)
    preview = pi.parse("村社名单.csv", data)
    assert preview.errors == []
    assert [(r.line, r.town_code, r.town_name, r.village.name) for r in preview.rows] == [
        (2, "XQ", "新桥镇", "新桥村"),
        (3, "XQ", "新桥镇", "文昌社区"),
    ]
    assert preview.rows[1].village.kind == "community"
    assert (preview.rows[0].village.population, preview.rows[0].village.to_relocate) == (1200, 300)


def test_english_headers_and_missing_kind_default_to_village():
    data = _csv(
        "XQ,新桥镇,新桥村,,1200,300\n",
        header="town_code,town_name,village,kind,population,to_relocate\n",
    )
    preview = pi.parse("villages.CSV", data)
    assert preview.errors == []
    assert preview.rows[0].village.kind == "village"


def test_xlsx_with_numbers_stored_as_numbers_or_text():
    data = _xlsx(
        [
            ["镇街代码", "镇街名称", "村社名称", "类型", "人口", "需转移人口"],
            ["XQ", "新桥镇", "新桥村", "村", 1200, 300.0],
            ["XQ", "新桥镇", "文昌社区", "社区", "5000", "12"],
        ]
    )
    preview = pi.parse("名单.xlsx", data)
    assert preview.errors == []
    assert [
        (r.village.name, r.village.population, r.village.to_relocate) for r in preview.rows
    ] == [
        ("新桥村", 1200, 300),
        ("文昌社区", 5000, 12),
    ]


def test_every_bad_row_is_listed_with_its_row_number_and_column():
    data = _csv(
        "XQ,新桥镇,新桥村,村,1200,300\n"  # 2 fine
        "XQ,新桥镇,,村,100,10\n"  # 3 no village name
        "XQ,新桥镇,东村,村,一千,10\n"  # 4 not a number
        "XQ,新桥镇,西村,村,-5,0\n"  # 5 negative
        "XQ,新桥镇,南村,村,100,200\n"  # 6 to relocate > population
        "XQ,新桥镇,新桥村,村,1200,300\n"  # 7 duplicate of row 2
        "XQ,新桥镇,北村,镇,100,10\n"  # 8 unknown kind
        "XQ,新桥镇,中村,村,12.5,0\n"  # 9 not whole
    )
    preview = pi.parse("名单.csv", data)
    text = "\n".join(preview.errors)
    assert len(preview.errors) == 7, text
    assert re.search(r"第 3 行，村社名称：请填写村/社区名称", text)
    assert re.search(r"第 4 行，人口：人口必须是整数", text)
    assert re.search(r"第 5 行，人口：人口不能为负数", text)
    assert re.search(r"第 6 行，需转移人口：.*需转移人口 200 超过了人口 100", text)
    assert re.search(r"第 7 行，村社名称：新桥村 与第 2 行重复", text)
    assert re.search(r"第 8 行，类型：", text)
    assert re.search(r"第 9 行，人口：人口必须是整数", text)
    assert [r.line for r in preview.rows] == [2]


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("名单.txt", b"whatever", "只能导入 .csv 或 .xlsx 文件"),
        ("名单.csv", b"", "文件是空的"),
        ("名单.csv", b"\n\n", "文件是空的"),
        ("名单.csv", HEADER.encode(), "没有村/社区数据"),
        ("名单.csv", "村社名称,人口\n新桥村,100\n".encode(), "表头缺少列：镇街代码、需转移人口"),
        ("名单.xlsx", b"this is not a workbook", "无法读取该 XLSX 文件"),
        ("名单.csv", b"\xff\xfe\x00\x81\x30\xff\xff", "无法识别文件编码"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(filename, data, message):
    preview = pi.parse(filename, data)
    assert preview.rows == []
    assert any(message in e for e in preview.errors), preview.errors


def test_more_than_5000_rows_is_refused():
    body = "".join(f"XQ,新桥镇,村{n},村,10,1\n" for n in range(pi.MAX_ROWS + 1))
    preview = pi.parse("名单.csv", _csv(body))
    assert preview.rows == []
    assert any("一次最多导入 5,000 行" in e for e in preview.errors)


def test_an_unknown_town_code_without_a_name_is_refused(session, county):
    preview = pi.compare(
        session, pi.parse("名单.csv", _csv("XQ,,新桥村,村,10,1\nCB,,横湖村,村,2000,300\n"))
    )
    assert preview.errors == ["第 2 行，镇街名称：镇街代码 XQ 不存在，请填写镇街名称以新建。"]


def test_a_code_of_another_kind_of_unit_is_refused(session, county):
    preview = pi.compare(session, pi.parse("名单.csv", _csv("WL,,新桥村,村,10,1\n")))
    assert len(preview.errors) == 1
    assert "第 2 行，镇街代码：代码 WL 已被" in preview.errors[0]


def test_rows_are_marked_new_changed_or_unchanged(session, county):
    preview = pi.compare(
        session,
        pi.parse(
            "名单.csv",
            _csv("cb,,横湖村,村,2000,300\nCB,,双峰村,村,1600,200\nCB,,新村,村,10,1\n"),
        ),
    )
    assert preview.errors == []
    assert [r.state for r in preview.rows] == ["unchanged", "changed", "new"]


def test_the_carried_rows_are_checked_again(session, county):
    """A tampered hidden field on the confirm page is judged like a file."""
    preview = pi.from_records([[2, "CB", "", "横湖村", "village", 100, 500]])
    assert preview.rows == []
    assert "第 2 行，需转移人口" in preview.errors[0]
    assert pi.from_records("nonsense").errors
    assert pi.from_records([["short"]]).errors


# ---------------------------------------------------------------- the pages


def _upload(client, filename: str, data: bytes):
    return post_form(
        client,
        "/shelters/import",
        {"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _hidden_rows(html: str) -> str:
    match = re.search(r'name="rows" type="hidden" value="([^"]*)"', html) or re.search(
        r'type="hidden" name="rows" value="([^"]*)"', html
    )
    assert match, "no confirm form on the preview"
    import html as h

    return h.unescape(match.group(1))


def test_upload_preview_confirm_creates_towns_and_villages(client, login, session, county):
    login("cmd1")
    data = _csv(
        "XQ,新桥镇,新桥村,村,1200,300\n"
        "XQ,新桥镇,文昌社区,社区,5000,0\n"
        "CB,城北街道,双峰村,村,1600,250\n"
        "CB,城北街道,横湖村,村,2000,300\n",
        encoding="gbk",
    )
    page = _upload(client, "名单.csv", data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "新增 2，更新 1，不变 1" in html
    assert "确认导入" in html
    # nothing is written by the preview
    assert "新桥村" not in _villages(session)

    done = post_form(client, "/shelters/import/confirm", {"rows": _hidden_rows(html)})
    assert done.status_code == 302 and done.location.endswith("/shelters/towns")
    session.expire_all()
    assert _villages(session, "XQ") == {
        "新桥村": ("village", 1200, 300),
        "文昌社区": ("community", 5000, 0),
    }
    assert _villages(session, "CB")["双峰村"] == ("village", 1600, 250)
    towns_page = client.get("/shelters/towns").get_data(as_text=True)
    assert "新桥镇：新增 2 个、更新 0 个村/社区（新建镇/街道）" in towns_page
    assert "城北街道：新增 0 个、更新 1 个村/社区" in towns_page


def test_xlsx_upload_works_too(client, login, session, county):
    login("cmd1")
    data = _xlsx([["town_code", "village", "population", "to_relocate"], ["ST", "新村", 10, 2]])
    html = _upload(client, "villages.xlsx", data).get_data(as_text=True)
    post_form(client, "/shelters/import/confirm", {"rows": _hidden_rows(html)})
    session.expire_all()
    assert _villages(session, "ST")["新村"] == ("village", 10, 2)


def test_a_file_with_one_bad_row_changes_nothing(client, login, session, county):
    login("cmd1")
    before = _villages(session)
    data = _csv("XQ,新桥镇,新桥村,村,1200,300\nCB,城北街道,双峰村,村,100,250\n")
    html = _upload(client, "名单.csv", data).get_data(as_text=True)
    assert "第 3 行，需转移人口" in html
    assert "未导入任何数据" in html
    assert "确认导入" not in html
    session.expire_all()
    assert _villages(session) == before
    assert session.scalar(select(func.count()).select_from(Village)) == 6


def test_a_tampered_confirm_changes_nothing(client, login, session, county):
    login("cmd1")
    before = _villages(session)
    rows = json.dumps(
        [[2, "XQ", "新桥镇", "新桥村", "village", 10, 1], [3, "CB", "", "双峰村", "village", 5, 9]]
    )
    response = post_form(client, "/shelters/import/confirm", {"rows": rows})
    assert response.status_code == 302
    page = client.get("/shelters/import").get_data(as_text=True)
    assert "未导入任何数据" in page
    session.expire_all()
    assert _villages(session) == before


def test_only_command_staff_import_villages(client, login, county):
    login("cbclerk")
    assert client.get("/shelters/import").status_code == 403
    response = post_form(
        client,
        "/shelters/import/confirm",
        {"rows": json.dumps([[2, "CB", "", "新村", "village", 10, 1]])},
    )
    assert response.status_code == 403
    assert client.get("/shelters/import/template.csv").status_code == 403


def test_the_template_downloads_and_reads_back_clean(client, login, county):
    login("cmd1")
    response = client.get("/shelters/import/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert pi.parse("template.csv", response.data).errors == []


def test_a_full_5000_row_file_goes_through(client, login, session, county):
    login("cmd1")
    body = "".join(f"XQ,新桥镇,新桥{n}村,村,1000,10\n" for n in range(pi.MAX_ROWS))
    html = _upload(client, "名单.csv", _csv(body)).get_data(as_text=True)
    assert "新增 5000" in html
    done = post_form(client, "/shelters/import/confirm", {"rows": _hidden_rows(html)})
    assert done.status_code == 302
    session.expire_all()
    assert len(_villages(session, "XQ")) == pi.MAX_ROWS
