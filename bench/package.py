"""The drill inspection package's preview page (/drills/package) for the whole city.

    python -m bench.package [--backend sqlite|postgresql|both] [--db PATH] [--movements N]
                            [--drills N] [--runs N]

The preview reads no movements: a small inventory (50,000 movements by default) and the
usual 10,000 drills are enough. The SQLite data set is kept at ``--db`` (default
bench/results/package.db) and reused while it exists; PostgreSQL builds into a throw-away
server each time. ``package_figures`` is what ``make bench`` may call on its own data set.
"""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path

from bench.timing import get_ok, median_ms, report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "measure-9-Readiness"
_DRILLS = re.compile(r"<dt>[^<]*</dt><dd>(\d[\d,]*)")
_NEXT = re.compile(r"[?&](?:amp;)?after=(\d+)")


def package_figures(
    app,
    db,
    headers: dict,
    today: date,
    runs: int,
    *,
    username: str = "bench",
    password: str = PASSWORD,
) -> list[tuple[str, str]]:
    """The preview page of the top unit's package for this year, as command staff see it:
    each request in a fresh app context, as in production. ``headers`` (the API's bearer
    token) are not needed by the page, which signs in with ``username`` and ``password``."""
    from bench.drills import _login
    from readiness.models import Unit

    with app.app_context():
        code = db.session.get(Unit, 1).code
        db.session.remove()
    client = _login(app, username, password)
    path = f"/drills/package?unit={code}&from={today.year}-01-01&to={today.year}-12-31"
    run = get_ok(app, client, path)
    page = run().get_data(as_text=True)
    held = _DRILLS.search(page)
    figures = [
        (
            f"drill package preview page, {code} ({held.group(1) if held else '?'} drills, "
            f"{len(page) / 1e3:.0f} kB)",
            "",
        ),
        (
            "drill package preview page, command (this year)",
            "median {:.0f} ms (max {:.0f})".format(*median_ms(run, runs)),
        ),
    ]
    # A page further on (the tenth, when the preview is paged): its cursor costs no more.
    for _n in range(9):
        after = _NEXT.search(page)
        if after is None:
            break
        page = get_ok(app, client, f"{path}&after={after.group(1)}")().get_data(as_text=True)
    else:
        run = get_ok(app, client, f"{path}&after={after.group(1)}")
        figures.append(
            (
                "drill package preview page, command (this year), tenth page",
                "median {:.0f} ms (max {:.0f})".format(*median_ms(run, runs)),
            )
        )
    return figures


def _figures(url: str, runs: int) -> list[tuple[str, str]]:
    from bench.downloads import USERNAME, ensure_user
    from readiness import create_app
    from readiness.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    ensure_user(app, db)
    try:
        return package_figures(app, db, {}, date.today(), runs, username=USERNAME)
    finally:
        with app.app_context():
            db.engine.dispose()


def run(backend: str, args) -> list[tuple[str, str]]:
    from bench.downloads import built_database

    with built_database(backend, Path(args.db), args.movements, args.drills) as url:
        return _figures(url, args.runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--db", default=str(RESULTS / "package.db"))
    parser.add_argument("--movements", type=int, default=50_000)
    parser.add_argument("--drills", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    report(
        "Readiness drill package preview",
        backends,
        lambda backend: run(backend, args),
        Path(args.db).with_suffix(".md"),
    )


if __name__ == "__main__":
    main()
