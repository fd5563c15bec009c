"""The big downloads, each in a fresh process so its peak memory is its own.

    python -m bench.downloads [--backend sqlite|postgresql|both] [--movements N] [--drills N]
    python -m bench.downloads one KIND --db URL      (the child: one download, one JSON line)

The SQLite data set is kept in bench/results/downloads.db and reused while it exists (delete
it to build a new one); PostgreSQL builds into a throw-away server each time. ``make bench``
calls ``download_figures`` on the data set it has just built.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from bench.timing import report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
USERNAME = "bench-downloads"
PASSWORD = "measure-9-Readiness"


def _paths(today: date) -> dict[str, tuple[str, str]]:
    """What each download is called in the figures, and the page that serves it."""
    year_ago = today - timedelta(days=365)
    return {
        "shortfall-pdf": ("all-units shortfall PDF", "/reports/shortfall?format=pdf"),
        "package-pdf": (
            "bureau's drill inspection package PDF (this year)",
            "/drills/package?unit=CITY&format=pdf",
        ),
        "package-zip": (
            "bureau's drill inspection package ZIP (this year)",
            "/drills/package?unit=CITY&format=zip",
        ),
        "ledger-csv": (
            "city ledger CSV (last 365 days)",
            f"/ledger?format=csv&date_from={year_ago.isoformat()}&date_to={today.isoformat()}",
        ),
    }


KINDS = list(_paths(date.today()))


def ensure_user(app, db) -> None:
    """A command user above every unit (reaches the whole city), made once per data set."""
    from sqlalchemy import select

    from readiness import services
    from readiness.models import Unit, User
    from readiness.permissions import SYSTEM

    with app.app_context():
        if db.session.scalar(select(User).where(User.username == USERNAME)) is None:
            services.create_user(
                db.session,
                username=USERNAME,
                password=PASSWORD,
                role="command",
                # the city, the top unit: its command staff reach every unit
                unit=db.session.get(Unit, 1),
                actor=SYSTEM,
            )
            db.session.commit()
        db.session.remove()


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    ``/proc/self/status`` VmHWM is the peak of this program's own memory. On Linux
    ``getrusage(RUSAGE_SELF).ru_maxrss`` also counts the parent's peak when the child was
    started (the parent's image is what exec replaced), so it is the fallback only."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(kind: str, url: str) -> dict:
    """One download through the test client as command staff: time, CPU, peak RSS, size."""
    from bench.drills import _login
    from readiness import create_app

    name, path = _paths(date.today())[kind]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    client = _login(app, USERNAME, PASSWORD)
    rss_before = peak_rss_mb()
    cpu0, t0 = time.process_time(), time.perf_counter()
    with app.app_context():
        response = client.get(path)
        size = sum(len(chunk) for chunk in response.iter_encoded())  # drains a streamed body too
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "kind": kind,
        "name": name,
        "status": response.status_code,
        "bytes": size,
        "wall_s": wall,
        "cpu_s": cpu,
        # the peak of the whole process, which did only this
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }


def download_figures(url: str, kinds: list[str] | None = None) -> list[tuple[str, str]]:
    """Each download in its own child process; the figures as (measure, value) pairs."""
    from readiness import create_app
    from readiness.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    ensure_user(app, db)
    with app.app_context():
        db.engine.dispose()
    figures = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for kind in kinds or KINDS:
        done = subprocess.run(
            [sys.executable, "-m", "bench.downloads", "one", kind, "--db", url],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"download {kind} failed:\n{done.stderr[-3000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        if r["status"] != 200:
            # Printed, not fatal: the other downloads are still worth measuring.
            figures.append((f"download: {r['name']}", f"HTTP {r['status']} (failed)"))
            print(f"  {figures[-1][0]:<58} {figures[-1][1]}", flush=True)
            continue
        figures.append(
            (
                f"download: {r['name']} ({r['bytes'] / 1e6:.1f} MB)",
                f"{r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB (app loaded: {r['rss_before_mb']:.0f} MB)",
            )
        )
        print(f"  {figures[-1][0]:<58} {figures[-1][1]}", flush=True)
    return figures


def build_data(url: str, movements: int, drills: int) -> None:
    """Migrate and fill an empty database with the city-scale inventory and drills."""
    from flask_migrate import upgrade

    from bench.dataset import Sizes, build
    from bench.drills import build_drills
    from readiness import create_app
    from readiness.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    with app.app_context():
        upgrade()
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            made = build(conn, Sizes(movements=movements))
        with db.engine.begin() as conn:
            made |= build_drills(conn, drills=drills, today=date.today())
        print(
            f"  built in {time.perf_counter() - t0:.0f} s: "
            + ", ".join(f"{v:,} {k}" for k, v in made.items()),
            flush=True,
        )
        db.engine.dispose()


@contextlib.contextmanager
def built_database(backend: str, path: Path, movements: int, drills: int) -> Iterator[str]:
    """A database holding the data set: on SQLite the file at ``path`` (reused when it is
    there), on PostgreSQL a throwaway server, stopped afterwards. Yields its URL."""
    server = None
    try:
        if backend == "sqlite":
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
            if not path.exists():
                build_data(url, movements, drills)
            else:
                print(f"  reusing {path}", flush=True)
        else:
            sys.path.insert(0, str(ROOT))
            from tests import pgserver

            server = pgserver.start({"shared_buffers": "256MB", "work_mem": "64MB"})
            url = server.create_database("readiness_bench")
            build_data(url, movements, drills)
        yield url
    finally:
        if server:
            server.stop()


def run(backend: str, args) -> list[tuple[str, str]]:
    with built_database(backend, RESULTS / "downloads.db", args.movements, args.drills) as url:
        return download_figures(url, args.kinds)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "one":
        parser = argparse.ArgumentParser()
        parser.add_argument("one")
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--db", required=True)
        args = parser.parse_args()
        print(json.dumps(one(args.kind, args.db)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--drills", type=int, default=10_000)
    parser.add_argument("--kinds", nargs="*", choices=KINDS, default=None)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    report(
        "Readiness downloads benchmark",
        backends,
        lambda backend: run(backend, args),
        RESULTS / "downloads.md",
        echo=False,  # download_figures prints each figure as it is measured
    )


if __name__ == "__main__":
    main()
