"""The shelter coverage file names the scope it covers: a unit outside the caller's reach is
not printed as the scope of a report that only holds the caller's own towns."""

import pytest

from tests.pdfcheck import pdf_text


@pytest.fixture
def tokens(county, make_token):
    return {k: make_token(county[k]) for k in ("cmd", "cb_clerk")}


@pytest.mark.parametrize("unit", ["WL", "ST"])
def test_a_unit_outside_the_clerks_reach_is_not_the_files_scope(api, tokens, unit):
    pdf = api(tokens["cb_clerk"]).get(f"/api/v1/reports/shelter-coverage?format=pdf&unit={unit}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    content = pdf_text(pdf.data)
    assert "统计范围" not in content
    assert "温岭市应急管理局" not in content and "石塘镇" not in content


def test_a_unit_in_reach_is_named_as_the_scope(api, tokens):
    own = api(tokens["cb_clerk"]).get("/api/v1/reports/shelter-coverage?format=pdf&unit=CB")
    assert "统计范围：城北街道" in pdf_text(own.data)
    town = api(tokens["cmd"]).get("/api/v1/reports/shelter-coverage?format=pdf&unit=ST")
    assert "统计范围：石塘镇" in pdf_text(town.data)
