"""Label sheets as PDF: QR codes drawn as vectors, text in the embedded font."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from readiness import pdf_fonts

CODE_FONT = pdf_fonts.MONO


@dataclass(frozen=True)
class Layout:
    name: str
    page_w: float  # points
    page_h: float
    cols: int
    rows: int
    label_w: float
    label_h: float
    left: float  # margin to the first label
    top: float
    font_scale: float = 1.0


LAYOUTS: dict[str, Layout] = {
    "a4-3x8": Layout("a4-3x8", A4[0], A4[1], 3, 8, 70 * mm, 37 * mm, 0, 0.5 * mm),
    "a4-2x5": Layout("a4-2x5", A4[0], A4[1], 2, 5, 105 * mm, 59.4 * mm, 0, 0, 1.2),
    "thermal-50x30": Layout("thermal-50x30", 50 * mm, 30 * mm, 1, 1, 50 * mm, 30 * mm, 0, 0, 0.8),
}


@dataclass(frozen=True)
class LabelContent:
    modules: Sequence[str]  # QR rows of '1'/'0'
    code: str
    unit: str
    item: str
    details: Sequence[str]  # lot, expiry or serial: one line each


def _font() -> str:
    return pdf_fonts.register(mono=True)


def _fit(text: str, font: str, size: float, width: float) -> str:
    """Cut text to fit a width, with an ellipsis."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def draw_qr(canvas: Canvas, modules: Sequence[str], x: float, y: float, side: float) -> None:
    """Draw a QR code as filled rectangles (one per horizontal run), with its quiet zone."""
    n = len(modules)
    cell = side / (n + 8)  # 4 modules of quiet zone on each side
    x0, y_top = x + 4 * cell, y + side - 4 * cell
    path = canvas.beginPath()
    for r, row in enumerate(modules):
        c = 0
        while c < n:
            if row[c] == "1":
                start = c
                while c < n and row[c] == "1":
                    c += 1
                path.rect(x0 + start * cell, y_top - (r + 1) * cell, (c - start) * cell, cell)
            else:
                c += 1
    canvas.drawPath(path, stroke=0, fill=1)


def _draw_label(canvas: Canvas, layout: Layout, content: LabelContent, x: float, y: float):
    font = _font()
    pad = 2.5 * mm * layout.font_scale
    side = layout.label_h - 2 * pad
    draw_qr(canvas, content.modules, x + pad, y + pad, side)
    tx = x + pad + side + 1.5 * mm
    width = layout.label_w - (tx - x) - pad
    s = layout.font_scale
    top = y + layout.label_h - pad
    canvas.setFont(font, 7 * s)
    canvas.drawString(tx, top - 7 * s, _fit(content.unit, font, 7 * s, width))
    canvas.setFont(font, 9.5 * s)
    canvas.drawString(tx, top - 19 * s, _fit(content.item, font, 9.5 * s, width))
    canvas.setFont(font, 6.5 * s)
    for n, line in enumerate(content.details[:2]):
        canvas.drawString(tx, top - (29 + 8.5 * n) * s, _fit(line, font, 6.5 * s, width))
    canvas.setFont(CODE_FONT, 9 * s)
    grouped = f"{content.code[:5]} {content.code[5:]}"
    canvas.drawString(tx, y + pad + 1 * mm, _fit(grouped, CODE_FONT, 9 * s, width))


def render(
    contents: Sequence[LabelContent],
    layout_name: str,
    *,
    skip: int = 0,
    offset_mm: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0)),
    title: str = "labels",
) -> bytes:
    """A PDF of labels laid out on sheets; ``skip`` leaves the first places of a used sheet."""
    layout = LAYOUTS[layout_name]
    per_page = layout.cols * layout.rows
    buf = io.BytesIO()
    canvas = Canvas(
        buf,
        pagesize=(layout.page_w, layout.page_h),
        pageCompression=1,
        initialFontName=_font(),
    )
    canvas.setTitle(title)
    # Viewers print at 100 %: "fit to page" would shrink the labels off the stock.
    canvas.setViewerPreference("PrintScaling", "None")
    dx, dy = float(offset_mm[0]) * mm, float(offset_mm[1]) * mm
    slot = skip % per_page if per_page > 1 else 0
    started = False
    for content in contents:
        if started and slot == 0:
            canvas.showPage()
        started = True
        col, row = slot % layout.cols, slot // layout.cols
        x = layout.left + col * layout.label_w + dx
        y = layout.page_h - layout.top - (row + 1) * layout.label_h - dy
        _draw_label(canvas, layout, content, x, y)
        slot = (slot + 1) % per_page
    canvas.showPage()
    canvas.save()
    return buf.getvalue()
