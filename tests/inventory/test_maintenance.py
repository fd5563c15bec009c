"""Maintenance and function tests (issue 20, item 1): a pump that does not start is not on
hand. A failed function test takes the piece out of service — the shortfall report counts it
out the same day — until a repair that passes is recorded; what is due and overdue is listed
per unit, on the dashboard, in the API and on the piece's label."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from inventory import ledger, maintenance
from inventory.models import Asset, MaintenanceRecord
from inventory.shortfall import shortfall
from labels import services as lab
from readiness.errors import DomainError, PermissionDenied
from readiness.models import AuditEntry, User
from readiness.permissions import SYSTEM
from tests.conftest import csrf_token, post_form
from tests.inventory.test_shortfall import publish


@pytest.fixture
def pumps(session, make_unit, make_item, make_user, stock):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    pump = make_item("PUMP", name="排水泵", uom="台", tracking="serial")
    stock(wh, pump, 2, serials=["PUMP-01", "PUMP-02"])
    maintenance.set_intervals(session, pump, "180", "30", actor=SYSTEM)
    make_user("keeper1", "keeper", wh)
    for asset in session.scalars(select(Asset)):  # on the books since the summer
        asset.registered_at = datetime.now(UTC) - timedelta(days=100)
    # the standard asks 2 pumps of a warehouse: the shortfall report shows what is on hand
    publish(session, date(2022, 1, 1), [("warehouse", "PUMP", "2", "0")])
    session.commit()
    return {"unit": wh, "item": pump}


def _keeper(session) -> User:
    return session.scalar(select(User).where(User.username == "keeper1"))


def _asset(session, serial: str) -> Asset:
    return session.scalar(select(Asset).where(Asset.serial == serial))


def _on_hand(session, unit, item) -> int:
    """What the shortfall report counts on hand: what the command staff see."""
    [row] = [r for r in shortfall(session, today=date.today()).rows if r.item.id == item.id]
    return row.on_hand


def test_a_failed_test_takes_the_pump_off_hand_until_a_repair_passes(session, pumps):
    keeper = _keeper(session)
    pump = _asset(session, "PUMP-01")
    before = _on_hand(session, pumps["unit"], pumps["item"])
    maintenance.record(
        session,
        pump,
        kind="function_test",
        done_on=date.today(),
        result="fail",
        readings="启动 3 次未启动",
        actor=keeper,
    )
    session.commit()
    assert pump.status == "out_of_service"
    assert _on_hand(session, pumps["unit"], pumps["item"]) == before - 1  # the same day
    # relabelling it "in service" is refused: only a repair answers a failed test
    with pytest.raises(DomainError) as err:
        ledger.set_asset_status(session, pump, "in_service", actor=keeper)
    assert "维修" in err.value.message
    session.rollback()
    maintenance.record(
        session,
        pump,
        kind="repair",
        done_on=date.today(),
        result="pass",
        vendor="登封水泵厂",
        sent_on=date.today() - timedelta(days=3),
        cost="380.50",
        actor=keeper,
    )
    session.commit()
    repair = session.scalar(select(MaintenanceRecord).where(MaintenanceRecord.kind == "repair"))
    assert repair.sent_on == date.today() - timedelta(days=3) and str(repair.cost) == "380.50"
    assert pump.status == "in_service" and _on_hand(session, pumps["unit"], pumps["item"]) == before
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "maintenance.function_test" in actions and "maintenance.repair" in actions


def test_what_is_due_counts_from_the_last_test_or_from_registration(session, pumps):
    keeper = _keeper(session)
    today = date.today()
    first, second = _asset(session, "PUMP-01"), _asset(session, "PUMP-02")
    maintenance.record(
        session,
        second,
        kind="function_test",
        done_on=today - timedelta(days=5),
        result="pass",
        actor=keeper,
    )
    session.commit()
    rows = maintenance.due_rows(session, {pumps["unit"].id}, today=today)
    tests = {(d.asset.serial, d.kind): d for d in rows}
    # never tested, registered 100 days ago, every 30 days: overdue since day 30
    assert tests[("PUMP-01", "function_test")].overdue
    assert tests[("PUMP-01", "function_test")].due_on == first.registered_at.date() + timedelta(30)
    # tested 5 days ago: next in 25 days, beyond the two weeks the list shows
    assert ("PUMP-02", "function_test") not in tests
    everything = maintenance.due_rows(session, {pumps["unit"].id}, today=today, only_due=False)
    later = next(d for d in everything if (d.asset.serial, d.kind) == ("PUMP-02", "function_test"))
    assert later.due_on == today + timedelta(days=25) and not later.overdue


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "painting"}, "kind"),
        ({"result": "maybe"}, "result"),
        ({"done_on": (date.today() + timedelta(days=1)).isoformat()}, "done_on"),
        ({"done_on": "1999-12-31"}, "done_on"),
        ({"done_on": "yesterday"}, "done_on"),
        ({"cost": "-5"}, "cost"),
        ({"cost": "12.345"}, "cost"),
        (
            {"kind": "repair", "sent_on": (date.today() + timedelta(days=1)).isoformat()},
            "sent_on",
        ),
    ],
)
def test_bad_records_are_refused_naming_the_field(session, pumps, changes, field):
    values = {"kind": "service", "done_on": date.today().isoformat(), "result": "pass", **changes}
    with pytest.raises(DomainError) as err:
        maintenance.record(session, _asset(session, "PUMP-01"), actor=_keeper(session), **values)
    assert err.value.field == field
    session.rollback()
    assert session.scalar(select(func.count()).select_from(MaintenanceRecord)) == 0


def test_another_units_keeper_records_nothing(session, pumps, make_unit, make_user):
    stranger = make_user("keeper9", "keeper", make_unit("OTHER", kind="warehouse"))
    with pytest.raises(PermissionDenied):
        maintenance.record(
            session,
            _asset(session, "PUMP-01"),
            kind="service",
            done_on=date.today(),
            result="pass",
            actor=stranger,
        )


def test_the_api_records_lists_and_says_what_is_due(api, make_token, session, pumps):
    client = api(make_token(_keeper(session)))
    body = {
        "asset": "PUMP-01",
        "kind": "function_test",
        "done_on": date.today().isoformat(),
        "result": "fail",
        "note": "启动不了",
        "cost": None,
        "request_key": "maintenance-key-000001",
    }
    r = client.post("/api/v1/maintenance", json=body)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["status"] == "out_of_service" and r.get_json()["unit"] == "WH"
    again = client.post("/api/v1/maintenance", json=body)  # sent twice, kept once
    assert again.status_code == 201 and again.get_json()["id"] == r.get_json()["id"]
    rows = client.get("/api/v1/maintenance?asset=PUMP-01").get_json()["rows"]
    assert [x["kind"] for x in rows] == ["function_test"]
    due = client.get("/api/v1/maintenance/due?unit=WH").get_json()["rows"]
    assert {"asset", "item", "unit", "kind", "due_on", "overdue"} <= set(due[0])
    bad = client.post("/api/v1/maintenance", json={**body, "request_key": None, "result": "x"})
    assert bad.status_code == 422
    assert client.post("/api/v1/maintenance", json={**body, "asset": "NOPE"}).status_code == 404


def test_the_pages_list_what_is_due_and_record_a_test(login, session, pumps):
    client = login("keeper1")
    pump = _asset(session, "PUMP-01")
    page = client.get("/maintenance").get_data(as_text=True)
    assert "PUMP-01" in page and "功能测试" in page
    r = post_form(
        client,
        f"/maintenance/assets/{pump.id}",
        {
            "kind": "function_test",
            "done_on": date.today().isoformat(),
            "result": "fail",
            "readings": "",
            "note": "",
            "vendor": "",
            "cost": "abc",
        },
    )
    page = r.get_data(as_text=True)
    assert "费用必须是金额" in page and 'value="abc"' in page  # refused, typed value kept
    r = post_form(
        client,
        f"/maintenance/assets/{pump.id}",
        {"kind": "function_test", "done_on": date.today().isoformat(), "result": "fail"},
    )
    assert r.status_code == 302
    page = client.get(r.location).get_data(as_text=True)
    assert "不计入在库数量" in page and "故障停用" in page
    home = client.get("/").get_data(as_text=True)
    assert "逾期未保养或试机" in home and "故障停用 1" in home


def test_a_test_is_recorded_from_the_pumps_label(login, session, pumps):
    client = login("keeper1")
    pump = _asset(session, "PUMP-01")
    code = lab.label_for_asset(session, pump).code
    session.commit()
    page = client.get(f"/l/{code}").get_data(as_text=True)
    assert "试机正常" in page and "试机故障（停用）" in page
    token = csrf_token(client, "/scan")
    body = {
        "code": code,
        "action": "test_fail",
        "request_key": "label-test-key-000001",
        "device_at": datetime.now(UTC).isoformat(),
    }
    r = client.post("/scan/act", json=body, headers={"X-CSRFToken": token})
    assert r.status_code == 200 and "已停用" in r.get_json()["message"]
    assert (
        client.post("/scan/act", json=body, headers={"X-CSRFToken": token}).get_json()["result"]
        == "already"
    )
    session.expire_all()
    assert _asset(session, "PUMP-01").status == "out_of_service"
    # "back in service" from the label records the repair that passed
    fixed = {**body, "action": "in_service", "request_key": "label-test-key-000002"}
    r = client.post("/scan/act", json=fixed, headers={"X-CSRFToken": token})
    assert "维修合格" in r.get_json()["message"]
    session.expire_all()
    kinds = session.scalars(select(MaintenanceRecord.kind).order_by(MaintenanceRecord.id)).all()
    assert (
        kinds == ["function_test", "repair"] and _asset(session, "PUMP-01").status == "in_service"
    )


def test_intervals_are_set_by_the_administrator_for_serial_items_only(
    session, pumps, make_item, login, make_user
):
    tape = make_item("TAPE", name="警戒带")
    with pytest.raises(DomainError):
        maintenance.set_intervals(session, tape, "30", "", actor=SYSTEM)
    with pytest.raises(DomainError) as err:
        maintenance.set_intervals(session, pumps["item"], "0", "30", actor=SYSTEM)
    assert err.value.field == "service_interval_days"
    session.rollback()
    make_user("root1", "admin", None)
    client = login("root1")
    r = post_form(
        client,
        "/maintenance/intervals",
        {"item": "PUMP", "service_interval_days": "90", "test_interval_days": "abc"},
    )
    assert "周期必须是天数" in r.get_data(as_text=True)
    r = post_form(
        client,
        "/maintenance/intervals",
        {"item": "PUMP", "service_interval_days": "90", "test_interval_days": "15"},
    )
    assert r.status_code == 302
    session.expire_all()
    item = session.get(type(pumps["item"]), pumps["item"].id)
    assert (item.service_interval_days, item.test_interval_days) == (90, 15)


def test_a_photo_goes_with_the_record_and_only_to_those_who_may_see_it(
    login, session, pumps, make_unit, make_user
):
    import io

    from PIL import Image

    client = login("keeper1")
    pump = _asset(session, "PUMP-01")
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(picture, format="PNG")
    form = {"kind": "function_test", "done_on": date.today().isoformat(), "result": "pass"}
    refused = post_form(
        client,
        f"/maintenance/assets/{pump.id}",
        {**form, "photo": (io.BytesIO(b"not a picture"), "nameplate.png")},
        content_type="multipart/form-data",
    )
    assert "照片只能是 JPG、PNG 或 WebP 图片" in refused.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(MaintenanceRecord)) == 0
    r = post_form(
        client,
        f"/maintenance/assets/{pump.id}",
        {**form, "photo": (io.BytesIO(picture.getvalue()), "铭牌.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    entry = session.scalar(select(MaintenanceRecord))
    assert entry.photo_type == "image/png" and entry.photo_name == "铭牌.png"
    shown = client.get(f"/maintenance/records/{entry.id}/photo")
    assert shown.status_code == 200 and shown.data == picture.getvalue()
    assert f"/maintenance/records/{entry.id}/photo" in client.get(r.location).get_data(as_text=True)
    make_user("keeper9", "keeper", make_unit("OTHER", kind="warehouse"))
    other = login("keeper9")
    assert other.get(f"/maintenance/records/{entry.id}/photo").status_code == 403
