"""Label sheets and alignment test pages as PDF: QR codes drawn as vectors, text in the
embedded font, everything placed by ``labels.layouts`` and corrected by a printer profile."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from labels.layouts import LAYOUTS, LabelContent, Layout, dot_mm, text_lines
from readiness import pdf_fonts

__all__ = ["LAYOUTS", "Correction", "LabelContent", "render", "test_page"]

CODE_FONT = pdf_fonts.MONO
THERMAL_DPI = 203  # thermal PDFs put QR modules on whole dots of the common printers


@dataclass(frozen=True)
class Correction:
    """A printer profile's correction: offsets in mm (X right, Y down) and a scale in per
    cent, applied about the sheet's top-left corner (offsets after the scale)."""

    x_mm: float = 0.0
    y_mm: float = 0.0
    scale_pct: float = 100.0


def _font() -> str:
    return pdf_fonts.register(mono=True)


def _measure(text: str, size: float, mono: bool) -> float:
    return pdfmetrics.stringWidth(text, CODE_FONT if mono else _font(), size) / mm


def draw_qr(
    canvas: Canvas,
    modules: Sequence[str],
    x: float,
    y_top: float,
    side: float,
    *,
    dot: float | None = None,
) -> None:
    """Draw a QR code (one rectangle per horizontal run of dark modules) with its 4-module
    quiet zone inside a square of ``side`` whose top-left corner is (x, y_top), in points.
    With ``dot`` (a printer dot, in points) modules are a whole number of dots."""
    n = len(modules)
    cell = side / (n + 8)
    if dot:
        cell = max(math.floor(cell / dot), 1) * dot
    x0, top = x + 4 * cell, y_top - 4 * cell
    path = canvas.beginPath()
    for r, row in enumerate(modules):
        c = 0
        while c < n:
            if row[c] == "1":
                start = c
                while c < n and row[c] == "1":
                    c += 1
                path.rect(x0 + start * cell, top - (r + 1) * cell, (c - start) * cell, cell)
            else:
                c += 1
    canvas.drawPath(path, stroke=0, fill=1)


def _draw_label(canvas: Canvas, layout: Layout, slot: int, content: LabelContent) -> None:
    """One label in place ``slot``; coordinates in mm from the top-left are turned into
    reportlab's (points from the bottom-left) here and nowhere else."""
    page_h = layout.page_h * mm
    ix, iy, _w, _h = layout.ink_box(slot)
    dot = dot_mm(THERMAL_DPI) * mm if layout.thermal else None
    draw_qr(canvas, content.modules, ix * mm, page_h - iy * mm, layout.qr_side() * mm, dot=dot)
    for line in text_lines(layout, slot, content, _measure):
        canvas.setFont(CODE_FONT if line.mono else _font(), line.size)
        canvas.drawString(line.x * mm, page_h - line.baseline * mm, line.text)


def _canvas(buf: io.BytesIO, layout: Layout, title: str) -> Canvas:
    canvas = Canvas(
        buf,
        pagesize=(layout.page_w * mm, layout.page_h * mm),
        pageCompression=1,
        initialFontName=_font(),
    )
    canvas.setTitle(title)
    # Viewers print at 100 %: "fit to page" would shrink the labels off the stock.
    canvas.setViewerPreference("PrintScaling", "None")
    return canvas


def _begin_page(canvas: Canvas, layout: Layout, correction: Correction) -> None:
    """Apply the correction to the page about to be drawn: scale about the top-left corner,
    then shift (X right, Y down)."""
    canvas.saveState()
    page_h = layout.page_h * mm
    s = correction.scale_pct / 100
    canvas.translate(correction.x_mm * mm, page_h - correction.y_mm * mm)
    canvas.scale(s, s)
    canvas.translate(0, -page_h)


def _end_page(canvas: Canvas) -> None:
    canvas.restoreState()
    canvas.showPage()


def render(
    contents: Sequence[LabelContent],
    layout_name: str,
    *,
    skip: int = 0,
    correction: Correction = Correction(),
    title: str = "labels",
) -> bytes:
    """A PDF of labels laid out on sheets; ``skip`` leaves the first places of a used sheet."""
    layout = LAYOUTS[layout_name]
    per_page = layout.per_page
    buf = io.BytesIO()
    canvas = _canvas(buf, layout, title)
    slot = skip % per_page
    _begin_page(canvas, layout, correction)
    started = False
    for content in contents:
        if started and slot == 0:
            _end_page(canvas)
            _begin_page(canvas, layout, correction)
        started = True
        _draw_label(canvas, layout, slot, content)
        slot = (slot + 1) % per_page
    _end_page(canvas)
    canvas.save()
    return buf.getvalue()


# ---------------------------------------------------------------- alignment test page

# Where the test page's crosshairs sit, in mm from the sheet's top-left corner: near the
# top-left corner of the printable area (the reference the keeper measures) and at the
# page's centre. The bar measures the scale.
RULER_MM = 100


def crosshair_points(layout: Layout) -> list[tuple[float, float]]:
    """The test page's crosshair centres: the first is the one the keeper measures."""
    margin = layout.edge + (10 if not layout.thermal else 3)
    return [(margin, margin), (layout.page_w / 2, layout.page_h / 2)]


def ruler_length(layout: Layout) -> float:
    """The measuring bar's length in mm: 100 mm on sheets, what fits on a thermal label."""
    room = layout.page_w - 2 * layout.edge - 2
    return RULER_MM if room >= RULER_MM else float(int(room // 10) * 10)


def _crosshair(canvas: Canvas, x: float, y: float, arm: float) -> None:
    canvas.line(x - arm, y, x + arm, y)
    canvas.line(x, y - arm, x, y + arm)
    canvas.circle(x, y, arm / 3, stroke=1, fill=0)


def test_page(
    layout_name: str, lines: Sequence[str], *, correction: Correction = Correction()
) -> bytes:
    """One page that shows where this printer really puts things: label outlines (dashed),
    crosshairs at known positions and a ruler of known length, drawn with the profile's
    current correction. ``lines`` are the instructions printed in the middle."""
    layout = LAYOUTS[layout_name]
    buf = io.BytesIO()
    canvas = _canvas(buf, layout, f"test page {layout_name}")
    font = _font()
    page_h = layout.page_h * mm

    def at(x_mm: float, y_mm: float) -> tuple[float, float]:
        return x_mm * mm, page_h - y_mm * mm

    _begin_page(canvas, layout, correction)
    canvas.setLineWidth(0.3)
    canvas.setDash(2, 2)
    for slot in range(layout.per_page):
        x, y, w, h = layout.label_box(slot)
        px, py = at(x, y + h)
        canvas.rect(px, py, w * mm, h * mm, stroke=1, fill=0)
    canvas.setDash()
    arm = 4 if layout.thermal else 8
    for cx, cy in crosshair_points(layout):
        px, py = at(cx, cy)
        _crosshair(canvas, px, py, arm * mm)
    # The ruler: a bar with a tick every millimetre (long every 10), along the top.
    length = ruler_length(layout)
    rx, ry = crosshair_points(layout)[0]
    ry += arm + 3
    x0, y0 = at(rx, ry)
    canvas.setLineWidth(0.25)
    canvas.line(x0, y0, x0 + length * mm, y0)
    canvas.setFont(font, 5 if layout.thermal else 6)
    for n in range(int(length) + 1):
        tick = 3 if n % 10 == 0 else (2 if n % 5 == 0 else 1)
        canvas.line(x0 + n * mm, y0, x0 + n * mm, y0 - tick * mm)
        if n % 10 == 0 and (n % 20 == 0 or not layout.thermal):
            canvas.drawCentredString(x0 + n * mm, y0 - 5.5 * mm, str(n))
    size = 6 if layout.thermal else 10
    canvas.setFont(font, size)
    tx, ty = at(rx, ry + 10)
    for n, text in enumerate(lines):
        canvas.drawString(tx, ty - n * size * 1.4, text)
    _end_page(canvas)
    canvas.save()
    return buf.getvalue()


test_page.__test__ = False  # not a pytest test, whatever its name
