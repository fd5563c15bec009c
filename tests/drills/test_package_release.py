"""A package download lets its drills go as the PDF prints them: the same PDF, the same ZIP."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from drills import package as pkg
from drills import package_pdf, package_zip, requirements
from tests.drills.test_package import TODAY, YEAR, pdf_text, pkg_storage, world  # noqa: F401

WHEN = datetime(2022, 10, 1, 9, 30)


def _pdf(session, world, data, **kw):  # noqa: F811
    return package_pdf.package_pdf(
        data,
        kinds=requirements.drill_kinds(session),
        generated_at=WHEN,
        generated_by=world["insp"],
        **kw,
    )


def test_a_released_package_prints_the_same_and_holds_no_drill_after(session, world):  # noqa: F811
    kept = pkg.package_data(session, world["daye"], *YEAR, today=TODAY)
    released = pkg.package_data(session, world["daye"], *YEAR, today=TODAY)
    assert len(released.drills) == 2
    same = _pdf(session, world, kept)
    let_go = _pdf(session, world, released, release=True)
    assert pdf_text(let_go) == pdf_text(same)
    assert "最小作战单元夜间拉动" in pdf_text(let_go)
    assert released.drills == []
    assert len(kept.drills) == 2  # without release the data stays whole


def test_the_zip_plan_taken_first_makes_the_same_zip(app, session, world):  # noqa: F811
    data = pkg.package_data(session, world["daye"], *YEAR, today=TODAY)
    pdf = _pdf(session, world, data)
    whole = zipfile.ZipFile(io.BytesIO(package_zip.package_zip(data, pdf, pkg_storage(app))))
    plan = package_zip.zip_plan(data)
    _pdf(session, world, data, release=True)
    planned = zipfile.ZipFile(io.BytesIO(package_zip.write_zip(plan, pdf, pkg_storage(app))))
    assert planned.namelist() == whole.namelist()
    assert len(planned.namelist()) > 2  # the PDF, the manifest and stored files
    for name in whole.namelist():
        assert planned.read(name) == whole.read(name), name
