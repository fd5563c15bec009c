"""The shelter inspection form reports every error at once and keeps what was typed (issue 22)."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from shelters import inspections
from shelters.models import CHECKLIST, Inspection
from tests.shelters.test_views import _inspect


def test_every_error_of_the_form_is_reported_together(client, login, session, county, make_site):
    site = make_site(county["cb"], "礼堂", is_standardized=True)
    login("cbclerk")
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    nothing = {f"check-{k}": None for k in CHECKLIST}
    response = _inspect(
        client,
        site.id,
        defect="屋顶漏水",
        **nothing,
        inspected_on=tomorrow,
        subsidy="五百",
        rotated_qty="-3",
        **{"defect-1": "门锁损坏", "due-1": yesterday},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # each refusal is shown beside its own field, all in the one answer
    assert "检查日期不能晚于今天。" in page
    assert "每个检查项都须选择合格、不合格或不适用" in page
    assert "第 2 个问题：完成时限不能早于今天。" in page
    assert "补助资金" in page.split('id="subsidy"')[1].split("</div>")[0]
    assert page.count('class="error"') >= 5
    # what was typed is kept
    assert 'value="五百"' in page and 'value="-3"' in page and 'value="门锁损坏"' in page
    assert f'value="{tomorrow}"' in page and f'value="{yesterday}"' in page
    assert session.scalar(select(func.count()).select_from(Inspection)) == 0


def test_the_service_names_every_problem_with_its_field(session, county, make_site, make_user):
    site = make_site(county["cb"], "礼堂", is_standardized=True)
    clerk = session.merge(make_user("cbclerk2", "clerk", county["cb"]))
    with pytest.raises(inspections.InspectionRefused) as refused:
        inspections.record_inspection(
            session,
            site,
            inspected_on=None,
            checklist=dict.fromkeys(CHECKLIST, "pass"),
            defects=[inspections.DefectInput(""), inspections.DefectInput("漏水")],
            subsidy="五百",
            replenished_qty="很多",
            actor=clerk,
        )
    fields = [field for field, _message in refused.value.problems]
    assert fields == ["inspected_on", "defects", "replenished_qty", "subsidy"]
    assert "第 1 个问题" in refused.value.problems[1][1]
    assert session.scalar(select(func.count()).select_from(Inspection)) == 0
