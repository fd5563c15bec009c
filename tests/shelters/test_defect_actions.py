"""Shelter defects are corrective actions of the register (issue 17, item 1): recording an
inspection puts each defect in the register for the town's responsible person, "report
fixed" is the action reported done, and the site needs attention until a second person
verifies the fix. Migration 0018 carries existing defects over."""

from datetime import date, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from readiness import create_app
from readiness.db import db
from readiness.errors import DomainError, PermissionDenied
from readiness.models import AuditEntry
from readiness.permissions import SYSTEM
from rectification import actions as register
from rectification.models import CorrectiveAction
from shelters import inspections, sites
from shelters.models import Defect, Inspection
from tests.conftest import _base_config
from tests.shelters.conftest import ALL_PASS

TODAY = date.today()


def _inspect(session, site, actor, defects, on=None):
    ins = inspections.record_inspection(
        session,
        site,
        inspected_on=on or TODAY - timedelta(days=2),
        checklist=ALL_PASS,
        defects=defects,
        actor=actor,
    )
    session.commit()
    return ins


def _counts(session):
    return tuple(
        session.scalar(select(func.count()).select_from(m))
        for m in (Inspection, Defect, CorrectiveAction, AuditEntry)
    )


def test_each_defect_becomes_an_action_of_the_town_owned_by_its_clerk(session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    found_on = TODAY - timedelta(days=2)
    ins = _inspect(
        session,
        site,
        county["cb_clerk"],
        [
            inspections.DefectInput("疏散指示牌缺失"),
            inspections.DefectInput("灯泡损坏", True),
            inspections.DefectInput("屋顶渗水", due_on=TODAY + timedelta(days=60)),
        ],
        on=found_on,
    )
    signs, lamp, roof = ins.defects
    for d in ins.defects:
        a = d.action
        assert (a.source, a.text, a.unit_id, a.owner_id) == (
            "shelter",
            d.text,
            county["cb"].id,
            county["cb_clerk"].id,
        )
    assert signs.action.status == "open" and signs.action.due_on == found_on + timedelta(days=30)
    assert roof.action.due_on == TODAY + timedelta(days=60)
    # fixed on the spot: reported done by whoever recorded it, still to be verified
    assert lamp.action.status == "done" and lamp.action.done_by_id == county["cb_clerk"].id
    created = session.scalars(select(AuditEntry).where(AuditEntry.action == "action.create")).all()
    assert len(created) == 3
    # the register lists them by source
    shelter_actions = session.scalars(register.actions_query(source="shelter")).all()
    assert {a.id for a in shelter_actions} == {d.action_id for d in ins.defects}


def test_the_owner_falls_back_to_custodian_then_clerk_then_the_bureaus_command(
    session, county, make_site, make_user
):
    cmd, st = county["cmd"], county["st"]
    site = make_site(st, "石塘小学")
    # command staff record it; 石塘 has nobody of its own: the bureau's command staff own it
    assert (
        _inspect(session, site, cmd, [inspections.DefectInput("a")]).defects[0].action.owner == cmd
    )
    clerk = make_user("stclerk", "clerk", st)
    other = make_user("stclerk2", "clerk", st)
    assert (
        _inspect(session, site, cmd, [inspections.DefectInput("b")]).defects[0].action.owner
        == clerk
    )
    st.custodian_id = other.id
    session.commit()
    assert (
        _inspect(session, site, SYSTEM, [inspections.DefectInput("c")]).defects[0].action.owner
        == other
    )


def test_a_town_with_nobody_to_own_its_defects_is_refused_and_nothing_is_written(
    session, make_unit, make_site
):
    from shelters import places

    alone = make_unit("ALONE", name="孤岛局", kind="bureau", parent=None)
    town = places.save_town(
        session,
        code="GD",
        name="孤岛镇",
        parent=alone,
        villages=[places.VillageInput("岛村", 100, 10)],
        actor=SYSTEM,
    ).town
    session.commit()
    site = make_site(town, "岛小学")
    before = _counts(session)
    with pytest.raises(DomainError, match="请先为孤岛镇指定责任人（保管责任人）"):
        _inspect(session, site, SYSTEM, [inspections.DefectInput("无人")])
    session.rollback()
    assert _counts(session) == before
    # an inspection without defects needs no owner
    _inspect(session, site, SYSTEM, [])


def test_a_due_date_in_the_past_is_refused_and_nothing_is_written(session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    before = _counts(session)
    with pytest.raises(DomainError, match="第 1 个问题：完成时限不能早于今天"):
        _inspect(
            session,
            site,
            county["cb_clerk"],
            [inspections.DefectInput("x", due_on=TODAY - timedelta(days=1))],
        )
    session.rollback()
    assert _counts(session) == before


def test_report_fixed_is_done_and_only_a_second_persons_verification_clears_the_site(
    session, county, make_site
):
    site = make_site(county["cb"], "礼堂")
    [defect] = _inspect(
        session, site, county["cb_clerk"], [inspections.DefectInput("疏散指示牌缺失")]
    ).defects
    state = sites.site_states(session, [site], today=TODAY, interval_days=180)[site.id]
    assert state.needs_attention
    inspections.resolve_defect(session, defect, resolution="已补装指示牌", actor=county["cb_clerk"])
    session.commit()
    assert defect.is_resolved and defect.action.status == "done"
    assert defect.action.evidence == "已补装指示牌"
    assert [s.id for s in session.scalars(sites.attention_query())] == [site.id]
    # the owner who reported it cannot verify it
    with pytest.raises(PermissionDenied):
        register.verify_action(session, defect.action, actor=county["cb_clerk"])
    register.verify_action(session, defect.action, actor=county["insp"])
    session.commit()
    assert list(session.scalars(sites.attention_query())) == []
    assert not sites.site_states(session, [site], today=TODAY, interval_days=180)[
        site.id
    ].needs_attention


def test_a_cancelled_action_clears_the_site_too(session, county, make_site):
    site = make_site(county["cb"], "礼堂")
    [defect] = _inspect(session, site, county["cb_clerk"], [inspections.DefectInput("x")]).defects
    register.cancel_action(session, defect.action, "场所已拆除该设施", actor=county["cmd"])
    session.commit()
    assert list(session.scalars(sites.attention_query())) == []


def test_the_api_records_due_dates_resolves_as_done_and_the_page_links_the_action(
    api, make_token, client, login, session, county, make_site
):
    site = make_site(county["cb"], "礼堂")
    clerk = api(make_token(county["cb_clerk"]))
    due = (TODAY + timedelta(days=10)).isoformat()
    r = clerk.post(
        f"/api/v1/shelters/{site.id}/inspections",
        json={
            "inspected_on": TODAY.isoformat(),
            "checklist": ALL_PASS,
            "defects": [{"text": "灭火器过期", "due_on": due}],
        },
    )
    assert r.status_code == 201, r.get_json()
    [d] = clerk.get(f"/api/v1/shelters/{site.id}").get_json()["inspections"][0]["defects"]
    assert (d["is_resolved"], d["action_status"], d["action_due_on"]) == (False, "open", due)
    action = clerk.get("/api/v1/actions?source=shelter").get_json()
    assert str(d["action"]) in str(action)
    bad = clerk.post(
        f"/api/v1/shelters/{site.id}/inspections",
        json={
            "inspected_on": TODAY.isoformat(),
            "checklist": ALL_PASS,
            "defects": [{"text": "y", "due_on": "tomorrow"}],
        },
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "defects"

    r = clerk.post(f"/api/v1/defects/{d['id']}/resolve", json={"resolution": "已更换"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["is_resolved"] is True and body["action_status"] == "done"
    assert body["state"]["needs_attention"] is True

    login("cbclerk")
    page = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert f'href="/actions/{d["action"]}"' in page and "已完成待验证" in page


# ---------------------------------------------------------------- migration 0018


def _seed_0017(run):
    t, f = {"t": True}, {"f": False}
    run(
        text(
            "INSERT INTO units (id, code, name, kind, parent_id, headcount, is_active,"
            " created_at, version) VALUES"
            " (1, 'WL', '温岭市应急管理局', 'bureau', NULL, 0, :t, '2022-01-01 00:00:00', 1),"
            " (2, 'CB', '城北街道', 'town', 1, 0, :t, '2022-01-01 00:00:00', 1),"
            " (3, 'ST', '石塘镇', 'town', 1, 0, :t, '2022-01-01 00:00:00', 1),"
            " (4, 'XX', '无人局', 'bureau', NULL, 0, :t, '2022-01-01 00:00:00', 1),"
            " (5, 'GD', '孤岛镇', 'town', 4, 0, :t, '2022-01-01 00:00:00', 1)"
        ),
        t,
    )
    run(
        text(
            "INSERT INTO users (id, username, name, role, unit_id, password_hash, language,"
            " is_active, session_version, created_at, version, must_change_password) VALUES"
            " (1, 'cbclerk', '城北', 'clerk', 2, 'h', 'zh', :t, 1, '2022-01-01 00:00:00', 1, :f),"
            " (2, 'boss', '王科长', 'command', 1, 'h', 'zh', :t, 1, '2022-01-01 00:00:00', 1, :f),"
            " (3, 'gone', '调离', 'clerk', 5, 'h', 'zh', :f, 1, '2022-01-01 00:00:00', 1, :f)"
        ),
        {"t": True, "f": False},
    )
    run(
        text(
            "INSERT INTO shelters (id, name, town_id, address, level, capacity, structure,"
            " is_accessible, has_generator, is_in_floodplain, is_standardized, status,"
            " manager_name, manager_phone, contacts, note, created_at, version) VALUES"
            " (1, '礼堂', 2, '', 'village', 100, 'frame', :f, :f, :f, :f, 'active', '', '',"
            " '', '', '2022-01-01 00:00:00', 1),"
            " (2, '小学', 3, '', 'village', 100, 'frame', :f, :f, :f, :f, 'active', '', '',"
            " '', '', '2022-01-01 00:00:00', 1),"
            " (3, '岛上', 5, '', 'village', 100, 'frame', :f, :f, :f, :f, 'active', '', '',"
            " '', '', '2022-01-01 00:00:00', 1)"
        ),
        f,
    )
    run(
        text(
            "INSERT INTO shelter_inspections (id, shelter_id, inspected_on, inspector,"
            " checklist, replenished_qty, rotated_qty, subsidy, note, created_at) VALUES"
            " (1, 1, '2023-03-01', '', '{}', 0, 0, 0, '', '2023-03-01 09:00:00'),"
            " (2, 2, '2023-04-01', '', '{}', 0, 0, 0, '', '2023-04-01 09:00:00'),"
            " (3, 3, '2023-05-01', '', '{}', 0, 0, 0, '', '2023-05-01 09:00:00')"
        )
    )
    run(
        text(
            "INSERT INTO shelter_defects (id, shelter_id, inspection_id, text, is_resolved,"
            " resolved_on, resolution, resolved_by_id) VALUES"
            " (1, 1, 1, '指示牌缺失', :f, NULL, '', NULL),"
            " (2, 1, 1, '灭火器过期', :t, '2023-03-10', '已更换', 1),"
            " (3, 2, 2, '屋顶渗水', :t, '2023-04-01', '', NULL),"
            " (4, 3, 3, '无人认领', :f, NULL, '', NULL)"
        ),
        {"t": True, "f": False},
    )


def test_migration_0018_carries_shelter_defects_over_as_actions(empty_url):
    app = create_app(_base_config(empty_url))
    with app.app_context():
        upgrade(revision="0017")
        _seed_0017(db.session.execute)
        db.session.commit()
        upgrade(revision="0018")
        rows = db.session.execute(
            text(
                "SELECT d.id, a.source, a.text, a.owner_id, a.unit_id, a.due_on, a.status,"
                " a.evidence, a.done_by_id FROM shelter_defects d"
                " LEFT JOIN corrective_actions a ON a.id = d.action_id ORDER BY d.id"
            )
        ).all()
        got = [(r[0], *r[1:5], str(r[5]) if r[5] else None, *r[6:]) for r in rows]
        assert got == [
            # open, owned by the town's clerk, due 30 days after the inspection
            (1, "shelter", "指示牌缺失", 1, 2, "2023-03-31", "open", "", None),
            # resolved: done (nobody verified it) with its resolution as evidence
            (2, "shelter", "灭火器过期", 1, 2, "2023-03-31", "done", "已更换", 1),
            # a town without clerk: the bureau's command staff; fixed on the spot
            (3, "shelter", "屋顶渗水", 2, 3, "2023-05-01", "done", "检查时当场整改", None),
            # nobody active at all: no action, the defect keeps its own flag
            (4, None, None, None, None, None, None, None, None),
        ]
        # the count-variance thresholds exist, empty
        assert db.session.scalar(text("SELECT COUNT(*) FROM count_variance_thresholds")) == 0
        db.session.remove()
        db.engine.dispose()


def test_the_inspection_form_takes_a_due_date_per_defect(client, login, session, county, make_site):
    from tests.conftest import csrf_token, post_form

    site = make_site(county["cb"], "礼堂")
    login("cbclerk")
    url = f"/shelters/sites/{site.id}/inspections/new"
    page = client.get(url).get_data(as_text=True)
    assert 'name="due-0"' in page and "直到整改经他人验证销号" in page
    due = TODAY + timedelta(days=7)
    data = {f"check-{k}": v for k, v in ALL_PASS.items()}
    data.update(
        {
            "inspected_on": TODAY.isoformat(),
            "defect-0": "应急灯损坏",
            "due-0": due.isoformat(),
            "defect-1": "标识褪色",
            "request_key": "due-form",
            "replenished_qty": "0",
            "rotated_qty": "0",
            "subsidy": "0",
        }
    )
    assert csrf_token(client, url)
    r = post_form(client, url, data)
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    session.expire_all()
    dues = [d.action.due_on for d in session.scalars(select(Defect).order_by(Defect.id))]
    assert dues == [due, TODAY + timedelta(days=30)]
