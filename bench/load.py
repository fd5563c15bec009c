"""Pages under concurrent clients against gunicorn (loopback only, bounded request counts):
median and 95th-percentile latency and requests per second of the scan page, the dashboard
and the reports, beside a bare Flask endpoint for the cost of a request itself, and the peak
memory of a worker while it exports the full shortfall report as XLSX."""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
THREADS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str] | None = None) -> Iterator[tuple[int, subprocess.Popen]]:
    """Serve ``app`` (``module:variable``) with one worker per core × 4 threads."""
    port = _free_port()
    env = {**os.environ, "READINESS_BASE_URL": f"http://127.0.0.1:{port}", **(env or {})}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers()),
            "--threads",
            str(THREADS),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield port, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def workers() -> int:
    return os.cpu_count() or 2


def login(port: int, username: str, password: str) -> str:
    """A signed-in session cookie, got the way a browser gets it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    r = conn.getresponse()
    body = r.read().decode()
    cookie = r.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body).group(1)
    form = urlencode({"csrf_token": token, "username": username, "password": password})
    conn.request(
        "POST",
        "/login",
        body=form,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    r = conn.getresponse()
    r.read()
    if r.status != 302:
        raise RuntimeError("bench login failed")
    return r.getheader("Set-Cookie").split(";", 1)[0]


def hammer(
    port: int,
    path: Callable[[random.Random], str],
    *,
    cookie: str = "",
    clients: int = 16,
    requests_each: int = 20,
) -> str:
    """``clients`` connections, ``requests_each`` GETs each, at once; the figures as text."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def client(seed: int, count: int = requests_each):
        nonlocal errors
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = []
        for _ in range(count):
            t0 = time.perf_counter()
            conn.request("GET", path(rng), headers={"Cookie": cookie} if cookie else {})
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - t0)
            if r.status != 200:
                with lock:
                    errors += 1
        with lock:
            latencies.extend(mine)

    # Warm-up: every client once, at once, so that each worker has loaded the page (and
    # computed its reports) before the measured run: the figures are the steady state, as
    # on a server that has been up for a while. Recomputing after writes is measured apart
    # (data_changing).
    warm = [threading.Thread(target=client, args=(-1 - i, 2)) for i in range(clients)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    latencies.clear()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    return (
        f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"{len(latencies) / wall:.0f} requests/s, {errors} errors"
    )


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _peak_rss_mb(pids: list[int]) -> float:
    """The largest resident-set high-water mark among the processes, in MB."""
    peak = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak / 1024


@contextlib.contextmanager
def data_changing(database_url: str, every: float = 0.5) -> Iterator[None]:
    """Something written every ``every`` seconds while the block runs, as clerks write all day:
    each write is a new state of the data, so a cached report is computed again (and every
    request arriving meanwhile would compute it too, without one computation per key)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from readiness.config import database_url as driver_url
    from readiness.models import AuditEntry

    engine = create_engine(driver_url(database_url))
    stop = threading.Event()

    def write():
        while not stop.wait(every):
            with Session(engine) as session:
                session.add(
                    AuditEntry(
                        actor_name="bench", action="bench.tick", object_type="", object_id=""
                    )
                )
                session.commit()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join()
        engine.dispose()


def load_figures(
    database_url: str, codes: list[str], username: str, password: str
) -> list[tuple[str, str]]:
    """Latency under 16 clients of the scan page, dashboard and reports; the bare-Flask
    baseline; a worker's peak memory during the full shortfall XLSX export."""
    shape = f"16 clients, gunicorn {workers()} workers × {THREADS} threads"
    figures: list[tuple[str, str]] = []
    with gunicorn("bench.bare:app") as (port, _proc):
        figures.append(
            (f"bare Flask endpoint, {shape}", hammer(port, lambda rng: "/", requests_each=100))
        )
    env = {"DATABASE_URL": database_url, "SECRET_KEY": "bench"}
    with gunicorn("wsgi:app", env) as (port, proc):
        cookie = login(port, username, password)
        pages = [
            ("scan page /l/<code>", lambda rng: f"/l/{rng.choice(codes)}", 100),
            ("dashboard /", lambda rng: "/", 10),
            ("shortfall report page", lambda rng: "/reports/shortfall", 10),
            ("drill compliance page", lambda rng: "/drills/compliance", 10),
            ("shelter coverage page", lambda rng: "/shelters/", 20),
        ]
        for name, path, n in pages:
            figures.append((f"{name}, {shape}", hammer(port, path, cookie=cookie, requests_each=n)))
        with data_changing(database_url):
            figures.append(
                (
                    f"dashboard /, {shape}, a write every 0.5 s",
                    hammer(port, lambda rng: "/", cookie=cookie, requests_each=20),
                )
            )
        pids = _children(proc.pid)
        before = _peak_rss_mb(pids)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        t0 = time.perf_counter()
        conn.request("GET", "/reports/shortfall?format=xlsx", headers={"Cookie": cookie})
        response = conn.getresponse()
        size = len(response.read())
        took = time.perf_counter() - t0
        if response.status != 200:
            raise SystemExit(f"XLSX export: {response.status}")
        figures.append(
            (
                "full shortfall XLSX export",
                f"{took:.1f} s, {size / 1e6:.1f} MB; peak worker memory "
                f"{_peak_rss_mb(pids):.0f} MB (before the export {before:.0f} MB)",
            )
        )
    return figures
