"""Every shelter page in English, with ASCII data, shows no Chinese (punctuation included)."""

from datetime import date

from readiness.permissions import SYSTEM
from shelters import inspections, places, sites
from tests.conftest import post_form
from tests.readiness.test_i18n import CJK
from tests.shelters.conftest import ALL_PASS, backdate


def test_shelter_pages_in_english_show_no_chinese(session, make_unit, make_user, login):
    hq = make_unit("HQ", name="County Bureau", kind="bureau")
    town = places.save_town(
        session,
        code="NT",
        name="North Town",
        parent=hq,
        villages=[
            places.VillageInput("Hill", 900, 80),
            places.VillageInput("Bay", 400, 300, "community"),
        ],
        actor=SYSTEM,
    ).town
    site = sites.create_shelter(
        session,
        sites.ShelterInput(
            name="School Hall",
            town=town,
            level="town",
            capacity=90,
            area_m2="100",
            is_standardized=True,
            standardized_on=date(2022, 5, 1),
            is_in_floodplain=True,
            villages=["Hill", "Bay"],
        ),
        actor=SYSTEM,
    )
    backdate(session, site)
    # the town has nobody of its own: its defects' actions go to the bureau's command staff
    make_user("boss", "command", hq, name="Boss")
    inspections.record_inspection(
        session,
        site,
        inspected_on=date(2023, 3, 1),
        inspector="Team A",
        checklist={**ALL_PASS, "signage": "fail"},
        defects=[inspections.DefectInput("No signs"), inspections.DefectInput("Lamp broken", True)],
        subsidy="1200.50",
        actor=SYSTEM,
    )
    session.commit()
    client = login("boss")
    post_form(client, "/language", {"lang": "en", "next": "/"})
    pages = [
        "/shelters/",
        "/shelters/?target=abc",
        "/shelters/sites",
        "/shelters/sites?attention=1&overdue=1",
        f"/shelters/sites/{site.id}",
        f"/shelters/sites/{site.id}/edit",
        f"/shelters/sites/{site.id}/inspections/new",
        "/shelters/sites/new",
        "/shelters/towns",
        "/shelters/towns/NT",
        "/shelters/import",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True).replace('lang="zh-CN">中文<', "")
        leftover = CJK.findall(html)
        assert not leftover, f"{path}: {''.join(leftover)[:80]}"

    # the refusals of an inspection are English too, the missing items named in English
    new = f"/shelters/sites/{site.id}/inspections/new"
    refused = post_form(client, new, {"inspected_on": "2023-03-02", "inspector": "Team B"})
    html = refused.get_data(as_text=True).replace('lang="zh-CN">中文<', "")
    assert refused.status_code == 200 and not CJK.findall(html)
    assert "not answered: Safe siting (away from geohazard spots and flood zones)" in html
    early = post_form(
        client, new, {"inspected_on": "1990-01-01", **{f"check-{k}": "na" for k in ALL_PASS}}
    )
    html = early.get_data(as_text=True).replace('lang="zh-CN">中文<', "")
    assert "cannot be before the site was registered (2020-01-01)" in html
    assert not CJK.findall(html)
