"""A site counts as standardized only after command staff of its bureau accept it: towns ask,
command staff accept (with documents) or withdraw (with a reason); nobody marks a site
standardized by editing it; the coverage report counts accepted sites only; the coverage
target belongs to the unit that sets it. Service rules first, then the pages and the API."""

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from readiness.config import storage_dir
from readiness.errors import Conflict, DomainError, PermissionDenied
from readiness.models import AuditEntry, Unit
from shelters import acceptance, coverage, sites
from shelters.models import Acceptance, AcceptanceDocument, CoverageTarget, Shelter
from tests.conftest import csrf_token, post_form
from tests.shelters.conftest import REGISTERED_ON

TODAY = date.today()
PDF = b"%PDF-1.4\n% acceptance\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def n(session, model):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def audit_actions(session):
    return [a for (a,) in session.execute(select(AuditEntry.action).order_by(AuditEntry.id))]


def covered(session, town) -> int:
    report = coverage.coverage(session, Decimal("0.6"), unit_ids={town.id})
    return report.covered


@pytest.fixture
def people(county, make_user, make_unit):
    """Two command staff of the bureau, an inspector of it, the town's clerk."""
    return {
        **county,
        "cmd2": make_user("cmd2", "command", county["bureau"], name="李科员"),
        "insp": make_user("insp2", "inspector", county["bureau"]),
    }


@pytest.fixture
def site(session, county, make_site):
    """An active ordinary site of 城北 serving two villages, registered 2020-01-01."""
    return make_site(county["cb"], "横湖礼堂", ["横湖村", "双峰村"], capacity=600)


@pytest.fixture
def storage(app, tmp_path):
    return tmp_path / "attachments"


# ---------------------------------------------------------------- the service


def test_a_clerk_who_marks_a_site_standardized_is_refused_and_nothing_is_written(
    session, people, site
):
    before = (n(session, Shelter), n(session, Unit), n(session, AuditEntry))
    with pytest.raises(PermissionDenied) as err:
        sites.create_shelter(
            session,
            sites.ShelterInput(
                name="新礼堂",
                town=people["cb"],
                is_standardized=True,
                standardized_on=TODAY,
                villages=["上林村"],
            ),
            actor=people["cb_clerk"],
        )
    session.rollback()
    assert err.value.field == "is_standardized" and "指挥人员验收" in err.value.message
    assert (n(session, Shelter), n(session, Unit), n(session, AuditEntry)) == before
    # editing the site: the same refusal, the site stays as it was
    with pytest.raises(PermissionDenied):
        sites.update_shelter(
            session,
            site,
            sites.ShelterInput(
                name=site.name, town=people["cb"], capacity=600, is_standardized=True
            ),
            actor=people["cb_clerk"],
        )
    session.rollback()
    session.expire_all()
    assert session.get(Shelter, site.id).is_standardized is False
    assert covered(session, people["cb"]) == 0


def test_command_staff_are_pointed_to_the_acceptance_instead_of_the_flag(session, people):
    with pytest.raises(DomainError) as err:
        sites.create_shelter(
            session,
            sites.ShelterInput(
                name="新礼堂", town=people["cb"], is_standardized=True, standardized_on=TODAY
            ),
            actor=people["cmd"],
        )
    session.rollback()
    assert err.value.status == 422 and err.value.field == "is_standardized"
    assert "验收" in err.value.message
    assert n(session, Shelter) == 0


def test_sending_the_flag_as_it_is_changes_nothing_and_is_not_refused(session, people, site):
    """A client that sends back what it read (is_standardized false) is not refused."""
    sites.update_shelter(
        session,
        site,
        sites.ShelterInput(name=site.name, town=people["cb"], capacity=700, is_standardized=False),
        actor=people["cb_clerk"],
    )
    session.commit()
    assert site.capacity == 700 and site.is_standardized is False


def test_requested_then_accepted_by_command_staff_counts_for_coverage(
    session, people, site, storage
):
    clerk, cmd = people["cb_clerk"], people["cmd"]
    assert covered(session, people["cb"]) == 0
    acceptance.request_acceptance(session, site, note="检测报告已出具", actor=clerk)
    session.commit()
    assert site.acceptance_request is not None and not site.is_standardized
    assert covered(session, people["cb"]) == 0  # a request alone counts for nothing
    assert [a.shelter.name for a in acceptance.pending_requests(session, None)] == ["横湖礼堂"]

    row = acceptance.accept_shelter(
        session,
        site,
        accepted_on=TODAY - timedelta(days=2),
        note="房屋安全检测合格",
        documents=[acceptance.Upload("房屋安全检测报告.pdf", PDF)],
        storage_dir=storage,
        actor=cmd,
    )
    session.commit()
    assert row.status == "accepted" and row.accepted_by_id == cmd.id
    assert row.requested_by_id == clerk.id and row.request_note == "检测报告已出具"
    assert site.is_standardized and site.standardized_on == TODAY - timedelta(days=2)
    assert [d.filename for d in row.documents] == ["房屋安全检测报告.pdf"]
    stored = acceptance.document_path(storage, row.documents[0].sha256)
    assert stored.read_bytes() == PDF
    assert acceptance.pending_requests(session, None) == []
    assert covered(session, people["cb"]) == 2
    assert audit_actions(session)[-2:] == ["shelter.acceptance_request", "shelter.accept"]


def test_acceptance_withdrawn_with_a_reason_stops_counting_and_stays_in_history(
    session, people, site, storage
):
    cmd = people["cmd"]
    acceptance.accept_shelter(session, site, accepted_on=TODAY, actor=cmd, storage_dir=storage)
    session.commit()
    with pytest.raises(DomainError) as err:
        acceptance.withdraw_acceptance(session, site, reason="  ", actor=cmd)
    session.rollback()
    assert err.value.field == "reason"
    session.expire_all()
    assert session.get(Shelter, site.id).is_standardized
    with pytest.raises(PermissionDenied):
        acceptance.withdraw_acceptance(session, site, reason="x", actor=people["cb_clerk"])
    session.rollback()

    acceptance.withdraw_acceptance(
        session, site, reason="房屋安全鉴定为 C 级", actor=people["cmd2"]
    )
    session.commit()
    session.expire_all()
    site = session.get(Shelter, site.id)
    assert not site.is_standardized and site.standardized_on is None
    assert covered(session, people["cb"]) == 0
    (old,) = site.acceptances
    assert old.status == "withdrawn" and old.withdrawal_reason == "房屋安全鉴定为 C 级"
    assert old.withdrawn_by_id == people["cmd2"].id and old.accepted_on == TODAY
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "shelter.acceptance_withdraw")
    ).one()
    assert entry.before["is_standardized"] is True and entry.after["is_standardized"] is False
    # it may be accepted again later: a new row, the old one kept
    acceptance.accept_shelter(session, site, accepted_on=TODAY, actor=cmd, storage_dir=storage)
    session.commit()
    assert [a.status for a in site.acceptances] == ["accepted", "withdrawn"]


@pytest.mark.parametrize(
    ("who", "kwargs", "error", "field"),
    [
        ("cb_clerk", {}, PermissionDenied, None),  # towns ask; they do not accept
        ("insp", {}, PermissionDenied, None),
        ("other_clerk", {}, PermissionDenied, None),
        ("cmd", {"accepted_on": None}, DomainError, "accepted_on"),
        ("cmd", {"accepted_on": TODAY + timedelta(days=1)}, DomainError, "accepted_on"),
        ("cmd", {"accepted_on": REGISTERED_ON - timedelta(days=1)}, DomainError, "accepted_on"),
        (
            "cmd",
            {"documents": [acceptance.Upload("报告.pdf", b"MZ\x90\x00")]},
            DomainError,
            "files",
        ),
        ("cmd", {"documents": [acceptance.Upload("报告.pdf", PNG)]}, DomainError, "files"),
        ("cmd", {"documents": [acceptance.Upload("报告.pdf", b"")]}, DomainError, "files"),
        ("cmd", {"documents": [acceptance.Upload("报告.pdf", PDF * 100)]}, DomainError, "files"),
    ],
)
def test_a_refused_acceptance_changes_nothing(
    session, people, site, storage, who, kwargs, error, field
):
    before = (n(session, Acceptance), n(session, AcceptanceDocument), n(session, AuditEntry))
    args = {"accepted_on": TODAY, "documents": [], "storage_dir": storage, "max_bytes": 1000}
    with pytest.raises(error) as err:
        acceptance.accept_shelter(session, site, **{**args, **kwargs}, actor=people[who])
    session.rollback()
    assert err.value.field == field
    assert (
        n(session, Acceptance),
        n(session, AcceptanceDocument),
        n(session, AuditEntry),
    ) == before
    assert session.get(Shelter, site.id).is_standardized is False
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))


def test_the_requester_does_not_accept_their_own_request(session, people, site, storage):
    cmd = people["cmd"]
    acceptance.request_acceptance(session, site, actor=cmd)
    session.commit()
    with pytest.raises(PermissionDenied):
        acceptance.accept_shelter(session, site, accepted_on=TODAY, actor=cmd)
    session.rollback()
    acceptance.accept_shelter(
        session, site, accepted_on=TODAY, actor=people["cmd2"], storage_dir=storage
    )
    session.commit()
    assert site.is_standardized


def test_twice_accepted_or_requested_and_unfinished_sites_are_refused(
    session, people, site, make_site
):
    cmd, clerk = people["cmd"], people["cb_clerk"]
    acceptance.request_acceptance(session, site, actor=clerk)
    session.commit()
    with pytest.raises(Conflict):
        acceptance.request_acceptance(session, site, actor=clerk)
    session.rollback()
    acceptance.accept_shelter(session, site, accepted_on=TODAY, actor=cmd)
    session.commit()
    for call in (
        lambda: acceptance.accept_shelter(session, site, accepted_on=TODAY, actor=people["cmd2"]),
        lambda: acceptance.request_acceptance(session, site, actor=clerk),
    ):
        with pytest.raises(Conflict):
            call()
        session.rollback()
    building = make_site(people["cb"], "在建礼堂", status="construction")
    with pytest.raises(Conflict):
        acceptance.accept_shelter(session, building, accepted_on=TODAY, actor=cmd)
    session.rollback()
    # an accepted site cannot be turned back into a building site by an edit
    with pytest.raises(DomainError) as err:
        sites.update_shelter(
            session,
            site,
            sites.ShelterInput(name=site.name, town=people["cb"], status="construction"),
            actor=clerk,
        )
    session.rollback()
    assert err.value.field == "status"


def test_the_database_keeps_one_open_acceptance_and_a_reason_for_each_withdrawal(
    session, people, site
):
    acceptance.request_acceptance(session, site, actor=people["cb_clerk"])
    session.commit()
    now = "2026-01-01 00:00:00"
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO shelter_acceptances (shelter_id, status, request_note, accepted_on,"
                " accepted_at, note, withdrawal_reason) VALUES (:s, 'accepted', '',"
                " '2025-01-01', :now, '', '')"
            ),
            {"s": site.id, "now": now},
        )
    session.rollback()
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO shelter_acceptances (shelter_id, status, request_note, accepted_on,"
                " accepted_at, note, withdrawn_at, withdrawal_reason) VALUES (:s, 'withdrawn',"
                " '', '2025-01-01', :now, '', :now, '')"
            ),
            {"s": site.id, "now": now},
        )
    session.rollback()


def test_coverage_counts_an_acceptance_not_a_flag_set_behind_its_back(session, people, site):
    session.execute(
        update(Shelter)
        .where(Shelter.id == site.id)
        .values(is_standardized=True, standardized_on=TODAY)
    )
    session.commit()
    assert covered(session, people["cb"]) == 0


# ---------------------------------------------------------------- the coverage target


def test_the_nearest_units_target_applies_to_a_town(session, people, make_unit, make_user):
    bureau, cb, st = people["bureau"], people["cb"], people["st"]
    assert coverage.target_in_force(session, cb.id, 0.6).target == Decimal("0.6")
    coverage.set_target(session, bureau, "80%", actor=people["cmd"])
    session.commit()
    in_force = coverage.target_in_force(session, cb.id, 0.6)
    assert in_force.target == Decimal("0.8") and in_force.unit.code == "WL"
    # command staff of the town itself set their own: nearest wins, for that town only
    town_cmd = make_user("cbcmd", "command", cb)
    coverage.set_target(session, cb, "0.5", actor=town_cmd)
    session.commit()
    targets = coverage.town_targets(session, [cb.id, st.id], 0.6)
    assert targets == {cb.id: Decimal("0.5"), st.id: Decimal("0.8")}
    report, in_force = coverage.report_for(session, None, unit_id=bureau.id, default=0.6)
    assert report.target == Decimal("0.8")
    assert {t.town.code: t.target for t in report.towns} == {
        "CB": Decimal("0.5"),
        "ST": Decimal("0.8"),
    }
    # a "what if" target replaces them all for one report
    report, _ = coverage.report_for(
        session, None, unit_id=bureau.id, default=0.6, override=Decimal("0.9")
    )
    assert {t.target for t in report.towns} == {Decimal("0.9")}
    assert audit_actions(session).count("shelter.coverage_target") == 2


@pytest.mark.parametrize("raw", ["abc", "0", "250", "-1", True, "60.123%"])
def test_a_bad_target_is_refused_with_one_wording(session, people, raw):
    with pytest.raises(DomainError) as err:
        coverage.set_target(session, people["bureau"], raw, actor=people["cmd"])
    session.rollback()
    assert err.value.field == "target"
    assert "60 或 60%" in err.value.message and "0.6" in err.value.message
    assert n(session, CoverageTarget) == 0


def test_only_command_staff_set_a_target_and_only_for_their_reach(session, people):
    for who in ("cb_clerk", "insp"):
        with pytest.raises(PermissionDenied):
            coverage.set_target(session, people["bureau"], "70", actor=people[who])
        session.rollback()
    assert n(session, CoverageTarget) == 0


# ---------------------------------------------------------------- the API


@pytest.fixture
def tokens(people, make_token):
    return {k: make_token(people[k]) for k in ("cmd", "cmd2", "cb_clerk", "other_clerk", "insp")}


def site_body(**over):
    body = {"name": "城北文化礼堂", "town": "CB", "capacity": 400, "villages": ["横湖村"]}
    return {**body, **over}


def test_api_refuses_a_clerks_flag_with_403_and_writes_nothing(api, tokens, session, site):
    clerk = api(tokens["cb_clerk"])
    r = clerk.post("/api/v1/shelters", json=site_body(is_standardized=True))
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["error"]["field"] == "is_standardized"
    assert n(session, Shelter) == 1
    body = clerk.get(f"/api/v1/shelters/{site.id}").get_json()
    r = clerk.put(f"/api/v1/shelters/{site.id}", json={**body, "is_standardized": True})
    assert r.status_code == 403
    # what was read, sent back unchanged, is fine
    r = clerk.put(f"/api/v1/shelters/{site.id}", json={**body, "capacity": 650})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["is_standardized"] is False and r.get_json()["capacity"] == 650
    r = api(tokens["cmd"]).post("/api/v1/shelters", json=site_body(is_standardized=True))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "is_standardized"


def test_api_request_accept_with_documents_download_and_withdraw(
    api, tokens, session, site, client
):
    clerk, cmd = api(tokens["cb_clerk"]), api(tokens["cmd"])
    r = clerk.post(f"/api/v1/shelters/{site.id}/acceptance/request", json={"note": "请验收"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["acceptance_requested"] is True
    assert r.get_json()["acceptance_request"]["request_note"] == "请验收"
    # a town's clerk cannot accept
    r = clerk.post(f"/api/v1/shelters/{site.id}/acceptance", json={"accepted_on": str(TODAY)})
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/shelters/{site.id}/acceptance",
        headers=cmd.headers,
        data={
            "accepted_on": str(TODAY),
            "note": "验收合格",
            "files": [
                (io.BytesIO(PDF), "检测报告.pdf"),
                (io.BytesIO(PNG), "现场.png"),
            ],
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    assert got["is_standardized"] is True and got["standardized_on"] == str(TODAY)
    assert got["counts_for_coverage"] is True and got["acceptance_requested"] is False
    current = got["acceptance"]
    assert current["accepted_by"] == "王科长" and current["note"] == "验收合格"
    assert current["requested_by"] == "城北应急办"
    docs = {d["filename"]: d for d in current["documents"]}
    assert set(docs) == {"检测报告.pdf", "现场.png"}
    report = cmd.get("/api/v1/reports/shelter-coverage?unit=CB").get_json()
    assert report["overall"]["covered"] == 2

    # the documents: the town's clerk may read them, another town's clerk may not
    url = f"/api/v1/shelters/{site.id}/documents/{docs['检测报告.pdf']['id']}"
    r = clerk.get(url)
    assert r.status_code == 200 and r.data == PDF and r.mimetype == "application/pdf"
    assert api(tokens["other_clerk"]).get(url).status_code == 404
    other = f"/api/v1/shelters/{site.id}/documents/{docs['现场.png']['id'] + 100}"
    assert cmd.get(other).status_code == 404

    r = cmd.post(f"/api/v1/shelters/{site.id}/acceptance/withdraw", json={"reason": ""})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    r = api(tokens["cmd2"]).post(
        f"/api/v1/shelters/{site.id}/acceptance/withdraw", json={"reason": "指示牌缺失"}
    )
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert got["is_standardized"] is False and got["acceptance"] is None
    assert got["acceptances"][0]["status"] == "withdrawn"
    assert got["acceptances"][0]["withdrawal_reason"] == "指示牌缺失"
    report = cmd.get("/api/v1/reports/shelter-coverage?unit=CB").get_json()
    assert report["overall"]["covered"] == 0


def test_api_json_acceptance_and_its_refusals(api, tokens, session, site):
    cmd = api(tokens["cmd"])
    url = f"/api/v1/shelters/{site.id}/acceptance"
    r = cmd.post(url, json={"accepted_on": "2019-12-31"})  # before registration
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "accepted_on"
    r = cmd.post(url, json={"note": "x"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "accepted_on"
    r = cmd.post(url, json={"accepted_on": "2024-13-01"})
    assert r.status_code == 422
    assert n(session, Acceptance) == 0
    r = cmd.post(url, json={"accepted_on": "2024-05-01", "note": "补录"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["acceptance"]["accepted_on"] == "2024-05-01"
    assert cmd.post(url, json={"accepted_on": "2024-05-01"}).status_code == 409
    r = cmd.post(url, data=b"not json", content_type="text/plain")
    assert r.status_code == 400


def test_api_coverage_target_of_the_callers_unit(api, tokens, session, site):
    cmd = api(tokens["cmd"])
    r = cmd.put("/api/v1/coverage/target", json={"target": "75%"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"unit": "WL", "target": 0.75}
    report = cmd.get("/api/v1/reports/shelter-coverage").get_json()
    assert report["target"] == 0.75 and report["target_unit"] == "WL"
    assert {t["needed"] for t in report["towns"]} == {3, 2}  # ceil(0.75×4), ceil(0.75×2)
    report = cmd.get("/api/v1/reports/shelter-coverage?target=50").get_json()
    assert report["target"] == 0.5 and report["target_unit"] is None
    r = cmd.put("/api/v1/coverage/target", json={"target": 150})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "target"
    assert (
        api(tokens["cb_clerk"]).put("/api/v1/coverage/target", json={"target": 60}).status_code
        == 403
    )
    assert session.scalar(select(CoverageTarget.target)) == Decimal("0.75")


# ---------------------------------------------------------------- the pages


def test_pages_request_accept_with_a_file_download_and_withdraw(
    client, login, session, people, site
):
    login("cbclerk")
    page = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert "申请验收" in page and "验收通过" not in page
    r = post_form(client, f"/shelters/sites/{site.id}/acceptance/request", {"note": "改造完成"})
    assert r.status_code == 302
    post_form(client, "/logout")

    login("cmd1")
    listing = client.get("/shelters/sites").get_data(as_text=True)
    pending = listing[listing.index('id="pending"') : listing.index("</section>")]
    assert "横湖礼堂" in pending and "改造完成" in pending and "城北应急办" in pending
    assert "待验收" in listing[listing.index("shelters-sites") :]  # the site's row says so
    assert "1 个场所待验收。" in client.get("/shelters/").get_data(as_text=True)
    page = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert "验收通过" in page and "撤销验收" not in page
    # refused: a date before registration; what was typed stays, nothing is written
    r = client.post(
        f"/shelters/sites/{site.id}/acceptance",
        data={
            "csrf_token": csrf_token(client, f"/shelters/sites/{site.id}"),
            "accepted_on": "2019-01-01",
            "note": "意见",
        },
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "验收日期不能早于场所登记日期" in html and "意见" in html
    assert n(session, AcceptanceDocument) == 0 and not session.get(Shelter, site.id).is_standardized
    r = client.post(
        f"/shelters/sites/{site.id}/acceptance",
        data={
            "csrf_token": csrf_token(client, f"/shelters/sites/{site.id}"),
            "accepted_on": str(TODAY),
            "note": "合格",
            "files": [(io.BytesIO(PDF), "验收表.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    page = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    link = re.search(r'href="([^"]+/documents/\d+)">验收表.pdf</a>', page)
    assert link and "已验收" in page and "王科长" in page
    r = client.get(link.group(1))
    assert r.status_code == 200 and r.data == PDF
    # the request left the 待验收 list
    assert 'id="pending"' not in client.get("/shelters/sites").get_data(as_text=True)

    r = post_form(client, f"/shelters/sites/{site.id}/acceptance/withdraw", {"reason": ""})
    assert r.status_code == 200 and "请填写撤销验收的原因" in r.get_data(as_text=True)
    r = post_form(
        client, f"/shelters/sites/{site.id}/acceptance/withdraw", {"reason": "房屋出现裂缝"}
    )
    assert r.status_code == 302
    page = client.get(f"/shelters/sites/{site.id}").get_data(as_text=True)
    assert "房屋出现裂缝" in page and "未验收" in page
    # the document of the withdrawn acceptance is still listed and still served
    link = re.search(r'href="([^"]+/documents/\d+)">验收表.pdf</a>', page)
    assert link and client.get(link.group(1)).status_code == 200


def test_a_clerks_form_that_posts_the_flag_is_refused_with_403(
    client, login, session, people, site
):
    login("cbclerk")
    form = client.get(f"/shelters/sites/{site.id}/edit").get_data(as_text=True)
    assert 'name="is_standardized"' not in form and 'name="standardized_on"' not in form
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    data = {
        "name": site.name,
        "town": "CB",
        "level": "village",
        "status": "active",
        "structure": "frame",
        "capacity": "600",
        "version": version,
        "is_standardized": "y",
        "standardized_on": str(TODAY),
    }
    r = post_form(client, f"/shelters/sites/{site.id}/edit", data)
    assert r.status_code == 403 and "指挥人员验收" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Shelter, site.id).is_standardized is False


def test_a_document_is_served_only_to_whoever_may_see_the_site(
    client, login, session, people, site, storage, app
):
    row = acceptance.accept_shelter(
        session,
        site,
        accepted_on=TODAY,
        documents=[acceptance.Upload("报告.pdf", PDF)],
        storage_dir=storage_dir(),
        actor=people["cmd"],
    )
    session.commit()
    url = f"/shelters/sites/{site.id}/documents/{row.documents[0].id}"
    login("otherclerk")
    assert client.get(url).status_code == 404
    post_form(client, "/logout")
    login("insp2")
    assert client.get(url).status_code == 200


def test_command_staff_set_their_units_target_on_the_coverage_page(
    client, login, session, people, site
):
    login("cmd1")
    page = client.get("/shelters/").get_data(as_text=True)
    assert 'id="set-target"' in page and "（默认值）" in page
    r = post_form(client, "/shelters/target", {"target": "abc"})
    assert r.status_code == 200 and "60 或 60%" in r.get_data(as_text=True)
    r = post_form(client, "/shelters/target", {"target": "70%"})
    assert r.status_code == 302
    page = client.get("/shelters/").get_data(as_text=True)
    assert "覆盖率目标 70%，由温岭市应急管理局设定" in page
    assert session.scalar(select(CoverageTarget.target)) == Decimal("0.7")
