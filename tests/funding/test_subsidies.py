"""Shelter subsidies: proposed by the inspection that writes them (to the site's town, in the
inspection's year), approved by another member of command staff (from the threshold up only
against a collective decision) and paid from the bureau's fund, or refused with a reason;
totalled by town and year within each role's reach."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from funding import decisions, fund, subsidies
from funding.decisions import MemberInput
from funding.models import Decision, FundEntry, Subsidy
from readiness.audit import AuditEntry
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.permissions import SYSTEM
from shelters import inspections, places, sites
from shelters.models import CHECKLIST, Shelter
from tests.conftest import post_form
from tests.funding.conftest import POLICY

ALL_PASS = dict.fromkeys(CHECKLIST, "pass")
INSPECTED_ON = date(2022, 11, 1)


@pytest.fixture
def county(session, make_unit, make_user):
    """Bureau WL (its own tree) with towns CB and ST, a site in each; command staff who
    record and who approve, a leadership group, a fund of 300,000; a clerk of CB; and
    another bureau's command staff."""
    wl = make_unit("WL", name="温岭市应急管理局", kind="bureau", parent=None)
    towns = {}
    for code, name, village in (("CB", "城北街道", "横湖村"), ("ST", "石塘镇", "海山村")):
        towns[code] = places.save_town(
            session,
            code=code,
            name=name,
            parent=wl,
            villages=[places.VillageInput(village, 1000, 100)],
            actor=SYSTEM,
        ).town
    session.commit()
    site_of = {}
    for code, town in towns.items():
        village = places.villages_of(session, town)[0].name
        site = sites.create_shelter(
            session,
            sites.ShelterInput(name=f"{town.name}文化礼堂", town=town, villages=[village]),
            actor=SYSTEM,
        )
        session.commit()
        registered = datetime.combine(date(2020, 1, 1), time(12), UTC)
        session.execute(update(Shelter).where(Shelter.id == site.id).values(created_at=registered))
        session.commit()
        session.expire(site, ["created_at"])
        site_of[code] = site
    users = {
        name: make_user(name, "command", wl, name=full)
        for name, full in [
            ("rec", "周敏（减灾救灾科）"),
            ("appr", "吴晓东（副局长）"),
            ("dep", "许静（副局长）"),
            ("head", "陈国华（局长）"),
        ]
    }
    users["cbclerk"] = make_user("cbclerk", "clerk", towns["CB"], name="城北应急办")
    users["insp"] = make_user("insp", "inspector", wl)
    other = make_unit("OTHERB", name="别处应急管理局", kind="bureau", parent=None)
    users["othercmd"] = make_user("othercmd", "command", other)
    decisions.set_leadership(
        session,
        wl,
        [
            MemberInput("appr", "副局长"),
            MemberInput("dep", "副局长"),
            MemberInput("head", "局长", is_head=True),
        ],
        actor=users["rec"],
    )
    fund.appropriate(
        session, wl, amount="300000.00", reference="温财预〔2022〕35号", actor=users["rec"]
    )
    session.commit()
    return {"bureau": wl, "sites": site_of, **towns, **users}


@pytest.fixture
def inspect(session, county):
    """Record an inspection of a town's site writing a subsidy, as a user."""

    def make(town="CB", subsidy="12000.00", actor="rec", on=INSPECTED_ON):
        inspection = inspections.record_inspection(
            session,
            county["sites"][town],
            inspected_on=on,
            checklist=ALL_PASS,
            subsidy=subsidy,
            actor=county[actor],
        )
        session.commit()
        return inspection

    return make


@pytest.fixture
def decide(session, county):
    def make(amount, subject="2022年度避灾安置场所补助资金", outcome="approved"):
        entry = decisions.record_decision(
            session,
            county["bureau"],
            met_on=date(2022, 12, 15),
            attendees=["appr", "dep", "head"],
            positions=["agree", "agree", "agree"],
            subject=subject,
            decision="同意拨付。",
            amount=Decimal(str(amount)),
            outcome=outcome,
            policy=POLICY,
            actor=county["rec"],
        )
        session.commit()
        return entry

    return make


def _subsidy(session, inspection) -> Subsidy:
    return session.scalar(select(Subsidy).where(Subsidy.inspection_id == inspection.id))


def _entries(session) -> int:
    return session.scalar(select(func.count()).select_from(FundEntry))


# ---------------------------------------------------------------- service


def test_an_inspection_writing_a_subsidy_proposes_it_to_the_town_for_its_year(
    session, county, inspect
):
    inspection = inspect(subsidy="12000.5", actor="cbclerk")
    subsidy = _subsidy(session, inspection)
    assert subsidy.status == "proposed" and subsidy.amount == Decimal("12000.50")
    assert subsidy.unit_id == county["CB"].id and subsidy.year == 2022
    assert subsidy.proposed_by_id == county["cbclerk"].id
    assert subsidy.fund_entry_id is None and subsidy.decision_id is None
    audit = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "subsidy.propose", AuditEntry.object_id == str(subsidy.id)
        )
    )
    assert audit is not None and audit.unit_id == county["CB"].id
    # an inspection without a subsidy proposes none
    assert _subsidy(session, inspect(subsidy="0")) is None


def test_another_member_of_command_staff_approves_and_the_fund_pays(session, county, inspect):
    subsidy = _subsidy(session, inspect())
    subsidies.approve_subsidy(
        session, subsidy, booked_on="2022-12-20", policy=POLICY, actor=county["appr"]
    )
    session.commit()
    assert subsidy.status == "approved" and subsidy.decided_by_id == county["appr"].id
    assert subsidy.decided_at is not None and subsidy.decision_id is None
    entry = subsidy.fund_entry
    assert entry.kind == "subsidy" and entry.amount == Decimal("-12000.00")
    assert entry.booked_on == date(2022, 12, 20)
    assert (entry.object_type, entry.object_id) == ("shelter_subsidies", subsidy.id)
    assert fund.balance(session, county["bureau"].id) == Decimal("288000.00")
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "subsidy.approve"))


def test_the_proposer_may_not_approve_or_refuse_their_own(session, county, inspect):
    subsidy = _subsidy(session, inspect(actor="rec"))
    with pytest.raises(PermissionDenied) as err:
        subsidies.approve_subsidy(session, subsidy, policy=POLICY, actor=county["rec"])
    assert "另一位指挥部人员" in err.value.message
    with pytest.raises(PermissionDenied):
        subsidies.refuse_subsidy(session, subsidy, "不符合条件", actor=county["rec"])
    session.rollback()
    assert subsidy.status == "proposed"


def test_only_command_staff_approve(session, county, inspect):
    subsidy = _subsidy(session, inspect(actor="rec"))
    for name in ("cbclerk", "insp", "othercmd"):
        with pytest.raises(PermissionDenied):
            subsidies.approve_subsidy(session, subsidy, policy=POLICY, actor=county[name])


def test_from_the_threshold_a_collective_decision_is_needed(session, county, inspect, decide):
    subsidy = _subsidy(session, inspect(subsidy="60000.00"))
    before = _entries(session)
    with pytest.raises(Conflict) as err:
        subsidies.approve_subsidy(session, subsidy, policy=POLICY, actor=county["appr"])
    assert err.value.status == 409 and "集体决策" in err.value.message
    session.rollback()
    assert subsidy.status == "proposed" and _entries(session) == before
    assert fund.balance(session, county["bureau"].id) == Decimal("300000.00")
    # a decision that no longer covers it is refused too, naming what is left
    small = decide("50000.00", subject="小额")
    with pytest.raises(Conflict) as err:
        subsidies.approve_subsidy(
            session, subsidy, decision=small.id, policy=POLICY, actor=county["appr"]
        )
    assert "尚余 50,000.00 元" in err.value.message
    session.rollback()
    rejected = decide("90000.00", subject="暂不拨付", outcome="rejected")
    with pytest.raises(Conflict):
        subsidies.approve_subsidy(
            session, subsidy, decision=rejected.id, policy=POLICY, actor=county["appr"]
        )
    session.rollback()
    entry = decide("100000.00")
    subsidies.approve_subsidy(
        session, subsidy, decision=entry.id, policy=POLICY, actor=county["appr"]
    )
    session.commit()
    assert subsidy.status == "approved" and subsidy.decision_id == entry.id
    assert subsidy.fund_entry.decision_id == entry.id
    assert decisions.used_amount(session, entry.id) == Decimal("60000.00")
    # the decision's remaining 40,000 is what the page offers next
    offered = subsidies.open_decisions(session, {county["bureau"].id})[county["bureau"].id]
    assert (entry, Decimal("40000.00")) in offered


def test_a_fund_too_low_refuses_the_approval_and_changes_nothing(session, county, inspect, decide):
    subsidy = _subsidy(session, inspect(subsidy="350000.00"))
    entry = decide("400000.00")
    before = _entries(session)
    with pytest.raises(fund.FundTooLow) as err:
        subsidies.approve_subsidy(
            session, subsidy, decision=entry.id, policy=POLICY, actor=county["appr"]
        )
    assert err.value.status == 409 and "300,000.00" in err.value.message
    session.rollback()
    assert subsidy.status == "proposed" and subsidy.decided_by_id is None
    assert _entries(session) == before


def test_a_refusal_needs_a_reason_and_ends_the_proposal(session, county, inspect):
    subsidy = _subsidy(session, inspect())
    with pytest.raises(DomainError) as err:
        subsidies.refuse_subsidy(session, subsidy, "  ", actor=county["appr"])
    assert err.value.field == "reason"
    session.rollback()
    subsidies.refuse_subsidy(session, subsidy, "场所未达标，暂不补助", actor=county["appr"])
    session.commit()
    assert subsidy.status == "refused" and subsidy.reason == "场所未达标，暂不补助"
    assert subsidy.fund_entry_id is None
    with pytest.raises(Conflict) as err:
        subsidies.approve_subsidy(session, subsidy, policy=POLICY, actor=county["appr"])
    assert "未批准" in err.value.message


def test_a_form_shown_before_someone_else_decided_is_refused(session, county, inspect):
    subsidy = _subsidy(session, inspect())
    seen = subsidy.version
    subsidies.refuse_subsidy(session, subsidy, "重复申报", actor=county["appr"])
    session.commit()
    with pytest.raises(Conflict) as err:
        subsidies.approve_subsidy(
            session, subsidy, version=seen, policy=POLICY, actor=county["dep"]
        )
    assert "刚被他人处理" in err.value.message


def test_a_booking_date_before_the_inspection_or_in_the_future_is_refused(session, county, inspect):
    subsidy = _subsidy(session, inspect())
    for booked in ("2022-10-01", "2999-01-01", "not a date"):
        with pytest.raises(DomainError) as err:
            subsidies.approve_subsidy(
                session, subsidy, booked_on=booked, policy=POLICY, actor=county["appr"]
            )
        assert err.value.field == "booked_on"
        session.rollback()


def test_the_proposed_amount_follows_its_inspection_until_decided(session, county, inspect):
    inspection = inspect()
    subsidy = _subsidy(session, inspection)
    inspection.subsidy = Decimal("15000.00")
    subsidies.follow_inspection(session, inspection, actor=county["rec"])
    session.commit()
    assert subsidy.amount == Decimal("15000.00")
    subsidies.approve_subsidy(session, subsidy, policy=POLICY, actor=county["appr"])
    session.commit()
    inspection.subsidy = Decimal("18000.00")
    with pytest.raises(Conflict) as err:
        subsidies.follow_inspection(session, inspection, actor=county["rec"])
    assert err.value.field == "subsidy"
    session.rollback()
    assert subsidy.amount == Decimal("15000.00")
    # a proposal whose inspection no longer writes a subsidy is withdrawn
    other = inspect("ST", "9000.00")
    other.subsidy = Decimal("0.00")
    assert subsidies.follow_inspection(session, other, actor=county["rec"]) is None
    session.commit()
    assert _subsidy(session, other) is None
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "subsidy.withdraw"))


def test_totals_by_town_and_year_within_reach(session, county, inspect):
    paid = _subsidy(session, inspect("CB", "12000.00"))
    inspect("CB", "5000.00")
    refused = _subsidy(session, inspect("CB", "7000.00"))
    inspect("ST", "30000.00", on=date(2021, 12, 1))
    subsidies.approve_subsidy(session, paid, policy=POLICY, actor=county["appr"])
    subsidies.refuse_subsidy(session, refused, "重复", actor=county["appr"])
    session.commit()
    rows, by_year = subsidies.totals(session, None)
    got = {(t.unit.code, t.year): (t.approved, t.proposed) for t in rows}
    assert got == {
        ("CB", 2022): (Decimal("12000.00"), Decimal("5000.00")),
        ("ST", 2021): (Decimal("0.00"), Decimal("30000.00")),
    }
    assert [(y.year, y.approved, y.proposed) for y in by_year] == [
        (2022, Decimal("12000.00"), Decimal("5000.00")),
        (2021, Decimal("0.00"), Decimal("30000.00")),
    ]
    rows, _ = subsidies.totals(session, {county["CB"].id}, year=2021)
    assert rows == []
    assert subsidies.years(session, None) == [2022, 2021]


# ---------------------------------------------------------------- pages


def test_the_page_shows_totals_and_lets_command_staff_decide(
    session, county, inspect, login, client
):
    inspect("ST", "30000.00")
    subsidy = _subsidy(session, inspect("CB", "12000.00"))
    login("appr")
    page = client.get("/subsidies/").get_data(as_text=True)
    assert "城北街道" in page and "石塘镇" in page and "42,000.00" in page
    assert f'action="/subsidies/{subsidy.id}/approve' in page
    # a refusal without a reason changes nothing and says why
    response = post_form(client, f"/subsidies/{subsidy.id}/refuse", {"reason": ""})
    assert response.status_code == 303
    session.expire_all()
    assert subsidy.status == "proposed"
    page = client.get(response.location).get_data(as_text=True)
    assert "请填写不予批准的理由" in page
    response = post_form(
        client,
        f"/subsidies/{subsidy.id}/approve",
        {"decision": "", "booked_on": "2022-12-20", "version": str(subsidy.version)},
    )
    assert response.status_code == 303
    session.expire_all()
    assert subsidy.status == "approved" and subsidy.fund_entry.booked_on == date(2022, 12, 20)
    page = client.get("/subsidies/?year=2022").get_data(as_text=True)
    assert "已批准第" in page and 'id="total-2022"' in page


def test_the_page_reads_in_english(session, county, inspect, login, client):
    inspect("CB", "60000.00", actor="cbclerk")
    login("appr")
    post_form(client, "/language", {"lang": "en", "next": "/"})
    page = client.get("/subsidies/").get_data(as_text=True)
    for words in ("Subsidies by town and year", "Approve and pay", "Needs a collective decision"):
        assert words in page
    assert "避灾安置场所补助" not in page and "批准并拨付" not in page


def test_a_town_clerk_sees_its_own_town_only_and_no_forms(session, county, inspect, login, client):
    inspect("ST", "30000.00")
    inspect("CB", "12000.00", actor="cbclerk")
    login("cbclerk")
    response = client.get("/subsidies/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "城北街道" in page and "石塘镇" not in page and "12,000.00" in page
    assert "/approve" not in page
    # asking for the other town by code shows nothing of it
    page = client.get("/subsidies/?unit=ST").get_data(as_text=True)
    assert "不在您的管辖范围内" in page and "30,000.00" not in page


def test_the_totals_download_as_csv_and_xlsx(session, county, inspect, login, client):
    inspect("CB", "12000.00")
    login("appr")
    response = client.get("/subsidies/?format=csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "年度" and ["2022", "城北街道", "CB", "0.00", "12000.00"] in rows
    assert rows[-1][:2] == ["2022", "合计"]
    response = client.get("/subsidies/?format=xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "年度" and values[1][1] == "城北街道"


# ---------------------------------------------------------------- API


def test_the_api_lists_approves_and_refuses(session, county, inspect, decide, api, make_token):
    big = _subsidy(session, inspect("CB", "60000.00"))
    small = _subsidy(session, inspect("ST", "8000.00"))
    token = api(make_token(county["appr"]))
    body = token.get("/api/v1/subsidies?unit=CB&year=2022").get_json()
    assert [r["id"] for r in body["rows"]] == [big.id]
    row = body["rows"][0]
    assert row["unit"] == "CB" and row["amount"] == "60000.00" and row["status"] == "proposed"
    assert row["site"] == "城北街道文化礼堂" and row["proposed_by"] == "rec"
    assert body["totals"] == [
        {"unit": "CB", "year": 2022, "approved": "0.00", "proposed": "60000.00"}
    ]
    # without a decision: 409 naming it, nothing changed
    response = token.post(f"/api/v1/subsidies/{big.id}/approve", json={})
    assert response.status_code == 409 and "集体决策" in response.get_json()["error"]["message"]
    session.expire_all()
    assert big.status == "proposed"
    entry = decide("507800.00")
    response = token.post(
        f"/api/v1/subsidies/{big.id}/approve",
        json={"decision": entry.id, "booked_on": "2022-12-20"},
    )
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["status"] == "approved" and answer["decision"] == entry.id
    assert answer["fund_entry"] and answer["decided_by"] == "appr"
    response = token.post(f"/api/v1/subsidies/{small.id}/refuse", json={"reason": "未达标"})
    assert response.status_code == 200 and response.get_json()["status"] == "refused"
    body = token.get("/api/v1/subsidies?year=2022").get_json()
    assert body["totals"] == [
        {"unit": "CB", "year": 2022, "approved": "60000.00", "proposed": "0.00"}
    ]


def test_the_api_refuses_bad_input_without_a_server_error(
    session, county, inspect, api, make_token
):
    subsidy = _subsidy(session, inspect("CB", "8000.00"))
    token = api(make_token(county["appr"]))
    url = f"/api/v1/subsidies/{subsidy.id}/approve"
    for payload, status in [
        ({"decision": "x"}, 422),
        ({"decision": True}, 422),
        ({"decision": 2**70}, 404),
        ({"decision": 99999}, 404),
        ({"booked_on": "2022-13-01"}, 422),
        ({"booked_on": 5}, 422),
        ({"version": subsidy.version + 1}, 409),
    ]:
        response = token.post(url, json=payload)
        assert response.status_code == status, (payload, response.get_json())
        assert "error" in response.get_json()
    assert token.post(f"/api/v1/subsidies/{subsidy.id}/refuse", json={}).status_code == 422
    assert token.post("/api/v1/subsidies/999999/approve", json={}).status_code == 404
    assert token.get("/api/v1/subsidies?year=abc").status_code in (400, 422)
    assert token.get("/api/v1/subsidies?unit=NOPE").status_code == 404
    session.expire_all()
    assert subsidy.status == "proposed"


def test_an_inspection_recorded_through_the_api_proposes_its_subsidy(
    session, county, api, make_token
):
    token = api(make_token(county["cbclerk"]))
    site = county["sites"]["CB"]
    response = token.post(
        f"/api/v1/shelters/{site.id}/inspections",
        json={"inspected_on": "2022-11-02", "checklist": ALL_PASS, "subsidy": "25800.00"},
    )
    assert response.status_code == 201, response.get_json()
    body = token.get("/api/v1/subsidies").get_json()
    assert [
        (r["unit"], r["year"], r["amount"], r["status"], r["proposed_by"]) for r in body["rows"]
    ] == [("CB", 2022, "25800.00", "proposed", "cbclerk")]
    assert body["rows"][0]["inspection"] == response.get_json()["id"]


def test_another_bureau_finds_nothing(session, county, inspect, api, make_token):
    subsidy = _subsidy(session, inspect("CB", "8000.00"))
    token = api(make_token(county["othercmd"]))
    assert token.post(f"/api/v1/subsidies/{subsidy.id}/approve", json={}).status_code == 404
    assert (
        token.post(f"/api/v1/subsidies/{subsidy.id}/refuse", json={"reason": "x"}).status_code
        == 404
    )
    assert token.get("/api/v1/subsidies").get_json() == {
        "rows": [],
        "totals": [],
        "next_cursor": None,
    }
    assert token.get("/api/v1/subsidies?unit=CB").status_code == 404
    clerk = api(make_token(county["cbclerk"]))
    assert clerk.post(f"/api/v1/subsidies/{subsidy.id}/approve", json={}).status_code == 403


# ---------------------------------------------------------------- demo


def test_the_demo_pays_the_towns_50_78_wan_against_wenlings_decision(session):
    """The report's year-end subsidies (50.78万元 to the towns) are approved against one
    collective decision of Wenling's leadership group and paid from its fund. The demo
    counts back from today, so their year is that of its year-end inspections."""
    from readiness import demo

    demo.load(session)
    session.commit()
    rows, by_year = subsidies.totals(session, None)
    assert sum(y.approved for y in by_year) == Decimal("507800.00")
    assert all(y.proposed == 0 for y in by_year)
    assert len({t.unit.code for t in rows}) > 1
    if len(by_year) == 1:  # unless the inspections straddle New Year
        assert subsidies.wan(by_year[0].approved) == "50.78"
    for y in by_year:
        entry = session.scalar(
            select(Decision).where(Decision.subject == f"{y.year}年度避灾安置场所补助资金")
        )
        assert entry.amount == y.approved == decisions.used_amount(session, entry.id)
        assert [a.user.username for a in entry.attendees] == ["wl-deputy", "wl-deputy2", "wl-chief"]
        assert {a.position for a in entry.attendees} == {"agree"}
    paid = session.scalars(select(Subsidy)).all()
    assert paid and all(s.status == "approved" and s.fund_entry_id for s in paid)
    assert all(s.decided_by_id != s.proposed_by_id for s in paid)
    wl = session.scalar(select(Decision.unit_id).where(Decision.subject.like("%避灾安置场所补助%")))
    assert fund.balance(session, wl) >= 0

    def counts():
        return [
            session.scalar(select(func.count()).select_from(m))
            for m in (Subsidy, FundEntry, Decision)
        ]

    before = counts()
    demo.load(session)
    session.commit()
    assert counts() == before
