"""Label stock: where each label sits on its sheet and where ink may go (all in millimetres).

One description per stock serves the PDF sheets, the thermal printers' own languages, the
alignment test pages and the checks in the tests. Positions are measured from the sheet's
top-left corner, as a keeper measures them with a ruler.

Sheets (A4, office laser or inkjet printers): no ink within 5 mm of a sheet edge, since
most office printers cannot print within about 4.2 mm. Thermal labels (one label per
page, die-cut on a liner): no ink within 1.5 mm of a label edge, the feed tolerance of
the common desktop printers (Zebra, TSC, Gprinter, Xprinter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SHEET_EDGE_MM = 5.0
THERMAL_EDGE_MM = 1.5


@dataclass(frozen=True)
class TextSizes:
    """Type sizes in points: the unit line, the item name (one line, or two at the smaller
    size), the detail lines (lot, expiry, serial) and the printed code."""

    unit: float
    item: float
    item_two_lines: float
    detail: float
    code: float


@dataclass(frozen=True)
class Layout:
    code: str
    page_w: float  # mm
    page_h: float
    cols: int
    rows: int
    label_w: float
    label_h: float
    left: float  # sheet margin to the first label
    top: float
    pad: float  # no ink closer than this to a label's own edge
    edge: float  # no ink closer than this to the sheet's edge
    sizes: TextSizes
    thermal: bool = False

    @property
    def per_page(self) -> int:
        return self.cols * self.rows

    def label_box(self, slot: int) -> tuple[float, float, float, float]:
        """(x, y, w, h) of the label in place ``slot`` (0 = top-left, row by row)."""
        col, row = slot % self.cols, slot // self.cols
        return (
            self.left + col * self.label_w,
            self.top + row * self.label_h,
            self.label_w,
            self.label_h,
        )

    def insets(self) -> tuple[float, float, float, float]:
        """Left, top, right and bottom insets of the ink area inside every label: the label's
        own padding, or more where the label runs close to a sheet edge (the same for every
        label of the layout, so all labels of a sheet look alike)."""
        right_margin = self.page_w - self.left - self.cols * self.label_w
        bottom_margin = self.page_h - self.top - self.rows * self.label_h
        return (
            max(self.pad, self.edge - self.left),
            max(self.pad, self.edge - self.top),
            max(self.pad, self.edge - right_margin),
            max(self.pad, self.edge - bottom_margin),
        )

    def ink_box(self, slot: int) -> tuple[float, float, float, float]:
        """(x, y, w, h) of where ink may go on the label in place ``slot``."""
        x, y, w, h = self.label_box(slot)
        left, top, right, bottom = self.insets()
        return (x + left, y + top, w - left - right, h - top - bottom)

    def qr_side(self) -> float:
        """The QR code's side (quiet zone included), at the ink area's top-left corner."""
        _x, _y, w, h = self.ink_box(0)
        return min(h, w * (0.42 if self.thermal else 0.5))


GAP_MM = 1.5  # between the QR code's quiet zone and the text column

LAYOUTS: dict[str, Layout] = {
    # 24-up 70×37 mm: the most common A4 label sheet in Chinese office supply.
    "a4-3x8": Layout(
        "a4-3x8",
        210,
        297,
        3,
        8,
        70,
        37,
        0,
        0.5,
        2.0,
        SHEET_EDGE_MM,
        TextSizes(7, 9.5, 8, 7, 9),
    ),
    # 10-up 105×57 mm (6 mm top and bottom margins).
    "a4-2x5": Layout(
        "a4-2x5",
        210,
        297,
        2,
        5,
        105,
        57,
        0,
        6,
        2.5,
        SHEET_EDGE_MM,
        TextSizes(9, 12, 10, 8.5, 11),
    ),
    # 21-up 70×42.4 mm.
    "a4-3x7": Layout(
        "a4-3x7",
        210,
        297,
        3,
        7,
        70,
        42.4,
        0,
        0.1,
        2.0,
        SHEET_EDGE_MM,
        TextSizes(7.5, 10, 8.5, 7.5, 9.5),
    ),
    "thermal-40x30": Layout(
        "thermal-40x30",
        40,
        30,
        1,
        1,
        40,
        30,
        0,
        0,
        THERMAL_EDGE_MM,
        THERMAL_EDGE_MM,
        TextSizes(6, 8, 7, 7, 8),
        thermal=True,
    ),
    "thermal-50x30": Layout(
        "thermal-50x30",
        50,
        30,
        1,
        1,
        50,
        30,
        0,
        0,
        THERMAL_EDGE_MM,
        THERMAL_EDGE_MM,
        TextSizes(6.5, 9, 7.5, 7, 8.5),
        thermal=True,
    ),
    "thermal-60x40": Layout(
        "thermal-60x40",
        60,
        40,
        1,
        1,
        60,
        40,
        0,
        0,
        THERMAL_EDGE_MM,
        THERMAL_EDGE_MM,
        TextSizes(7.5, 10.5, 8.5, 8, 10),
        thermal=True,
    ),
    "thermal-70x50": Layout(
        "thermal-70x50",
        70,
        50,
        1,
        1,
        70,
        50,
        0,
        0,
        THERMAL_EDGE_MM,
        THERMAL_EDGE_MM,
        TextSizes(8.5, 12, 10, 9, 11),
        thermal=True,
    ),
}

THERMAL_DPIS = (203, 300)


def dot_mm(dpi: int) -> float:
    return 25.4 / dpi


PT_MM = 25.4 / 72
LINE = 1.2  # line height, as a multiple of the type size
ASCENT = 0.85  # baseline below a line's top, as a multiple of the type size (CJK rise ~0.85 em)


@dataclass(frozen=True)
class LabelContent:
    """What one label says: the URL in its QR code (and that code's module rows), the code
    in text, the unit, the item and up to two detail lines (lot, expiry or serial)."""

    url: str
    modules: tuple[str, ...]  # QR rows of '1'/'0', quiet zone not included
    code: str
    unit: str
    item: str
    details: tuple[str, ...]


def printed_code(code: str) -> str:
    """The code as printed for reading aloud and typing: two groups of five."""
    return f"{code[:5]} {code[5:]}"


@dataclass(frozen=True)
class TextLine:
    text: str
    x: float  # mm from the sheet's left edge
    baseline: float  # mm from the sheet's top edge
    size: float  # points
    mono: bool = False


Measure = Callable[[str, float, bool], float]  # (text, size in pt, mono) -> width in mm


def fit(text: str, size: float, width: float, measure: Measure, mono: bool = False) -> str:
    """The text cut to a width, with an ellipsis when it had to be cut."""
    if measure(text, size, mono) <= width:
        return text
    while text and measure(text + "…", size, mono) > width:
        text = text[:-1]
    return text + "…"


def _wrap_two(text: str, size: float, width: float, measure: Measure) -> list[str]:
    """Two lines: as much as fits on the first (at a space where there is one, for Latin
    names), the rest on the second, cut with an ellipsis only if it still does not fit."""
    cut = len(text)
    while cut > 1 and measure(text[:cut], size, False) > width:
        cut -= 1
    space = text.rfind(" ", 0, cut + 1)
    if space > 0 and cut < len(text) and not text[cut].isspace():
        cut = space
    first, rest = text[:cut].rstrip(), text[cut:].lstrip()
    return [first, fit(rest, size, width, measure)] if rest else [first]


def text_lines(
    layout: Layout, slot: int, content: LabelContent, measure: Measure
) -> list[TextLine]:
    """Where each line of text goes on the label in ``slot``: a column right of the QR code,
    the unit on top, then the item name (wrapped to two smaller lines before anything is
    cut), the details, and the printed code at the bottom. ``measure`` gives a text's
    width in mm in the renderer's own font, so the PDF and the thermal bitmaps break the
    same way."""
    ix, iy, iw, ih = layout.ink_box(slot)
    x = ix + layout.qr_side() + GAP_MM
    width = ix + iw - x
    s = layout.sizes
    out: list[TextLine] = []
    y = iy

    def add(text: str, size: float, mono: bool = False) -> None:
        nonlocal y
        out.append(TextLine(text, x, y + ASCENT * size * PT_MM, size, mono))
        y += LINE * size * PT_MM

    if content.unit:
        add(fit(content.unit, s.unit, width, measure), s.unit)
    if measure(content.item, s.item, False) <= width:
        add(content.item, s.item)
    else:
        for line in _wrap_two(content.item, s.item_two_lines, width, measure):
            add(line, s.item_two_lines)
    code_top = iy + ih - LINE * s.code * PT_MM
    for detail in content.details[:2]:
        if y + LINE * s.detail * PT_MM > code_top:
            break  # never over the code line
        if measure(detail, s.detail, False) > width and " " in detail:
            # a narrow label keeps the value whole ("2029-03-01") and drops its caption
            detail = detail.split(" ", 1)[1]
        add(fit(detail, s.detail, width, measure), s.detail)
    # The code is typed from the label: it shrinks to fit, it is never cut.
    code = printed_code(content.code)
    size = s.code
    while size > 5 and measure(code, size, True) > width:
        size -= 0.5
    out.append(TextLine(code, x, iy + ih - (LINE - ASCENT) * size * PT_MM, size, mono=True))
    return out
