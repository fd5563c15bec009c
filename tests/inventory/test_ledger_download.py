"""The ledger (出入库台账) downloads as CSV and XLSX: every movement the user may see, in
the order the page shows (here oldest first, ?sort=time&dir=asc), with the names a reader
looks for, and nothing from a unit beyond their reach."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from inventory.models import Movement

HEADER = [
    "编号",
    "时间",
    "单位",
    "物资",
    "批次",
    "类型",
    "数量",
    "结存",
    "本单位合计",
    "经办人",
    "原因",
    "单据",
    "备注",
    "手机记录时间",
]


@pytest.fixture
def books(session, make_unit, make_user, make_item, stock):
    """A bureau with two stations; the clerk of the first, command staff of the bureau."""
    bureau = make_unit("BUR", name="登封市公安局", kind="bureau")
    daye = make_unit("DAYE", name="大冶派出所", parent=bureau)
    baiping = make_unit("BAIP", name="白坪派出所", parent=bureau)
    make_user("clerk-daye", "clerk", daye)
    make_user("command-df", "command", bureau)
    jacket = make_item("JK", name="救生衣", shelf_life_days=730)
    tape = make_item("TP", name="警戒带")
    stock(daye, jacket, 6, lot_code="L2024-01", expires_on=date.today() + timedelta(days=300))
    stock(
        daye, jacket, 2, kind="write_off", reason="damaged", note="演练中破损", lot_code="L2024-01"
    )
    stock(daye, tape, 3, note="首批")
    stock(baiping, tape, 1, note="白坪入库")
    return {"daye": daye, "baiping": baiping}


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.get_data().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _xlsx_rows(response) -> list[list]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_clerk_csv_holds_own_unit_movements_in_order(books, login, session):
    client = login("clerk-daye")
    rows = _csv_rows(client.get("/ledger?format=csv&sort=time&dir=asc"))
    assert rows[0] == HEADER
    body = rows[1:]
    assert [r[2] for r in body] == ["大冶派出所"] * 3  # nothing of 白坪派出所
    ids = [int(r[0]) for r in body]
    assert ids == sorted(ids)
    receipt, write_off, tape = body
    assert receipt[3:9] == ["救生衣", "L2024-01", "入库", "6", "6", "6"]
    assert write_off[3:11] == ["救生衣", "L2024-01", "报损核销", "-2", "4", "4", "system", "损坏"]
    assert write_off[12] == "演练中破损"
    assert tape[3:9] == ["警戒带", "", "入库", "3", "3", "3"]
    first = session.get(Movement, ids[0])
    assert receipt[1] == first.at.strftime("%Y-%m-%d %H:%M")


def test_clerk_xlsx_has_no_other_unit(books, login):
    client = login("clerk-daye")
    rows = _xlsx_rows(client.get("/ledger?format=xlsx&sort=time&dir=asc"))
    assert rows[0] == HEADER
    assert {r[2] for r in rows[1:]} == {"大冶派出所"}
    assert [(r[3], r[6], r[7], r[8]) for r in rows[1:]] == [
        ("救生衣", 6, 6, 6),
        ("救生衣", -2, 4, 4),
        ("警戒带", 3, 3, 3),
    ]


def test_clerk_cannot_pick_another_unit(books, login):
    client = login("clerk-daye")
    assert client.get("/ledger?format=csv&unit=BAIP").status_code == 403


def test_command_downloads_every_unit_of_the_bureau(books, login):
    client = login("command-df")
    csv_rows = _csv_rows(client.get("/ledger?format=csv&sort=time&dir=asc"))
    xlsx_rows = _xlsx_rows(client.get("/ledger?format=xlsx&sort=time&dir=asc"))
    assert [r[2] for r in csv_rows[1:]] == ["大冶派出所"] * 3 + ["白坪派出所"]
    # The two files hold the same rows (numbers are numbers in the workbook).
    assert [[("" if v is None else str(v)) for v in r] for r in xlsx_rows] == csv_rows
    assert csv_rows[-1][3:9] == ["警戒带", "", "入库", "1", "1", "1"]
    assert csv_rows[-1][12] == "白坪入库"


def test_command_narrows_to_one_unit_and_a_period(books, login):
    client = login("command-df")
    today = date.today()
    rows = _csv_rows(client.get(f"/ledger?format=csv&unit=BAIP&date_from={today}&date_to={today}"))
    assert [r[2] for r in rows[1:]] == ["白坪派出所"]
    later = today + timedelta(days=1)
    rows = _csv_rows(client.get(f"/ledger?format=csv&date_from={later}"))
    assert rows == [HEADER]


def test_a_ledger_too_long_for_xlsx_is_refused_up_front_with_the_filters_kept(
    books, login, monkeypatch
):
    """Over the XLSX row limit the page says to narrow the period or take the CSV, and
    nothing is generated; at the limit the workbook downloads."""
    from readiness import exports

    client = login("command-df")
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    refused = client.get("/ledger?format=xlsx&unit=DAYE", follow_redirects=True)
    assert refused.status_code == 200
    assert refused.mimetype == "text/html"
    page = refused.get_data(as_text=True)
    assert "超过 2 行" in page and "CSV" in page
    assert refused.request.args.get("unit") == "DAYE" and "format" not in refused.request.args

    assert len(_xlsx_rows(client.get("/ledger?format=xlsx&unit=BAIP"))) == 2
    assert len(_csv_rows(client.get("/ledger?format=csv&unit=DAYE"))) == 4


def test_any_xlsx_over_the_limit_is_an_error_page_not_a_cut_workbook(app, monkeypatch):
    """The writer itself refuses the row past the limit, for tables no view counts first."""
    from readiness import exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    with app.test_request_context():
        at_limit = exports.xlsx_response("t", ["a"], [[1], [2]])
        assert at_limit.status_code == 200
        at_limit.close()
        with pytest.raises(exports.TooManyRows):
            exports.xlsx_response("t", ["a"], [[1], [2], [3]])
