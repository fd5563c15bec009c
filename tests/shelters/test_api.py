"""Shelters through the JSON API: towns and villages, sites, inspections, coverage report."""

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from readiness.models import Unit
from shelters.models import Defect, Inspection, Shelter, Village
from tests.inventory.test_api import pdf_text
from tests.shelters.conftest import ALL_PASS, backdate

TODAY = date.today()


def n(session, model):
    return session.scalar(select(func.count()).select_from(model))


def assert_error(response, status: int, field: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body["error"]) >= {"code", "message"}
    assert body["error"]["message"]
    if field:
        assert body["error"]["field"] == field


@pytest.fixture
def tokens(county, make_token):
    return {k: make_token(county[k]) for k in ("cmd", "cb_clerk", "other_clerk", "insp")}


@pytest.fixture
def cmd(api, tokens):
    return api(tokens["cmd"])


def site_body(**over):
    body = {
        "name": "城北文化礼堂",
        "town": "CB",
        "level": "town",
        "capacity": 400,
        "area_m2": "650.5",
        "status": "active",
        "villages": ["横湖村", "双峰村"],
    }
    return {**body, **over}


# ---------------------------------------------------------------- towns


def test_town_is_created_then_reposting_updates_villages_by_name(cmd, session):
    r = cmd.post(
        "/api/v1/towns",
        json={
            "code": "XT",
            "name": "新塘镇",
            "parent": "WL",
            "villages": [
                {"name": "东村", "population": 500, "to_relocate": 50},
                {"name": "新塘社区", "population": 3000, "to_relocate": 0, "kind": "community"},
            ],
        },
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["code"], body["name"], body["added"], body["changed"]) == ("XT", "新塘镇", 2, 0)
    by_name = {v["name"]: v for v in body["villages"]}
    assert by_name["新塘社区"]["kind"] == "community"
    assert by_name["东村"]["population"] == 500

    r = cmd.post(
        "/api/v1/towns",
        json={
            "code": "XT",
            "name": "新塘镇",
            "villages": [
                {"name": "东村", "population": 520, "to_relocate": 60},
                {"name": "西村", "population": 300, "to_relocate": 30},
            ],
        },
    )
    assert r.status_code == 200
    body = r.get_json()
    assert (body["added"], body["changed"]) == (1, 1)
    assert {v["name"]: (v["population"], v["to_relocate"]) for v in body["villages"]} == {
        "东村": (520, 60),
        "西村": (300, 30),
        "新塘社区": (3000, 0),
    }
    town = session.scalar(select(Unit).where(Unit.code == "XT"))
    assert town.kind == "town" and town.parent.code == "WL"

    listed = cmd.get("/api/v1/towns").get_json()["towns"]
    assert {t["code"]: t["villages"] for t in listed} == {"CB": 4, "ST": 2, "XT": 3}
    one = cmd.get("/api/v1/towns/XT").get_json()
    assert {v["name"] for v in one["villages"]} == {"东村", "西村", "新塘社区"}


@pytest.mark.parametrize(
    "village, field",
    [
        ({"name": "坏村", "population": -5, "to_relocate": 0}, "population"),
        ({"name": "坏村", "population": 100, "to_relocate": 101}, "to_relocate"),
        ({"name": "坏村", "population": 12.5, "to_relocate": 0}, "population"),
        ({"name": "坏村", "population": "many", "to_relocate": 0}, "population"),
        ({"name": "坏村", "population": True, "to_relocate": 0}, "population"),
        ({"population": 100, "to_relocate": 0}, "village"),
        ({"name": "村" * 61, "population": 100, "to_relocate": 0}, "village"),
        ({"name": "坏村", "population": 100, "to_relocate": 0, "kind": "city"}, "kind"),
    ],
)
def test_bad_village_is_refused_and_changes_nothing(cmd, session, county, village, field):
    before = (n(session, Unit), n(session, Village))
    good_first = {"name": "横湖村", "population": 9999, "to_relocate": 1}
    r = cmd.post(
        "/api/v1/towns", json={"code": "CB", "name": "城北街道", "villages": [good_first, village]}
    )
    assert_error(r, 422, field)
    r = cmd.post("/api/v1/towns", json={"code": "NEW", "name": "新镇", "villages": [village]})
    assert_error(r, 422, field)
    session.expire_all()
    assert (n(session, Unit), n(session, Village)) == before
    hh = session.scalar(select(Village).where(Village.name == "横湖村"))
    assert (hh.population, hh.to_relocate) == (2000, 300)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"code": "NEW"}, "name"),  # a new town needs a name
        ({"code": "NEW", "name": "镇" * 101}, "name"),
        ({"code": "", "name": "新镇"}, "code"),
        ({"code": "新 镇", "name": "新镇"}, "code"),
        ({"name": "新镇"}, "code"),
        ({"code": "ELSE", "name": "别处"}, "code"),  # a station's code, not a town's
        ({"code": "NEW", "name": "新镇", "villages": "东村"}, "villages"),
        ({"code": "NEW", "name": "新镇", "villages": ["东村"]}, "villages"),
        (
            {
                "code": "NEW",
                "name": "新镇",
                "villages": [
                    {"name": "东村", "population": 1, "to_relocate": 0},
                    {"name": "东村", "population": 2, "to_relocate": 0},
                ],
            },
            "villages",
        ),
    ],
)
def test_bad_town_is_refused_and_changes_nothing(cmd, session, county, body, field):
    before = (n(session, Unit), n(session, Village))
    r = cmd.post("/api/v1/towns", json=body)
    assert 400 <= r.status_code < 500
    assert_error(r, r.status_code, field)
    session.expire_all()
    assert (n(session, Unit), n(session, Village)) == before


def test_only_command_keeps_towns(api, tokens, session):
    before = n(session, Unit)
    for who in ("cb_clerk", "insp"):
        r = api(tokens[who]).post("/api/v1/towns", json={"code": "ZZ", "name": "某镇"})
        assert_error(r, 403)
    assert n(session, Unit) == before


def test_town_clerk_sees_only_their_town(api, tokens):
    clerk = api(tokens["cb_clerk"])
    assert [t["code"] for t in clerk.get("/api/v1/towns").get_json()["towns"]] == ["CB"]
    assert clerk.get("/api/v1/towns/CB").status_code == 200
    assert_error(clerk.get("/api/v1/towns/ST"), 404)
    assert_error(clerk.get("/api/v1/towns/NOPE"), 404)


# ---------------------------------------------------------------- sites


def test_site_is_registered_and_read_back(cmd, session):
    r = cmd.post("/api/v1/shelters", json=site_body())
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    assert created["unit"]  # an active site holds stock as a unit of its own
    got = cmd.get(f"/api/v1/shelters/{created['id']}").get_json()
    assert got["name"] == "城北文化礼堂" and got["town"] == "CB"
    assert got["area_m2"] == "650.5" and got["area_capacity"] == 433
    assert sorted(got["villages"]) == sorted(["横湖村", "双峰村"])
    # standardized only once command staff accept it (tests/shelters/test_acceptance.py)
    assert got["is_standardized"] is False and got["standardized_on"] is None
    assert got["acceptance"] is None and got["acceptances"] == []
    assert got["needs_attention"] is False and got["is_overdue"] is True  # never inspected
    assert got["inspections"] == []
    unit = session.scalar(select(Unit).where(Unit.code == created["unit"]))
    assert unit.kind == "shelter" and unit.headcount == 400 and unit.parent.code == "CB"
    listed = cmd.get("/api/v1/shelters?town=CB&standardized=0").get_json()["shelters"]
    assert [s["id"] for s in listed] == [created["id"]]
    assert cmd.get("/api/v1/shelters?town=ST").get_json()["shelters"] == []
    assert cmd.get("/api/v1/shelters?standardized=1").get_json()["shelters"] == []


def test_area_may_be_a_number_but_not_a_bool(cmd, session):
    r = cmd.post("/api/v1/shelters", json=site_body(area_m2=300))
    assert r.status_code == 201
    assert r.get_json()["area_m2"] == "300.0"
    assert_error(cmd.post("/api/v1/shelters", json=site_body(name="另一处", area_m2=True)), 422)
    assert n(session, Shelter) == 1


def test_capacity_above_what_the_area_allows_is_warned_about(cmd):
    r = cmd.post("/api/v1/shelters", json=site_body(capacity=500, area_m2=600))
    assert r.status_code == 201
    assert any("400" in w for w in r.get_json()["warnings"])  # 600 m² ÷ 1.5 = 400 people


@pytest.mark.parametrize(
    "over, status, field",
    [
        ({"town": "NOPE"}, 422, "town"),
        ({"town": "ELSE"}, 422, "town"),  # a unit, but not a town
        ({"villages": ["横湖村", "不存在村"]}, 422, "villages"),
        ({"villages": ["海山村"]}, 422, "villages"),  # a village of another town
        ({"villages": [5]}, 422, "villages"),  # a number: PostgreSQL answered 500
        ({"name": ""}, 422, "name"),
        ({"name": "场" * 101}, 422, "name"),
        ({"capacity": -1}, 422, "capacity"),
        # standardized only by an acceptance: command staff are pointed to it
        ({"is_standardized": True, "standardized_on": "2023-05-10"}, 422, "is_standardized"),
        ({"standardized_on": "2023-05-10"}, 422, "is_standardized"),
        ({"standardized_on": "10/05/2023"}, 422, "standardized_on"),
        ({"status": "open"}, 422, "status"),
    ],
)
def test_bad_site_is_refused_and_changes_nothing(cmd, session, over, status, field):
    before = (n(session, Unit), n(session, Shelter))
    assert_error(cmd.post("/api/v1/shelters", json=site_body(**over)), status, field)
    assert (n(session, Unit), n(session, Shelter)) == before


def test_put_replaces_the_sites_facts(cmd, session):
    site_id = cmd.post("/api/v1/shelters", json=site_body()).get_json()["id"]
    r = cmd.put(
        f"/api/v1/shelters/{site_id}",
        json=site_body(capacity=300, villages=["上林村"], status="suspended"),
    )
    assert r.status_code == 200, r.get_json()
    got = cmd.get(f"/api/v1/shelters/{site_id}").get_json()
    assert (got["capacity"], got["villages"], got["status"]) == (300, ["上林村"], "suspended")
    assert got["counts_for_coverage"] is False
    assert_error(cmd.put("/api/v1/shelters/9999", json=site_body()), 404)


def test_clerk_of_another_unit_cannot_register_a_site_in_the_town(api, tokens, session):
    r = api(tokens["other_clerk"]).post("/api/v1/shelters", json=site_body())
    assert_error(r, 403)
    assert n(session, Shelter) == 0
    r = api(tokens["cb_clerk"]).post("/api/v1/shelters", json=site_body())
    assert r.status_code == 201


def test_inspector_reads_but_cannot_write(api, tokens, cmd, session):
    site_id = cmd.post("/api/v1/shelters", json=site_body()).get_json()["id"]
    insp = api(tokens["insp"])
    assert insp.get(f"/api/v1/shelters/{site_id}").status_code == 200
    assert_error(insp.post("/api/v1/shelters", json=site_body(name="别处")), 403)
    assert_error(insp.put(f"/api/v1/shelters/{site_id}", json=site_body()), 403)
    r = insp.post(
        f"/api/v1/shelters/{site_id}/inspections",
        json={"inspected_on": str(TODAY), "checklist": ALL_PASS},
    )
    assert_error(r, 403)
    assert (n(session, Shelter), n(session, Inspection)) == (1, 0)


def test_site_out_of_reach_is_not_found(api, tokens, cmd):
    site_id = cmd.post("/api/v1/shelters", json=site_body()).get_json()["id"]
    assert_error(api(tokens["other_clerk"]).get(f"/api/v1/shelters/{site_id}"), 404)
    assert api(tokens["other_clerk"]).get("/api/v1/shelters").get_json()["shelters"] == []


# ---------------------------------------------------------------- inspections


def test_open_defect_makes_the_site_need_attention_until_its_fix_is_verified(
    cmd, api, tokens, session
):
    site_id = cmd.post("/api/v1/shelters", json=site_body()).get_json()["id"]
    backdate(session, session.get(Shelter, site_id))
    found_on = TODAY - timedelta(days=3)
    r = cmd.post(
        f"/api/v1/shelters/{site_id}/inspections",
        json={
            "inspected_on": found_on.isoformat(),
            "checklist": {**ALL_PASS, "signage": "fail", "building": "na"},
            "defects": [
                {"text": "疏散指示牌缺失", "resolved": False},
                {"text": "灭火器过期", "resolved": True},
            ],
            "replenished_qty": 20,
            "rotated_qty": 5,
            "subsidy": "1500.00",
        },
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["id"] and body["state"]["needs_attention"] is True
    got = cmd.get(f"/api/v1/shelters/{site_id}").get_json()
    # fixed on the spot is reported done: it too waits for a second person to verify it
    assert got["needs_attention"] is True and got["open_defects"] == 2
    assert got["last_inspected_on"] == found_on.isoformat() and got["is_overdue"] is False
    assert got["failed_items"] == ["signage"]
    [ins] = got["inspections"]
    assert ins["subsidy"] == "1500.00"
    open_defect = next(d for d in ins["defects"] if not d["is_resolved"])

    assert open_defect["action_status"] == "open"
    r = cmd.post(f"/api/v1/defects/{open_defect['id']}/resolve", json={"resolution": "已补装"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["is_resolved"] is True and r.get_json()["action_status"] == "done"
    got = cmd.get(f"/api/v1/shelters/{site_id}").get_json()
    assert got["needs_attention"] is True and got["open_defects"] == 2
    insp = api(tokens["insp"])
    for d in got["inspections"][0]["defects"]:
        assert insp.post(f"/api/v1/actions/{d['action']}/verify").status_code == 200
    got = cmd.get(f"/api/v1/shelters/{site_id}").get_json()
    assert got["needs_attention"] is False and got["open_defects"] == 0
    assert_error(
        cmd.post(f"/api/v1/defects/{open_defect['id']}/resolve", json={"resolution": "再次"}), 409
    )
    assert_error(cmd.post("/api/v1/defects/9999/resolve", json={"resolution": "x"}), 404)


def test_bad_inspection_records_nothing(cmd, session):
    site_id = cmd.post("/api/v1/shelters", json=site_body()).get_json()["id"]
    url = f"/api/v1/shelters/{site_id}/inspections"
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    full = {"inspected_on": str(TODAY), "checklist": ALL_PASS}
    for body, field in [
        ({**full, "inspected_on": tomorrow}, "inspected_on"),
        ({**full, "inspected_on": "yesterday"}, "inspected_on"),
        ({**full, "checklist": {**ALL_PASS, "roof": "pass"}}, "checklist"),
        ({**full, "checklist": {**ALL_PASS, "signage": "ok"}}, "checklist"),
        ({**full, "checklist": {**ALL_PASS, "signage": ["pass"]}}, "checklist"),
        ({**full, "defects": [{"text": ""}]}, "defects"),
        ({**full, "defects": [{"text": "x", "resolved": "no"}]}, "defects"),
        ({**full, "subsidy": -1}, "subsidy"),
    ]:
        assert_error(cmd.post(url, json=body), 422, field)
    assert (n(session, Inspection), n(session, Defect)) == (0, 0)


def test_same_request_key_records_one_inspection(cmd, session):
    site_id = cmd.post("/api/v1/shelters", json=site_body()).get_json()["id"]
    body = {"inspected_on": str(TODAY), "checklist": ALL_PASS, "request_key": "form-1"}
    assert cmd.post(f"/api/v1/shelters/{site_id}/inspections", json=body).status_code == 201
    assert_error(cmd.post(f"/api/v1/shelters/{site_id}/inspections", json=body), 409)
    assert n(session, Inspection) == 1


# the examples (16, item 5): nothing answered, dated 1990, dated tomorrow


def _overdue(cmd, site_id) -> bool:
    return cmd.get(f"/api/v1/shelters/{site_id}").get_json()["is_overdue"]


def test_an_inspection_with_nothing_answered_is_refused_and_the_site_stays_overdue(cmd, session):
    site_id = cmd.post("/api/v1/shelters", json=site_body()).get_json()["id"]
    assert _overdue(cmd, site_id) is True
    url = f"/api/v1/shelters/{site_id}/inspections"
    for checklist in (None, {}, dict.fromkeys(ALL_PASS, ""), dict.fromkeys(ALL_PASS)):
        body = {"inspected_on": str(TODAY)}
        if checklist is not None:
            body["checklist"] = checklist
        r = cmd.post(url, json=body)
        assert_error(r, 422, "checklist")
        message = r.get_json()["error"]["message"]
        assert message.startswith("每个检查项都须选择合格、不合格或不适用，尚未选择：")
        assert "房屋安全（质量检测合格）" in message and "物资储备" in message
    r = cmd.post(url, json={"inspected_on": str(TODAY), "checklist": {**ALL_PASS, "signage": ""}})
    assert_error(r, 422, "checklist")
    message = r.get_json()["error"]["message"]
    assert message.endswith("尚未选择：标识标牌（指示牌、场所牌、疏散图）。")
    assert n(session, Inspection) == 0
    assert _overdue(cmd, site_id) is True
    # every item answered, even all 不适用, is an inspection
    r = cmd.post(url, json={"inspected_on": str(TODAY), "checklist": dict.fromkeys(ALL_PASS, "na")})
    assert r.status_code == 201, r.get_json()
    assert _overdue(cmd, site_id) is False


def test_an_inspection_dated_1990_or_tomorrow_is_refused(cmd, session):
    site_id = cmd.post("/api/v1/shelters", json=site_body()).get_json()["id"]
    url = f"/api/v1/shelters/{site_id}/inspections"
    registered = session.get(Shelter, site_id).created_at.astimezone().date()
    tomorrow = TODAY + timedelta(days=1)
    for on, message in [
        ("1990-01-01", f"检查日期不能早于场所登记日期（{registered.isoformat()}）。"),
        (tomorrow.isoformat(), "检查日期不能晚于今天。"),
    ]:
        r = cmd.post(url, json={"inspected_on": on, "checklist": ALL_PASS})
        assert_error(r, 422, "inspected_on")
        assert r.get_json()["error"]["message"] == message
    assert n(session, Inspection) == 0
    assert _overdue(cmd, site_id) is True


# ---------------------------------------------------------------- coverage


@pytest.fixture
def sites(county, make_site):
    """CB: 3 of 4 villages covered, one of them with room for its people; ST: none."""
    cb, st = county["cb"], county["st"]
    # 300 + 200 to relocate, only 400 places: covered, but not with capacity
    make_site(cb, "城北小学", ["横湖村", "双峰村"], capacity=400, is_standardized=True)
    make_site(cb, "三星社区中心", ["三星社区"], capacity=150, is_standardized=True)
    # active but not standardized, suspended: neither counts
    make_site(cb, "上林祠堂", ["上林村"], capacity=200)
    make_site(st, "海山礼堂", ["海山村"], capacity=500, is_standardized=True, status="suspended")
    make_site(st, "旧仓库", ["桂岙村"], capacity=300, is_standardized=True, status="closed")


def test_coverage_report_figures(cmd, sites):
    r = cmd.get("/api/v1/reports/shelter-coverage")
    assert r.status_code == 200
    body = r.get_json()
    assert body["target"] == 0.6
    assert body["overall"] == {
        **body["overall"],
        "villages": 6,
        "covered": 3,
        "covered_with_capacity": 1,
        "coverage": 0.5,
        "needed": 1,  # ceil(0.6 × 6) = 4, minus 3
        "capacity": 550,
        "to_relocate": 300 + 200 + 100 + 120 + 400 + 250,
    }
    towns = {t["town"]: t for t in body["towns"]}
    cb, st = towns["CB"], towns["ST"]
    assert (cb["name"], cb["villages"], cb["covered"], cb["covered_with_capacity"]) == (
        "城北街道",
        4,
        3,
        1,
    )
    assert cb["coverage"] == 0.75 and cb["needed"] == 0 and cb["uncovered"] == ["上林村"]
    assert (cb["capacity"], cb["to_relocate"]) == (550, 720)
    assert (st["villages"], st["covered"], st["coverage"], st["capacity"]) == (2, 0, 0, 0)
    assert sorted(st["uncovered"]) == ["桂岙村", "海山村"] and st["needed"] == 2
    candidates = {c["name"]: c["would_cover"] for c in body["candidates"]}
    assert candidates == {"上林祠堂": 1, "海山礼堂": 1}  # the closed site is no candidate

    higher = cmd.get("/api/v1/reports/shelter-coverage?target=80").get_json()
    assert higher["target"] == 0.8
    assert higher["overall"]["needed"] == 2  # ceil(4.8) = 5, minus 3
    assert {t["town"]: t["needed"] for t in higher["towns"]} == {"CB": 1, "ST": 2}


def test_target_is_counted_in_exact_decimals(cmd, make_site, county, session):
    """0.7 × 10 is 7 villages, not the 7.000000000000001 float arithmetic rounds up to 8."""
    villages = [{"name": f"十村{i:02d}", "population": 100, "to_relocate": 10} for i in range(10)]
    r = cmd.post("/api/v1/towns", json={"code": "TEN", "name": "十村镇", "villages": villages})
    assert r.status_code == 201
    town = session.scalar(select(Unit).where(Unit.code == "TEN"))
    make_site(town, "十村礼堂", ["十村00", "十村01", "十村02"], capacity=100, is_standardized=True)
    body = cmd.get("/api/v1/reports/shelter-coverage?target=0.7&unit=TEN").get_json()
    assert [t["town"] for t in body["towns"]] == ["TEN"]
    assert body["towns"][0]["needed"] == 4
    assert body["overall"]["needed"] == 4
    assert body["overall"]["coverage"] == 0.3
    assert body["overall"]["covered_with_capacity"] == 3


@pytest.mark.parametrize("raw", ["abc", "0", "-0.5", "150", "nan", "inf"])
def test_bad_target_is_a_400(cmd, county, raw):
    assert_error(cmd.get(f"/api/v1/reports/shelter-coverage?target={raw}"), 400, "target")


def test_town_clerk_sees_only_their_town_in_the_report(api, tokens, sites):
    body = api(tokens["cb_clerk"]).get("/api/v1/reports/shelter-coverage").get_json()
    assert [t["town"] for t in body["towns"]] == ["CB"]
    assert body["overall"]["villages"] == 4 and body["overall"]["covered"] == 3
    # asking for the whole county still answers only for what the clerk may see
    body = api(tokens["cb_clerk"]).get("/api/v1/reports/shelter-coverage?unit=WL").get_json()
    assert [t["town"] for t in body["towns"]] == ["CB"]
    assert api(tokens["insp"]).get("/api/v1/reports/shelter-coverage").status_code == 200


def test_coverage_downloads(cmd, sites):
    r = cmd.get("/api/v1/reports/shelter-coverage?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    header, cb, st, total = rows
    assert header[:5] == ["镇/街道代码", "镇/街道", "村/社区数", "已覆盖", "覆盖率"]
    assert cb[:5] == ["CB", "城北街道", "4", "3", "75.0%"]
    assert cb[5:9] == ["1", "550", "720", "0"] and cb[9] == "上林村"
    assert st[0] == "ST" and st[4] == "0.0%" and set(st[9].split("、")) == {"桂岙村", "海山村"}
    assert total[1:5] == ["合计", "6", "3", "50.0%"] and total[8] == "1"

    r = cmd.get("/api/v1/reports/shelter-coverage?format=xlsx&target=0.8")
    ws = load_workbook(io.BytesIO(r.data)).active
    values = list(ws.values)
    assert values[1][:4] == ("CB", "城北街道", 4, 3)
    assert values[-1][8] == 2  # needed at 80%

    r = cmd.get("/api/v1/reports/shelter-coverage?format=pdf")
    assert r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    for expected in ("避灾安置场所覆盖率统计表", "60%", "上林村", "桂岙村", "城北街道", "审核人"):
        assert expected in text
    assert TODAY.isoformat() in text
    assert_error(cmd.get("/api/v1/reports/shelter-coverage?format=doc"), 400)
