"""The package ZIP's manifest.csv is written with safe cells: a file name that looks like a
formula opens in Excel as text."""

from __future__ import annotations

import csv
import io
import zipfile

from drills import package_zip
from tests.drills.test_package import app_config, build, pkg_storage, world  # noqa: F401


def test_a_formula_like_file_name_is_text_in_the_manifest(app, session, world):  # noqa: F811
    world["sign_in"].filename = '=HYPERLINK("http://x")签到表.pdf'
    session.commit()
    data, pdf = build(session, world)
    archive = zipfile.ZipFile(io.BytesIO(package_zip.package_zip(data, pdf, pkg_storage(app))))
    rows = list(csv.reader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    [row] = [r for r in rows if "签到表" in r[4]]
    assert row[4] == '\'=HYPERLINK("http://x")签到表.pdf'
    assert row[-1] == "正常"  # the file itself is still found and checked
