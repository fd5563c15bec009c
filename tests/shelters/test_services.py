"""Rules for villages, shelter sites, inspections and coverage, at the service level."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, or_, select

from readiness.errors import Conflict, DomainError, NotFound, PermissionDenied
from readiness.models import AuditEntry, Unit
from readiness.permissions import SYSTEM
from rectification import actions as register
from shelters import coverage, inspections, places, sites
from shelters.models import Defect, Inspection, Shelter, Village
from tests.shelters.conftest import ALL_PASS

TODAY = date(2023, 9, 7)


def _counts(session):
    return tuple(
        session.scalar(select(func.count()).select_from(m))
        for m in (Village, Shelter, Inspection, Defect, Unit)
    )


# ---------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("target", "villages", "covered", "needed"),
    [
        ("0.6", 10, 5, 1),
        ("0.6", 10, 6, 0),
        ("0.6", 10, 9, 0),  # never negative
        ("0.7", 10, 0, 7),  # 0.7 × 10 in floats is 7.000000000000001: ceil would say 8
        ("0.6", 198, 0, 119),  # ceil(118.8)
        ("1", 3, 1, 2),
        ("0.6", 0, 0, 0),
    ],
)
def test_villages_needed_is_ceil_of_target_times_villages_minus_covered(
    target, villages, covered, needed
):
    assert coverage.villages_needed(Decimal(target), villages, covered) == needed


def test_area_capacity_allows_one_person_per_one_and_a_half_square_metres():
    assert sites.area_capacity(Decimal("150")) == 100
    assert sites.area_capacity(Decimal("200")) == 133  # rounded down: nobody gets 1.49 m²
    assert sites.area_capacity(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"), [("0.6", "0.6"), ("60", "0.6"), ("60%", "0.6"), ("1", "1"), ("", "0.6")]
)
def test_target_is_read_as_a_fraction_or_a_percentage(raw, expected):
    assert coverage.parse_target(raw, 0.6) == Decimal(expected)


@pytest.mark.parametrize("raw", ["0", "-0.1", "abc", "101", "nan", "inf"])
def test_a_target_outside_zero_to_one_is_refused(raw):
    with pytest.raises(DomainError):
        coverage.parse_target(raw, 0.6)


def test_overdue_means_never_inspected_or_older_than_the_interval():
    old = Inspection(inspected_on=TODAY - timedelta(days=181), checklist={})
    recent = Inspection(inspected_on=TODAY - timedelta(days=180), checklist={"signage": "fail"})
    assert sites.site_state("active", None, 0, today=TODAY, interval_days=180).is_overdue
    assert sites.site_state("active", old, 0, today=TODAY, interval_days=180).is_overdue
    state = sites.site_state("active", recent, 0, today=TODAY, interval_days=180)
    assert not state.is_overdue and state.failed_items == ("signage",)
    # a site under construction is not due for inspections yet
    assert not sites.site_state("construction", None, 0, today=TODAY, interval_days=180).is_overdue
    assert sites.site_state("active", recent, 2, today=TODAY, interval_days=180).needs_attention


# ---------------------------------------------------------------- towns and villages


def test_save_town_adds_and_updates_villages_by_name_and_audits_each(session, county):
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    saved = places.save_town(
        session,
        code="CB",
        name="城北街道",
        villages=[places.VillageInput("横湖村", 2100, 300), places.VillageInput("新村", 10, 0)],
        actor=county["cmd"],
    )
    session.commit()
    assert (saved.is_new, saved.added, saved.changed) == (False, 1, 1)
    names = {v.name: v.population for v in places.villages_of(session, county["cb"])}
    assert names["横湖村"] == 2100 and names["新村"] == 10 and "双峰村" in names
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.id > before)).all()
    assert sorted(actions) == ["village.create", "village.update"]


def test_a_new_town_goes_under_the_actors_bureau(session, county):
    saved = places.save_town(session, code="BH", name="滨海镇", actor=county["cmd"])
    assert saved.is_new and saved.town.kind == "town"
    assert saved.town.parent_id == county["bureau"].id


@pytest.mark.parametrize(
    ("village", "field"),
    [
        (places.VillageInput("", 10, 0), "village"),
        (places.VillageInput("坏村", -1, 0), "population"),
        (places.VillageInput("坏村", "十", 0), "population"),
        (places.VillageInput("坏村", 10, 11), "to_relocate"),
        (places.VillageInput("坏村" * 40, 10, 1), "village"),
        (places.VillageInput("坏村", 10, 1, "city"), "kind"),
    ],
)
def test_bad_village_figures_are_refused_and_nothing_is_written(session, county, village, field):
    before = _counts(session)
    with pytest.raises(DomainError) as err:
        places.save_town(
            session,
            code="CB",
            name="城北街道",
            villages=[places.VillageInput("好村", 5, 1), village],
            actor=county["cmd"],
        )
    session.rollback()
    assert err.value.field == field
    assert _counts(session) == before


def test_only_command_staff_keep_the_village_lists(session, county):
    for who in ("cb_clerk", "insp", "admin"):
        with pytest.raises(PermissionDenied):
            places.save_town(session, code="CB", name="城北街道", actor=county[who])


def test_a_unit_code_that_is_not_a_town_cannot_take_villages(session, county):
    with pytest.raises(Conflict):
        places.save_town(session, code="ELSE", name="别处", actor=county["cmd"])


# ---------------------------------------------------------------- sites


def test_an_active_site_becomes_a_stock_holding_unit_sized_by_its_capacity(
    session, county, make_site
):
    site = make_site(county["cb"], "横湖村文化礼堂", ["横湖村"], capacity=300)
    assert site.unit.kind == "shelter" and site.unit.parent_id == county["cb"].id
    assert site.unit.headcount == 300
    planned = make_site(county["cb"], "规划场所", status="planned")
    assert planned.unit is None
    sites.update_shelter(
        session,
        planned,
        sites.ShelterInput(name="规划场所", town=county["cb"], capacity=80, status="active"),
        actor=county["cmd"],
    )
    session.commit()
    assert planned.unit.headcount == 80 and planned.unit.is_active
    sites.update_shelter(
        session,
        planned,
        sites.ShelterInput(name="规划场所", town=county["cb"], capacity=80, status="closed"),
        actor=county["cmd"],
    )
    session.commit()
    assert not planned.unit.is_active


def test_site_warnings_name_the_area_limit_and_the_level_floor(county, make_site):
    site = make_site(
        county["cb"], "小礼堂", capacity=90, area_m2="120", level="town", is_standardized=True
    )
    text = " ".join(sites.shelter_warnings(site))
    assert "80" in text  # 120 m² ÷ 1.5
    assert "100" in text  # a town-level site takes at least 100


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        ({"capacity": -5}, "capacity"),
        ({"capacity": "many"}, "capacity"),
        ({"area_m2": "-1"}, "area_m2"),
        ({"area_m2": "12.34"}, "area_m2"),
        ({"level": "province"}, "level"),
        ({"status": "open"}, "status"),
        # standardized only by an acceptance (shelters.acceptance), never by the facts
        ({"is_standardized": True, "standardized_on": TODAY}, "is_standardized"),
        ({"is_standardized": "yes"}, "is_standardized"),
        ({"latitude": "28.3"}, "latitude"),
        ({"latitude": "95", "longitude": "121"}, "latitude"),
        ({"villages": ["海山村"]}, "villages"),  # a village of another town
        ({"villages": ["无此村"]}, "villages"),
        ({"name": "场" * 101}, "name"),
    ],
)
def test_bad_site_facts_are_refused_and_nothing_is_written(session, county, facts, field):
    before = _counts(session)
    data = {"name": "测试场所", "town": county["cb"], "capacity": 100, **facts}
    with pytest.raises(DomainError) as err:
        sites.create_shelter(session, sites.ShelterInput(**data), actor=county["cmd"], today=TODAY)
    session.rollback()
    assert err.value.field == field
    assert _counts(session) == before


def test_a_town_clerk_registers_sites_only_in_their_own_town(session, county):
    site = sites.create_shelter(
        session, sites.ShelterInput(name="本镇场所", town=county["cb"]), actor=county["cb_clerk"]
    )
    assert site.id
    for who in ("other_clerk", "insp"):
        with pytest.raises(PermissionDenied):
            sites.create_shelter(
                session, sites.ShelterInput(name="他镇场所", town=county["cb"]), actor=county[who]
            )
    with pytest.raises(PermissionDenied):
        sites.create_shelter(
            session,
            sites.ShelterInput(name="他镇场所", town=county["st"]),
            actor=county["cb_clerk"],
        )


def test_a_site_out_of_reach_is_not_found(session, county, make_site):
    site = make_site(county["st"], "海山小学")
    assert sites.get_shelter(session, site.id, county["insp"]) is site
    with pytest.raises(NotFound):
        sites.get_shelter(session, site.id, county["cb_clerk"])


def test_a_stale_edit_is_refused(session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    with pytest.raises(Conflict):
        sites.update_shelter(
            session,
            site,
            sites.ShelterInput(name="改名", town=county["cb"]),
            actor=county["cmd"],
            expected_version=site.version - 1,
        )


# ---------------------------------------------------------------- inspections


def test_an_open_defect_marks_the_site_until_its_fix_is_verified(session, county, make_site):
    site = make_site(county["cb"], "礼堂", is_standardized=True)
    inspection = inspections.record_inspection(
        session,
        site,
        inspected_on=date(2023, 3, 1),
        checklist={**ALL_PASS, "building": "na", "signage": "fail"},
        defects=[
            inspections.DefectInput("疏散指示牌缺失"),
            inspections.DefectInput("灭火器过期", True),
        ],
        replenished_qty=40,
        rotated_qty=12,
        subsidy="5078.00",
        actor=county["cb_clerk"],
        today=TODAY,
    )
    session.commit()
    states = sites.site_states(session, [site], today=TODAY, interval_days=180)
    # fixed on the spot is reported done, still to be verified by a second person
    assert states[site.id].open_defects == 2 and states[site.id].needs_attention
    assert states[site.id].failed_items == ("signage",)
    assert inspection.subsidy == Decimal("5078.00")
    assert inspection.checklist["building"] == "na"
    assert [s.id for s in session.scalars(sites.attention_query())] == [site.id]
    open_defect = next(d for d in inspection.defects if not d.is_resolved)
    inspections.resolve_defect(
        session,
        open_defect,
        resolution="已更换指示牌",
        resolved_on=date(2023, 3, 10),
        actor=county["cmd"],
        today=TODAY,
    )
    session.commit()
    assert open_defect.action.status == "done" and open_defect.action.evidence == "已更换指示牌"
    assert sites.site_states(session, [site], today=TODAY, interval_days=180)[
        site.id
    ].needs_attention
    for d in inspection.defects:
        register.verify_action(session, d.action, actor=county["insp"])
    session.commit()
    assert not sites.site_states(session, [site], today=TODAY, interval_days=180)[
        site.id
    ].needs_attention
    assert list(session.scalars(sites.attention_query())) == []
    with pytest.raises(Conflict):
        inspections.resolve_defect(session, open_defect, resolution="再次", actor=county["cmd"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"inspected_on": TODAY + timedelta(days=1)}, "inspected_on"),
        ({"checklist": {"roof": "pass"}}, "checklist"),
        ({"checklist": {"signage": "ok"}}, "checklist"),
        ({"subsidy": "-1"}, "subsidy"),
        ({"subsidy": "1.234"}, "subsidy"),
        ({"replenished_qty": -3}, "replenished_qty"),
        ({"defects": [inspections.DefectInput("")]}, "defects"),
        ({"defects": [inspections.DefectInput("x" * 2001)]}, "defects"),
    ],
)
def test_bad_inspections_are_refused_and_nothing_is_written(
    session, county, make_site, kwargs, field
):
    site = make_site(county["cb"], "礼堂")
    before = _counts(session)
    data = {"inspected_on": date(2023, 3, 1), "checklist": ALL_PASS, **kwargs}
    with pytest.raises(DomainError) as err:
        inspections.record_inspection(session, site, actor=county["cmd"], today=TODAY, **data)
    session.rollback()
    assert err.value.field == field
    assert _counts(session) == before


def test_the_same_inspection_form_twice_records_once(session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    data = {"inspected_on": date(2023, 3, 1), "checklist": ALL_PASS, "request_key": "k1"}
    inspections.record_inspection(session, site, actor=county["cmd"], **data)
    session.commit()
    with pytest.raises(inspections.AlreadyRecorded):
        inspections.record_inspection(session, site, actor=county["cmd"], **data)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Inspection)) == 1


def test_a_closed_site_takes_no_more_inspections(session, county, make_site):
    site = make_site(county["cb"], "礼堂", status="closed")
    with pytest.raises(Conflict):
        inspections.record_inspection(
            session, site, inspected_on=date(2023, 3, 1), checklist=ALL_PASS, actor=county["cmd"]
        )


# the examples (16, item 5): nothing answered, dated 1990, dated tomorrow


@pytest.mark.parametrize(
    "checklist",
    [None, {}, dict.fromkeys(ALL_PASS, ""), dict.fromkeys(ALL_PASS)],
    ids=["none", "empty", "blank", "null"],
)
def test_an_inspection_with_nothing_answered_is_refused_and_the_site_stays_overdue(
    session, county, make_site, checklist
):
    site = make_site(county["cb"], "礼堂", is_standardized=True)
    before = _counts(session)
    with pytest.raises(DomainError) as err:
        inspections.record_inspection(
            session,
            site,
            inspected_on=TODAY,
            checklist=checklist,
            actor=county["cb_clerk"],
            today=TODAY,
        )
    session.rollback()
    assert err.value.field == "checklist"
    assert err.value.message == (
        "每个检查项都须选择合格、不合格或不适用，尚未选择："
        "选址安全（避开地质灾害点、洪涝区）、房屋安全（质量检测合格）、"
        "标识标牌（指示牌、场所牌、疏散图）、设施设备（供水、供电、厕所、照明、通风）、"
        "物资储备（床铺、棉被、食品、饮用水在有效期内）。"
    )
    assert _counts(session) == before
    assert sites.site_states(session, [site], today=TODAY, interval_days=180)[site.id].is_overdue


def test_a_partly_answered_inspection_names_only_the_missing_items(session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    with pytest.raises(DomainError) as err:
        inspections.record_inspection(
            session,
            site,
            inspected_on=TODAY,
            checklist={**ALL_PASS, "building": None, "supplies": ""},
            actor=county["cmd"],
            today=TODAY,
        )
    session.rollback()
    assert err.value.field == "checklist"
    assert err.value.message.endswith(
        "尚未选择：房屋安全（质量检测合格）、物资储备（床铺、棉被、食品、饮用水在有效期内）。"
    )
    assert "选址安全" not in err.value.message
    assert session.scalar(select(func.count()).select_from(Inspection)) == 0


def test_every_item_answered_not_applicable_is_recorded(session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    done = inspections.record_inspection(
        session,
        site,
        inspected_on=TODAY,
        checklist=dict.fromkeys(ALL_PASS, "na"),
        actor=county["cmd"],
        today=TODAY,
    )
    session.commit()
    assert done.checklist == dict.fromkeys(ALL_PASS, "na")
    assert not sites.site_states(session, [site], today=TODAY, interval_days=180)[
        site.id
    ].is_overdue


@pytest.mark.parametrize(
    ("inspected_on", "message"),
    [
        (date(1990, 1, 1), "检查日期不能早于场所登记日期（2020-01-01）。"),
        (date(2019, 12, 31), "检查日期不能早于场所登记日期（2020-01-01）。"),
        (TODAY + timedelta(days=1), "检查日期不能晚于今天。"),
    ],
    ids=["1990", "day-before-registration", "tomorrow"],
)
def test_an_inspection_dated_before_registration_or_in_the_future_is_refused(
    session, county, make_site, inspected_on, message
):
    site = make_site(county["cb"], "礼堂", is_standardized=True)
    before = _counts(session)
    with pytest.raises(DomainError) as err:
        inspections.record_inspection(
            session,
            site,
            inspected_on=inspected_on,
            checklist=ALL_PASS,
            actor=county["cmd"],
            today=TODAY,
        )
    session.rollback()
    assert (err.value.field, err.value.message) == ("inspected_on", message)
    assert _counts(session) == before
    assert sites.site_states(session, [site], today=TODAY, interval_days=180)[site.id].is_overdue


def test_an_inspection_on_the_day_of_registration_or_today_is_accepted(session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    for on in (date(2020, 1, 1), TODAY):
        inspections.record_inspection(
            session, site, inspected_on=on, checklist=ALL_PASS, actor=county["cmd"], today=TODAY
        )
    session.commit()
    # a site registered just now can be inspected today, whatever the clock's time zone
    fresh = make_site(county["cb"], "小学", registered_on=date.today())
    inspections.record_inspection(
        session, fresh, inspected_on=date.today(), checklist=ALL_PASS, actor=county["cmd"]
    )
    session.commit()
    assert session.scalar(select(func.count()).select_from(Inspection)) == 3


# ---------------------------------------------------------------- coverage from the database


def test_coverage_counts_only_active_standardized_sites_and_capacity_for_all_served(
    session, make_unit, make_site
):
    bureau = make_unit("HB", name="某区应急管理局", kind="bureau")

    def town(code, villages):
        made = places.save_town(
            session,
            code=code,
            name=f"{code}镇",
            parent=bureau,
            villages=[places.VillageInput(name, 1000, people) for name, people in villages],
            actor=SYSTEM,
        )
        session.commit()
        return made.town

    first_town = town("T10", [("甲", 100), ("乙", 100), ("丙", 50)])
    second_town = town("T20", [("丁", 10)])
    # serves 甲 and 乙 (200 to move) with room for 150: covered, but not with capacity
    make_site(first_town, "礼堂", ["甲", "乙"], capacity=150, is_standardized=True)
    # serves 乙 with room for its 100: 乙 is covered with capacity through this one
    make_site(first_town, "小学", ["乙"], capacity=100, is_standardized=True)
    # not standardized: 丙 stays uncovered, and the site is a candidate; a closed one is not
    make_site(first_town, "祠堂", ["丙"], capacity=500)
    make_site(first_town, "旧仓库", ["丙"], capacity=500, status="closed")
    make_site(second_town, "村委", ["丁"], capacity=10, is_standardized=True)
    report = coverage.coverage(session, Decimal("0.6"), unit_ids={first_town.id, second_town.id})
    first, second = report.towns
    assert (first.villages, first.covered, first.covered_with_capacity) == (3, 2, 1)
    assert first.uncovered == ["丙"]
    assert first.capacity == 250  # the non-standardized site's 500 does not count
    assert first.to_relocate == 250
    assert (second.villages, second.covered, second.covered_with_capacity) == (1, 1, 1)
    assert (report.villages, report.covered, report.covered_with_capacity) == (4, 3, 2)
    assert report.needed == 0  # ceil(2.4) = 3 covered already
    assert first.needed == 0 and second.needed == 0
    assert [(c.name, c.would_cover) for c in report.candidates] == [("祠堂", 1)]


def test_coverage_from_the_database_matches_the_rule(session, county, make_site):
    cb, st = county["cb"], county["st"]
    # 横湖 (300) + 双峰 (200) = 500 to move; 400 places: covered, not with capacity
    make_site(cb, "城北礼堂", ["横湖村", "双峰村"], capacity=400, is_standardized=True)
    # 三星 (100) with room for 150: covered with capacity
    make_site(cb, "三星小学", ["三星社区"], capacity=150, is_standardized=True)
    # suspended and not standardized sites do not count
    make_site(st, "海山祠堂", ["海山村"], capacity=900, is_standardized=True, status="suspended")
    make_site(st, "桂岙村委", ["桂岙村"], capacity=900)
    report = coverage.coverage(session, Decimal("0.6"))
    by_code = {t.town.code: t for t in report.towns}
    assert (by_code["CB"].villages, by_code["CB"].covered) == (4, 3)
    assert by_code["CB"].covered_with_capacity == 1
    assert by_code["CB"].uncovered == ["上林村"]
    assert by_code["CB"].capacity == 550 and by_code["CB"].to_relocate == 720
    assert (by_code["ST"].covered, by_code["ST"].uncovered) == (0, ["桂岙村", "海山村"])
    assert (report.villages, report.covered, report.needed) == (6, 3, 1)  # ceil(3.6) − 3
    assert {c.name for c in report.candidates} == {"海山祠堂", "桂岙村委"}
    # a town clerk's report holds their town only
    mine = coverage.coverage(
        session, Decimal("0.6"), unit_ids=coverage.scope_for(session, county["cb_clerk"], None)
    )
    assert [t.town.code for t in mine.towns] == ["CB"]


def test_the_audit_names_who_registered_a_site_and_its_stock_unit(session, county):
    site = sites.create_shelter(
        session,
        sites.ShelterInput(name="本镇场所", town=county["cb"], capacity=60),
        actor=county["cb_clerk"],
    )
    session.commit()
    entries = session.execute(
        select(AuditEntry.action, AuditEntry.actor_name).where(
            or_(
                (AuditEntry.object_type == "shelters") & (AuditEntry.object_id == str(site.id)),
                (AuditEntry.object_type == "units") & (AuditEntry.object_id == str(site.unit_id)),
            )
        )
    ).all()
    assert sorted(entries) == [("shelter.create", "cbclerk"), ("unit.create", "cbclerk")]
