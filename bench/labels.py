"""Label figures: a 1,000-label sheet vs the plainest reportlab program (the scan page under
load is measured with the other pages in bench/load.py)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def plain_reportlab_sheet(urls: list[str], texts: list[tuple[str, str, str]]) -> bytes:
    """The baseline: qrcode's defaults (automatic mask) and one rectangle per dark module."""
    import io

    import qrcode
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    from readiness import pdf_fonts

    # The same embedded fonts as the app's sheets, so the comparison is fair.
    body = pdf_fonts.register(mono=True)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, initialFontName=body)
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
        c.setFont(body, 7)
        c.drawString(x + 36 * mm, y + 30 * mm, unit)
        c.setFont(body, 9)
        c.drawString(x + 36 * mm, y + 24 * mm, item)
        c.setFont(pdf_fonts.MONO, 9)
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
    thermal = thermal_figures(lab.label_contents(targets, base_url), runs)
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
        *thermal,
    ]


def thermal_figures(contents, runs: int = 3) -> list[tuple[str, str]]:
    """ZPL and TSPL for the same labels on a 50×30 mm thermal roll at 203 and 300 dpi: the
    median time of ``runs`` runs, each with no text drawn before, and the size of what is
    sent to the printer."""
    from labels import thermal
    from labels.layouts import LAYOUTS

    layout = LAYOUTS["thermal-50x30"]
    figures = []
    for name, render in (("ZPL", thermal.zpl), ("TSPL", thermal.tspl)):
        for dpi in (203, 300):
            times = []
            for _ in range(runs):
                # Each run draws every text afresh, as a new process would.
                for cached in (thermal._glyph, thermal._ink, thermal._packed, thermal._acs):
                    cached.cache_clear()
                t0 = time.perf_counter()
                data = render(contents, layout, dpi=dpi)
                times.append(time.perf_counter() - t0)
            figures.append(
                (
                    f"{len(contents):,} thermal labels 50×30 mm as {name}, {dpi} dpi",
                    f"median {statistics.median(times):.2f} s, {len(data) / 1e6:.1f} MB",
                )
            )
    return figures
