"""Label figures: a 1,000-label sheet vs the plainest reportlab program, and the scan page
under 16 concurrent clients against gunicorn."""

from __future__ import annotations

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
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent


def plain_reportlab_sheet(urls: list[str], texts: list[tuple[str, str, str]]) -> bytes:
    """The baseline: qrcode's defaults (automatic mask) and one rectangle per dark module."""
    import io

    import qrcode
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen.canvas import Canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    for n, (url, (unit, item, code)) in enumerate(zip(urls, texts, strict=True)):
        slot = n % 24
        if n and slot == 0:
            c.showPage()
        x = (slot % 3) * 70 * mm
        y = A4[1] - (slot // 3 + 1) * 37 * mm
        qr = qrcode.QRCode()
        qr.add_data(url)
        qr.make(fit=True)
        matrix = qr.get_matrix()
        cell = 31 * mm / len(matrix)
        for r, row in enumerate(matrix):
            for col, dark in enumerate(row):
                if dark:
                    c.rect(
                        x + 3 * mm + col * cell,
                        y + 34 * mm - (r + 1) * cell,
                        cell,
                        cell,
                        stroke=0,
                        fill=1,
                    )
        c.setFont("STSong-Light", 7)
        c.drawString(x + 36 * mm, y + 30 * mm, unit)
        c.setFont("STSong-Light", 9)
        c.drawString(x + 36 * mm, y + 24 * mm, item)
        c.setFont("Courier-Bold", 9)
        c.drawString(x + 36 * mm, y + 4 * mm, code)
    c.showPage()
    c.save()
    return buf.getvalue()


def label_figures(session, base_url: str, runs: int = 3) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from inventory.models import Position
    from labels import services as lab
    from readiness.permissions import SYSTEM

    positions = session.scalars(select(Position).order_by(Position.id).limit(1000)).all()
    specs = [
        {"unit": p.unit.code, "item": p.item.code, "lot": p.lot.code if p.lot else None}
        for p in positions
    ]
    t0 = time.perf_counter()
    targets = lab.targets_from_spec(session, specs, actor=SYSTEM)
    lab.sheet_pdf(session, targets, "a4-3x8", skip=0, base_url=base_url)
    session.commit()
    first_s = time.perf_counter() - t0

    def app_sheet():
        ts = lab.targets_from_spec(session, specs, actor=SYSTEM)
        return lab.sheet_pdf(session, ts, "a4-3x8", skip=0, base_url=base_url)

    urls = [lab.label_url(base_url, t.label.code) for t in targets]
    texts = [(t.unit.name, t.item.name, t.label.code) for t in targets]
    app_times, plain_times = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        pdf = app_sheet()
        app_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        plain = plain_reportlab_sheet(urls, texts)
        plain_times.append(time.perf_counter() - t0)
    app_s, plain_s = statistics.median(app_times), statistics.median(plain_times)
    return [
        ("1,000-label A4 3×8 sheet, first print (codes issued, QR encoded)", f"{first_s:.2f} s"),
        (
            "1,000-label sheet through the label service",
            f"median {app_s:.2f} s, {len(pdf) / 1e6:.1f} MB",
        ),
        (
            "plainest reportlab program, qrcode defaults",
            f"median {plain_s:.2f} s, {len(plain) / 1e6:.1f} MB",
        ),
        ("ratio service / plain", f"{app_s / plain_s:.2f}"),
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _login(port: int, username: str, password: str) -> str:
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


def scan_latency(
    database_url: str,
    codes: list[str],
    username: str,
    password: str,
    *,
    clients: int = 16,
    requests_each: int = 100,
) -> list[tuple[str, str]]:
    """The scan page under concurrent clients against gunicorn (loopback only, bounded)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench",
        "READINESS_BASE_URL": f"http://127.0.0.1:{port}",
    }
    workers = os.cpu_count() or 2
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
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
        cookie = _login(port, username, password)
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()

        def client(seed: int):
            nonlocal errors
            rng = random.Random(seed)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine = []
            for _ in range(requests_each):
                code = rng.choice(codes)
                t0 = time.perf_counter()
                conn.request("GET", f"/l/{code}", headers={"Cookie": cookie})
                r = conn.getresponse()
                r.read()
                mine.append(time.perf_counter() - t0)
                if r.status != 200:
                    with lock:
                        errors += 1
            with lock:
                latencies.extend(mine)

        # warm-up
        client(-1)
        latencies.clear()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        return [
            (
                f"scan page, {clients} concurrent clients, gunicorn {workers} workers × 4 threads",
                f"median {statistics.median(latencies) * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms, {len(latencies) / wall:.0f} requests/s, "
                f"{errors} errors",
            ),
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
