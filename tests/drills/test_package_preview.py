"""The package page's preview counts in the database and lists the drills a page at a time:
every figure it shows is what the PDF and the ZIP will hold, the pages walk every drill once
in the package's order, and it costs the same few queries however many drills there are."""

from __future__ import annotations

import re
from datetime import date, time

import pytest

from drills import package as pkg
from drills import package_zip, records
from drills.models import Attachment
from readiness.models import Unit, User
from readiness.permissions import SYSTEM
from tests.drills.test_package import (  # noqa: F401
    TODAY,
    YEAR,
    app_config,
    build,
    pdf_text,
    pkg_storage,
    world,
)
from tests.test_query_counts import _queries

PAGE = "/drills/package?unit={unit}&from=2022-01-01&to=2022-12-31"


def _more_drills(session, world, n: int, *, first: int = 0) -> None:  # noqa: F811
    """``n`` more held drills of the squad, the station taking part, several on one day with
    and without a start time, each with a finding, its action and a file."""
    squad = session.get(User, world["owner2"].id).unit
    daye = session.get(Unit, world["daye"].id)
    owner = session.get(User, world["owner2"].id)
    starts = [None, time(8, 0), time(14, 0), time(8, 0)]
    for k in range(first, first + n):
        drill = records.create_drill(
            session,
            title=f"加练 {k}",
            kind="tabletop",
            held_on=date(2022, 3, 1 + k // 4),
            start_time=starts[k % 4],
            end_time=starts[k % 4] and time(starts[k % 4].hour + 2, 0),
            lead_unit=squad,
            units=[daye],
            participants=k + 1,
            findings=[records.FindingInput(f"问题 {k}", owner=owner, due_on=date(2022, 5, 1))],
            actor=SYSTEM,
            today=TODAY,
        )
        session.add(
            Attachment(
                drill=drill,
                kind="photo",
                filename=f"照片{k}.jpg",
                content_type="image/jpeg",
                size_bytes=1,
                sha256=f"{k:064x}",  # never stored: missing
            )
        )
    session.commit()


def _figures_of_the_package(app, data) -> dict:
    """The figures as the PDF and the ZIP hold them, from the full build."""
    actions = data.actions
    missing = package_zip.missing_files(data, pkg_storage(app))
    return {
        "held": len(data.drills),
        "planned": data.planned,
        "participants": sum(d.participants for d in data.drills),
        "actions": pkg.action_counts(actions),
        "action_total": len(actions),
        "overdue": sum(1 for a in actions if pkg.is_overdue(a, data.today)),
        "attachments": len(data.attachments),
        "missing": len(missing),
        "missing_names": [a.filename for a in missing][: pkg.MISSING_NAMES],
    }


def _figures_of_the_preview(preview) -> dict:
    return {name: getattr(preview, name) for name in _FIGURES}


_FIGURES = (
    "held",
    "planned",
    "participants",
    "actions",
    "action_total",
    "overdue",
    "attachments",
    "missing",
    "missing_names",
)


def _walk(session, app, unit, period=YEAR, page_size=3):
    """Every page of the preview, from the first on."""
    pages, after = [], None
    while True:
        preview = pkg.package_preview(
            session,
            unit,
            *period,
            storage_dir=pkg_storage(app),
            after=after,
            today=TODAY,
            page_size=page_size,
        )
        pages.append(preview)
        after = preview.next_after
        if after is None:
            return pages


@pytest.mark.parametrize("unit", ["daye", "ludian", "df", "owner2"])
def test_the_preview_shows_the_figures_the_package_holds(app, session, world, unit):  # noqa: F811
    _more_drills(session, world, 6)
    chosen = world[unit].unit if unit == "owner2" else world[unit]
    for period in (YEAR, (date(2020, 1, 1), date(2022, 12, 31)), (date(2022, 7, 1), YEAR[1])):
        data, _pdf = build(session, world, chosen, period)
        preview = pkg.package_preview(
            session, chosen, *period, storage_dir=pkg_storage(app), today=TODAY
        )
        assert _figures_of_the_preview(preview) == _figures_of_the_package(app, data)
        listed = {d.id: d for p in _walk(session, app, chosen, period) for d in p.drills}
        assert {d.id: pkg.action_counts(pkg.drill_actions(d)) for d in data.drills} == {
            i: d.actions for i, d in listed.items()
        }
        assert {d.id: (d.title, d.kind, d.lead_unit.name, d.participants) for d in data.drills} == {
            i: (d.title, d.kind, d.lead_unit, d.participants) for i, d in listed.items()
        }


def test_the_cover_of_the_pdf_agrees_with_the_preview(app, session, world):  # noqa: F811
    _more_drills(session, world, 5)
    _data, pdf = build(session, world)
    preview = pkg.package_preview(
        session, world["daye"], *YEAR, storage_dir=pkg_storage(app), today=TODAY
    )
    text = pdf_text(pdf)
    assert f"{preview.held}次" in text and f"尚未实施的演练{preview.planned}次" in text
    assert f"{preview.attachments}个（另见ZIP资料包）" in text


def test_the_pages_walk_every_drill_once_in_the_packages_order(app, session, world):  # noqa: F811
    _more_drills(session, world, 11)
    data = pkg.package_data(session, world["daye"], *YEAR, today=TODAY)
    for page_size in (1, 2, 3, 5, 50):
        pages = _walk(session, app, world["daye"], page_size=page_size)
        ids = [d.id for p in pages for d in p.drills]
        assert ids == [d.id for d in data.drills]  # same order, none twice, none left out
        assert [p.first for p in pages] == list(range(1, len(ids) + 1, page_size))
        assert all(len(p.drills) == page_size for p in pages[:-1]) and pages[-1].drills
    # Same day: 08:00 (two of them, by id), 14:00, then the one without a start time.
    march_1 = [d.title for d in data.drills if d.held_on == date(2022, 3, 1)]
    assert march_1 == ["加练 1", "加练 3", "加练 2", "加练 0"]


def test_the_page_lists_drills_a_page_at_a_time(app, session, world, login, monkeypatch):  # noqa: F811
    _more_drills(session, world, 5)
    monkeypatch.setattr(pkg, "PAGE_SIZE", 3)
    clerk = login("clerk1")
    data = pkg.package_data(session, world["daye"], *YEAR, today=TODAY)
    expected = [f'/drills/{d.id}"' for d in data.drills]
    seen, path, pages = [], PAGE.format(unit="DAYE"), 0
    while path:
        html = clerk.get(path).get_data(as_text=True)
        pages += 1
        # the figures are the whole package's on every page
        assert "共 7 次" in html and "整改事项</dt><dd>9 项" in html
        assert ("回到第一页" in html) == (pages > 1)
        seen += [f'/drills/{n}"' for n in re.findall(r'href="/drills/(\d+)"', html)]
        more = re.search(r'href="([^"]*after=\d+[^"]*)">下一页', html)
        path = more and more.group(1).replace("&amp;", "&")
    assert seen == expected and pages == 3
    assert "第 7–7 次，共 7 次" in html


def test_a_bad_cursor_is_refused_and_an_unknown_one_starts_over(app, session, world, login):  # noqa: F811
    clerk = login("clerk1")
    assert clerk.get(PAGE.format(unit="DAYE") + "&after=abc").status_code == 400
    html = clerk.get(PAGE.format(unit="DAYE") + "&after=999999").get_data(as_text=True)
    assert "第 1–2 次，共 2 次" in html


def test_missing_files_beyond_those_named_are_counted(app, session, world, login, monkeypatch):  # noqa: F811
    _more_drills(session, world, 3)
    monkeypatch.setattr(pkg, "MISSING_NAMES", 2)
    html = login("clerk1").get(PAGE.format(unit="DAYE")).get_data(as_text=True)
    assert "其中 4 个文件缺失" in html
    # in the package's order: 1 March at 08:00, at 14:00, then the lost photo of September
    assert "照片1.jpg、照片2.jpg……等 4 个" in html


def test_the_preview_costs_the_same_queries_however_many_drills(app, session, world, login):  # noqa: F811
    client = login("cmd1")
    path = PAGE.format(unit="DF")
    _more_drills(session, world, 3)
    before = _queries(app, client, path)
    after_id = pkg.package_preview(
        session, world["df"], *YEAR, storage_dir=pkg_storage(app), today=TODAY, page_size=2
    ).next_after
    next_page = _queries(app, client, f"{path}&after={after_id}")
    _more_drills(session, world, 60, first=3)
    assert _queries(app, client, path) == before
    assert _queries(app, client, f"{path}&after={after_id}") == next_page
