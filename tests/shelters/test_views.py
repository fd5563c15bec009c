"""Shelter pages: registering and editing sites, inspections, defects, towns, who sees what."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from readiness.models import Unit
from rectification import actions as register
from shelters.models import CHECKLIST, Defect, Inspection, Shelter, Village
from tests.conftest import post_form


def _village_ids(session, *names):
    return [str(session.scalar(select(Village.id).where(Village.name == name))) for name in names]


def _site_data(session, **overrides):
    data = {
        "name": "横湖村文化礼堂",
        "town": "CB",
        "level": "village",
        "status": "active",
        "capacity": "150",
        "area_m2": "300",
        "structure": "frame",
        "address": "城北街道横湖村 1 号",
        "manager_name": "李四",
        "manager_phone": "13800000000",
        "villages": _village_ids(session, "横湖村", "双峰村"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _count(session, model=Shelter):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_register_a_site_through_the_form(client, login, session, county):
    """A clerk of the town registers an active site; it becomes a stock-holding unit."""
    login("cbclerk")
    page = client.get("/shelters/sites/new?town=CB").get_data(as_text=True)
    assert "横湖村" in page and "海山村" not in page  # only the villages in reach
    response = post_form(client, "/shelters/sites/new", _site_data(session))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    site = session.scalar(select(Shelter).where(Shelter.name == "横湖村文化礼堂"))
    # standardized only once command staff accept it
    assert site.capacity == 150 and not site.is_standardized and site.standardized_on is None
    assert sorted(v.name for v in site.villages) == ["双峰村", "横湖村"]
    assert site.unit is not None and site.unit.kind == "shelter"

    detail = client.get(response.location).get_data(as_text=True)
    assert "已登记避灾安置场所：横湖村文化礼堂" in detail
    assert f"/stock/{site.unit.code}" in detail
    assert "500 / 150" in detail  # the people to relocate of the villages served vs capacity
    assert "从未检查" in detail


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"capacity": "-5"}, "核定容量不能为负数。"),
        ({"capacity": "很多"}, "核定容量必须是整数。"),
        ({"name": "礼" * 101}, "名称不能超过 100 个字。"),
        ({"name": ""}, "请填写名称。"),
        ({"villages": ["999999"]}, "所选的村/社区不存在"),
        ({"town": ""}, "请选择所属镇/街道。"),
        ({"latitude": "28.5"}, "经纬度请同时填写，或都不填。"),
    ],
)
def test_bad_input_shows_the_reason_and_changes_nothing(
    client, login, session, county, overrides, message
):
    login("cbclerk")
    units = _count(session, Unit)
    response = post_form(client, "/shelters/sites/new", _site_data(session, **overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _count(session) == 0
    assert _count(session, Unit) == units


def test_a_village_of_another_town_is_refused(client, login, session, county):
    login("cmd1")
    response = post_form(
        client, "/shelters/sites/new", _site_data(session, villages=_village_ids(session, "海山村"))
    )
    assert "海山村 不属于 城北街道。" in response.get_data(as_text=True)
    assert _count(session) == 0


def test_capacity_beyond_the_floor_area_is_flagged(client, login, session, county, make_site):
    site = make_site(county["cb"], "礼堂", capacity=300, area_m2="150")
    login("cbclerk")
    listing = client.get("/shelters/sites").get_data(as_text=True)
    assert "核定容量超过面积允许人数" in listing  # 150 m² ÷ 1.5 = 100 people
    detail = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert "核定容量 300 人超过了面积允许的 100 人" in detail


def test_edit_a_site_and_a_stale_form_is_refused(client, login, session, county, make_site):
    site = make_site(county["cb"], "礼堂", capacity=80)
    login("cbclerk")
    form = client.get(f"/shelters/sites/{site.id}/edit").get_data(as_text=True)
    assert 'value="80"' in form
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    data = _site_data(
        session,
        name="礼堂",
        capacity="120",
        version=version,
    )
    assert post_form(client, f"/shelters/sites/{site.id}/edit", data).status_code == 302
    session.expire_all()
    assert session.get(Shelter, site.id).capacity == 120

    # the same form again, shown at version 1: someone changed the site since
    stale = post_form(client, f"/shelters/sites/{site.id}/edit", {**data, "capacity": "10"})
    assert stale.status_code == 200
    assert "该记录已被他人修改" in stale.get_data(as_text=True)
    session.expire_all()
    assert session.get(Shelter, site.id).capacity == 120


def _inspect(client, site_id, *, key="k1", defect="", fixed=False, **extra):
    data = {
        "inspected_on": date.today().isoformat(),
        "inspector": "张三",
        "check-siting": "pass",
        "check-building": "pass",
        "check-signage": "fail",
        "check-facilities": "pass",
        "check-supplies": "na",
        "defect-0": defect,
        "replenished_qty": "20",
        "rotated_qty": "5",
        "subsidy": "3000.50",
        "request_key": key,
        **extra,
    }
    if fixed:
        data["fixed-0"] = "1"
    # None: not sent at all, as a browser leaves out a radio group nobody chose in
    data = {k: v for k, v in data.items() if v is not None}
    return post_form(client, f"/shelters/sites/{site_id}/inspections/new", data)


def test_inspection_with_a_defect_needs_attention_until_resolved(
    client, login, session, county, make_site
):
    site = make_site(county["cb"], "礼堂", is_standardized=True)
    make_site(county["cb"], "小学")
    login("cbclerk")
    form = client.get(f"/shelters/sites/{site.id}/inspections/new").get_data(as_text=True)
    assert 'name="request_key"' in form and "当场已整改" in form
    response = _inspect(client, site.id, defect="疏散指示牌缺失")
    assert response.status_code == 302
    detail = client.get(response.location).get_data(as_text=True)
    assert "1 个问题待整改" in detail
    assert "需关注" in detail and "疏散指示牌缺失" in detail
    assert "补充物资 20 件" in detail and "3,000.50" in detail

    found = client.get("/shelters/sites?attention=1").get_data(as_text=True)
    assert "礼堂" in found and "小学" not in found
    # never inspected: the other site is overdue; the inspected one is not
    overdue = client.get("/shelters/sites?overdue=1").get_data(as_text=True)
    assert "小学" in overdue and ">礼堂<" not in overdue

    defect = session.scalar(select(Defect).where(Defect.shelter_id == site.id))
    resolved = post_form(
        client,
        f"/shelters/defects/{defect.id}/resolve",
        {"resolution": "已补装指示牌", "resolved_on": date.today().isoformat()},
    )
    assert resolved.status_code == 302
    detail = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert "已标记为已整改" in detail and "已补装指示牌" in detail
    assert "待整改" not in detail and "已完成待验证" in detail
    # reported fixed is not closed: the site needs attention until a second person verifies
    assert ">礼堂<" in client.get("/shelters/sites?attention=1").get_data(as_text=True)
    session.expire_all()
    register.verify_action(session, session.get(Defect, defect.id).action, actor=county["cmd"])
    session.commit()
    assert ">礼堂<" not in client.get("/shelters/sites?attention=1").get_data(as_text=True)
    assert "小学" in client.get("/shelters/sites?overdue=1").get_data(as_text=True)


def test_a_defect_fixed_on_the_spot_needs_attention_until_verified(
    client, login, session, county, make_site
):
    site = make_site(county["cb"], "礼堂")
    login("cbclerk")
    _inspect(client, site.id, defect="灯泡损坏", fixed=True)
    detail = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert "已整改" in detail and "已完成待验证" in detail and "需关注" in detail
    defect = session.scalar(select(Defect).where(Defect.shelter_id == site.id))
    register.verify_action(session, defect.action, actor=county["cmd"])
    session.commit()
    detail = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert "已验证销号" in detail and "需关注" not in detail


def test_resolve_refusal_is_shown_and_changes_nothing(client, login, session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    login("cbclerk")
    _inspect(client, site.id, defect="屋顶漏水")
    defect = session.scalar(select(Defect))
    post_form(client, f"/shelters/defects/{defect.id}/resolve", {"resolution": ""})
    page = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert "请填写整改情况。" in page
    session.expire_all()
    assert not session.get(Defect, defect.id).is_resolved


def test_a_double_submitted_inspection_records_once(client, login, session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    login("cbclerk")
    assert _inspect(client, site.id, key="same").status_code == 302
    again = _inspect(client, site.id, key="same")
    assert again.status_code == 302
    assert "这张表单已经登记过，未重复记录。" in client.get(again.location).get_data(as_text=True)
    assert _count(session, Inspection) == 1


def test_inspection_refusals_go_back_onto_the_form(client, login, session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    login("cbclerk")
    future = (date.today() + timedelta(days=3)).isoformat()
    page = _inspect(client, site.id, inspected_on=future).get_data(as_text=True)
    assert "检查日期不能晚于今天。" in page
    page = _inspect(client, site.id, **{"check-signage": "maybe"}).get_data(as_text=True)
    assert "的结果只能是合格、不合格或不适用" in page
    page = _inspect(client, site.id, subsidy="-1").get_data(as_text=True)
    assert "补助资金不能为负数。" in page
    assert _count(session, Inspection) == 0


# the examples (16, item 5): nothing answered, dated 1990, dated tomorrow


def test_the_inspection_form_preselects_no_answer(client, login, county, make_site):
    site = make_site(county["cb"], "礼堂")
    login("cbclerk")
    form = client.get(f"/shelters/sites/{site.id}/inspections/new").get_data(as_text=True)
    assert form.count('type="radio"') == 15
    assert "checked" not in form
    assert "每一项都须选择：合格、不合格或不适用。" in form
    assert "未选择的项目记为" not in form
    assert f'min="2020-01-01" max="{date.today().isoformat()}"' in form


def test_an_inspection_with_nothing_answered_is_refused_keeping_what_was_typed(
    client, login, session, county, make_site
):
    site = make_site(county["cb"], "礼堂", is_standardized=True)
    login("cbclerk")
    nothing = {f"check-{k}": None for k in CHECKLIST}
    response = _inspect(client, site.id, defect="屋顶漏水", fixed=True, note="汛前检查", **nothing)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "每个检查项都须选择合格、不合格或不适用，尚未选择：" in page
    assert "选址安全（避开地质灾害点、洪涝区）、房屋安全（质量检测合格）" in page
    # what was typed is still there; no answer was made up
    assert 'value="张三"' in page and 'value="屋顶漏水"' in page and "汛前检查" in page
    assert 'value="3000.50"' in page and 'value="20"' in page
    assert f'value="{date.today().isoformat()}"' in page
    assert 'name="fixed-0" value="1" checked' in page
    assert 'value="na" checked' not in page and "checked>" not in page.split("发现的问题")[0]
    assert _count(session, Inspection) == 0
    assert ">礼堂<" in client.get("/shelters/sites?overdue=1").get_data(as_text=True)

    # a partly answered form: the answers given stay chosen, the missing ones are named
    page = _inspect(client, site.id, **{"check-building": None}).get_data(as_text=True)
    assert "尚未选择：房屋安全（质量检测合格）。" in page
    assert 'name="check-signage" value="fail" checked' in page
    assert 'name="check-supplies" value="na" checked' in page
    assert _count(session, Inspection) == 0
    assert ">礼堂<" in client.get("/shelters/sites?overdue=1").get_data(as_text=True)


def test_an_inspection_dated_1990_or_tomorrow_is_refused_on_the_page(
    client, login, session, county, make_site
):
    site = make_site(county["cb"], "礼堂")
    login("cbclerk")
    page = _inspect(client, site.id, inspected_on="1990-01-01").get_data(as_text=True)
    assert "检查日期不能早于场所登记日期（2020-01-01）。" in page
    assert 'value="1990-01-01"' in page
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    page = _inspect(client, site.id, inspected_on=tomorrow).get_data(as_text=True)
    assert "检查日期不能晚于今天。" in page
    assert _count(session, Inspection) == 0
    assert ">礼堂<" in client.get("/shelters/sites?overdue=1").get_data(as_text=True)


def test_a_clerk_of_another_unit_cannot_see_or_change_a_site(
    client, login, session, county, make_site
):
    site = make_site(county["cb"], "礼堂")
    login("otherclerk")
    assert client.get(f"/shelters/sites/{site.id}").status_code == 404
    assert client.get(f"/shelters/sites/{site.id}/edit").status_code == 404
    assert _inspect(client, site.id).status_code == 404
    assert "礼堂" not in client.get("/shelters/sites").get_data(as_text=True)
    assert client.get("/shelters/towns/CB").status_code == 404
    assert _count(session, Inspection) == 0


def test_a_clerk_cannot_register_a_site_in_another_town(client, login, session, county):
    login("cbclerk")
    response = post_form(
        client,
        "/shelters/sites/new",
        _site_data(session, town="ST", villages=_village_ids(session, "海山村")),
    )
    assert response.status_code == 200
    assert "请选择所属镇/街道。" in response.get_data(as_text=True)
    assert _count(session) == 0


def test_inspector_reads_everything_but_has_no_write_buttons(
    client, login, session, county, make_site
):
    site = make_site(county["st"], "海山小学", villages=["海山村"])
    login("insp1")
    detail = client.get(f"/shelters/sites/{site.id}")
    html = detail.get_data(as_text=True)
    assert detail.status_code == 200 and "海山小学" in html
    assert "登记检查" not in html and "/edit" not in html
    assert "标记已整改" not in html
    assert "登记场所" not in client.get("/shelters/sites").get_data(as_text=True)
    town = client.get("/shelters/towns/ST").get_data(as_text=True)
    assert "海山村" in town and "/shelters/villages/" not in town
    assert client.get("/shelters/sites/new").status_code == 403
    assert _inspect(client, site.id).status_code == 403
    assert post_form(client, "/shelters/sites/new", _site_data(session)).status_code == 403
    assert _count(session, Inspection) == 0


def test_towns_list_and_town_detail(client, login, session, county, make_site):
    make_site(county["cb"], "礼堂", villages=["横湖村"], is_standardized=True)
    make_site(county["cb"], "小学", villages=["双峰村"])  # not standardized: covers nothing
    login("cmd1")
    towns = client.get("/shelters/towns").get_data(as_text=True)
    assert "城北街道" in towns and "石塘镇" in towns
    assert "7,300" in towns  # CB population
    assert "1 / 4" in towns  # one of CB's four villages covered
    detail = client.get("/shelters/towns/CB").get_data(as_text=True)
    assert detail.count("已覆盖") == 1 and detail.count("未覆盖") == 3
    assert "/shelters/villages/" in detail  # command staff may correct villages

    login("cbclerk")
    towns = client.get("/shelters/towns").get_data(as_text=True)
    assert "城北街道" in towns and "石塘镇" not in towns
    assert "/shelters/villages/" not in client.get("/shelters/towns/CB").get_data(as_text=True)


def test_command_corrects_a_village(client, login, session, county):
    village = session.scalar(select(Village).where(Village.name == "横湖村"))
    login("cmd1")
    form = {"name": "横湖村", "kind": "village", "population": "2100", "to_relocate": "350"}
    response = post_form(client, f"/shelters/villages/{village.id}", form)
    assert response.status_code == 302 and response.location.endswith("/shelters/towns/CB")
    session.expire_all()
    assert (session.get(Village, village.id).population, village.to_relocate) == (2100, 350)

    bad = post_form(client, f"/shelters/villages/{village.id}", {**form, "to_relocate": "9999"})
    assert "需转移人口 9999 超过了人口 2100" in client.get(bad.location).get_data(as_text=True)
    session.expire_all()
    assert session.get(Village, village.id).to_relocate == 350


def test_a_clerk_cannot_correct_villages(client, login, session, county):
    village = session.scalar(select(Village).where(Village.name == "横湖村"))
    login("cbclerk")
    form = {"name": "改名村", "kind": "village", "population": "1", "to_relocate": "0"}
    assert post_form(client, f"/shelters/villages/{village.id}", form).status_code == 403
    session.expire_all()
    assert session.get(Village, village.id).name == "横湖村"


def test_sites_list_filters(client, login, session, county, make_site):
    make_site(county["cb"], "规范礼堂", is_standardized=True)
    make_site(county["cb"], "在建小学", status="construction")
    make_site(county["st"], "石塘礼堂")
    login("cmd1")

    def names(query):
        html = client.get(f"/shelters/sites?{query}").get_data(as_text=True)
        return {n for n in ("规范礼堂", "在建小学", "石塘礼堂") if f">{n}<" in html}

    assert names("") == {"规范礼堂", "在建小学", "石塘礼堂"}
    assert names("town=ST") == {"石塘礼堂"}
    assert names("standardized=yes") == {"规范礼堂"}
    assert names("standardized=no") == {"在建小学", "石塘礼堂"}
    assert names("status=construction") == {"在建小学"}
    # only active sites can be overdue
    assert names("overdue=1") == {"规范礼堂", "石塘礼堂"}
    assert names("town=NOPE") == set()


def test_site_page_shows_its_relief_supplies_against_the_shelter_standard(
    session, county, make_site, make_item, stock, login
):
    from inventory import standard
    from readiness.permissions import SYSTEM

    quilt = make_item("QUILT", name="棉被", uom="床")
    water = make_item("WATER", name="瓶装饮用水", uom="箱", shelf_life_days=365)
    standard.publish_standard(
        session,
        effective_from=date(2022, 1, 1),
        lines=[
            standard.StandardLineInput("shelter", "QUILT", "0", "1"),
            standard.StandardLineInput("shelter", "WATER", "0", "0.2"),
        ],
        actor=SYSTEM,
    )
    session.commit()
    site = make_site(county["cb"], "城北礼堂", capacity=200, is_standardized=True)
    stock(site.unit, quilt, 150)
    today = date.today()
    stock(site.unit, water, 40, lot_code="W1", expires_on=today + timedelta(days=100))
    stock(
        site.unit,
        water,
        12,
        lot_code="W0",
        expires_on=today - timedelta(days=5),
        today=today - timedelta(days=400),
    )
    html = login("cmd1").get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    section = html[html.index('id="supplies"') :]
    section = section[: section.index("</section>")]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", section)
    # quilts: 200 required (1 a person), 150 on hand, 50 short, 75%
    assert cells[cells.index("棉被") + 1 : cells.index("棉被") + 6] == [
        "200 床",
        "150",
        "0",
        "50",
        '<span class="tag warn">75%</span>',
    ]
    # water: 40 required, 40 good on hand; the 12 expired cases are shown apart
    row = cells[cells.index("瓶装饮用水") + 1 : cells.index("瓶装饮用水") + 6]
    assert row[:2] == ["40 箱", "40"] and "12" in row[2] and row[3] == "0"
