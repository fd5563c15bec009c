"""Thermal labels in the printers' own languages: ZPL II (Zebra and its clones) and TSPL
(TSC, Gprinter, Xprinter), one label per page, from the same plan as the PDF (layouts.py).

The QR code is sent natively (``^BQ`` / ``QRCODE``) with a whole number of dots per module,
so every module prints the same width. Every line of text is sent as a 1-bit bitmap drawn
from the embedded WenQuanYi font at the printer's own resolution (``^GFA`` / ``BITMAP``):
built-in Chinese fonts exist only on some models (none on a Western Zebra, TSS24.BF2 on a
Simplified-Chinese TSC), need GB2312/GBK and lack characters outside it; and a built-in
Latin font has other widths than the ones ``text_lines`` broke and cut the lines with, so
a code or a date could run off the label. A bitmap prints the same on every printer and
breaks exactly where the PDF breaks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from labels.layouts import PT_MM, LabelContent, Layout, text_lines
from readiness.pdf_fonts import FONT_FILE

# Dots per millimetre of the two print heads sold: "203 dpi" heads are 8 dots/mm and
# "300 dpi" ones 12 dots/mm (Zebra and TSC both count in these).
DOTS_PER_MM = {203: 8, 300: 12}

# Faces of the collection, as readiness.pdf_fonts registers them: body text and codes.
BODY_FACE, MONO_FACE = 0, 1
UNITS_PER_EM = 2048  # at this size in pixels Pillow's advances are the font's own units

QUIET = 4  # modules of quiet zone on every side of the QR code
MAX_MODULE_DOTS = 10  # the largest ^BQ magnification / QRCODE cell width every model takes

# A ^FO ^BQ symbol starts below its field origin by the ^BY bar height, a setting that
# persists in the printer between jobs (Labelary and the open viewers draw it h dots
# below; captures from a ZD621 show h - 1). So every label pins the height to its
# power-up value of 10 and raises the origin by 9: the symbol lands where planned, or one
# dot (0.12 mm) lower on a Labelary-exact printer, well inside its quiet zone.
BAR_HEIGHT = 10
BQ_SINK = BAR_HEIGHT - 1

# A dot is inked where the anti-aliased glyph is at least this dark (of 255): a little
# under half, so the thin strokes of small Chinese characters survive the 1-bit cut.
INK_THRESHOLD = 96

_INVERT = bytes(255 - b for b in range(256))
_RUN = re.compile(r"(.)\1+")


@dataclass(frozen=True)
class _Bitmap:
    x: int  # dots from the label's left edge, before the calibration offset
    y: int
    width_bytes: int
    height: int
    rows: bytes  # packed rows, most significant bit leftmost, 1 = ink (ZPL's polarity)


@dataclass(frozen=True)
class _Plan:
    width: int  # label, in dots
    height: int
    qr_x: int  # the symbol's top-left module, quiet zone outside it
    qr_y: int
    module: int  # dots per module
    url: str
    bitmaps: tuple[_Bitmap, ...]


def zpl(
    contents: Sequence[LabelContent],
    layout: Layout,
    *,
    dpi: int = 203,
    offset_mm: tuple[float, float] = (0.0, 0.0),
) -> bytes:
    """ZPL II for a thermal layout: one ``^XA … ^XZ`` format per label."""
    dx, dy = _check(layout, dpi, offset_mm)
    out: list[str] = []
    for content in contents:
        plan = _plan(layout, content, dpi)
        url = _qr_data(plan.url)
        out.append(
            f"^XA\n^CI28\n^PW{plan.width}\n^LL{plan.height}\n^LH0,0\n"
            f"^BY2,3,{BAR_HEIGHT}\n"
            f"^FO{_at(plan.qr_x, dx)},{_at(plan.qr_y - BQ_SINK, dy)}"
            f"^BQN,2,{plan.module}{url}^FS\n"
        )
        for bm in plan.bitmaps:
            total = bm.width_bytes * bm.height
            out.append(
                f"^FO{_at(bm.x, dx)},{_at(bm.y, dy)}"
                f"^GFA,{total},{total},{bm.width_bytes},{_acs(bm.rows, bm.width_bytes)}^FS\n"
            )
        out.append("^XZ\n")
    return "".join(out).encode()


def tspl(
    contents: Sequence[LabelContent],
    layout: Layout,
    *,
    dpi: int = 203,
    offset_mm: tuple[float, float] = (0.0, 0.0),
) -> bytes:
    """TSPL for a thermal layout: the media once, then ``CLS … PRINT 1,1`` per label."""
    dx, dy = _check(layout, dpi, offset_mm)
    out = bytearray(
        f"SIZE {layout.label_w:g} mm,{layout.label_h:g} mm\r\nGAP 2 mm,0 mm\r\n"
        "DIRECTION 1,0\r\n".encode()
    )
    for content in contents:
        plan = _plan(layout, content, dpi)
        url = plan.url.replace('"', '\\["]')
        out += (
            f"CLS\r\nQRCODE {_at(plan.qr_x, dx)},{_at(plan.qr_y, dy)},M,{plan.module},"
            f'A,0,M2,S7,"{url}"\r\n'
        ).encode()
        for bm in plan.bitmaps:
            out += (
                f"BITMAP {_at(bm.x, dx)},{_at(bm.y, dy)},{bm.width_bytes},{bm.height},0,"
            ).encode()
            # TSPL prints the 0 bits: the opposite of ZPL's.
            out += bm.rows.translate(_INVERT)
            out += b"\r\n"
        out += b"PRINT 1,1\r\n"
    return bytes(out)


def _module_dots(layout: Layout, modules: int, dpi: int) -> int:
    """Dots per QR module: the most whose code, quiet zone included, fits the layout's QR
    square (at most 10, the limit every ZPL and TSPL model accepts)."""
    side = math.floor(layout.qr_side() * DOTS_PER_MM[dpi] + 1e-9)
    dots = min(MAX_MODULE_DOTS, side // (modules + 2 * QUIET))
    if dots < 2:
        raise ValueError(
            f"a {modules}-module QR code does not fit {layout.code} at {dpi} dpi "
            "with at least 2 dots per module"
        )
    return dots


def measure(text: str, size: float, mono: bool) -> float:
    """Width in mm of a line in the embedded font, by the font's own advance widths (what
    reportlab measures for the PDF), so the thermal lines break where the PDF's do."""
    face = MONO_FACE if mono else BODY_FACE
    return sum(_advance(ch, face) for ch in text) * size * PT_MM


def _check(layout: Layout, dpi: int, offset_mm: tuple[float, float]) -> tuple[int, int]:
    """The calibration offset in whole dots, once the layout and dpi are known to work."""
    if not layout.thermal:
        raise ValueError(f"{layout.code} is not a thermal layout")
    if dpi not in DOTS_PER_MM:
        raise ValueError(f"dpi must be one of {sorted(DOTS_PER_MM)}, not {dpi}")
    dpm = DOTS_PER_MM[dpi]
    return round(float(offset_mm[0]) * dpm), round(float(offset_mm[1]) * dpm)


def _at(position: int, offset: int) -> int:
    """A position moved by the printer's calibration: never below 0, which ZPL and TSPL
    both refuse."""
    return max(0, position + offset)


def _qr_data(url: str) -> str:
    """The ^FD of a QR field: level M, automatic input (ZPL II guide, ^BQ's switches);
    ^FH escapes the three characters ZPL would take for commands."""
    if not url.isascii() or not url.isprintable():
        raise ValueError("a QR URL must be printable ASCII")
    if any(ch in url for ch in "^~_"):
        escaped = url.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")
        return f"^FH^FDMA,{escaped}"
    return f"^FDMA,{url}"


def _plan(layout: Layout, content: LabelContent, dpi: int) -> _Plan:
    """Where the QR symbol and each text bitmap go on the label, in dots."""
    dpm = DOTS_PER_MM[dpi]
    module = _module_dots(layout, len(content.modules), dpi)
    ix, iy, iw, ih = layout.ink_box(0)
    left, top = math.ceil(ix * dpm - 1e-9), math.ceil(iy * dpm - 1e-9)
    right = math.floor((ix + iw) * dpm + 1e-9)
    bottom = math.floor((iy + ih) * dpm + 1e-9)
    qr_right = left + (len(content.modules) + 2 * QUIET) * module
    bitmaps = []
    for line in text_lines(layout, 0, content, measure):
        px = round(line.size * PT_MM * dpm, 3)
        ink = _ink(line.text, px, MONO_FACE if line.mono else BODY_FACE)
        if ink is None:
            continue
        image, off_x, off_y = ink
        w, h = image.size
        x = round(line.x * dpm) + off_x
        y = round(line.baseline * dpm) + off_y
        # The tallest Chinese glyphs rise a little above layouts.ASCENT (0.85 em against
        # 0.8), and rounding to dots adds one: pull such a line back into the ink box.
        x = min(x, right - w)
        y = max(top, min(y, bottom - h))
        width_bytes = (w + 7) // 8
        pad = width_bytes * 8 - w
        pad_left = max(0, pad - (right - x - w))  # white bits beyond ``right`` go left
        if x - pad_left < qr_right:
            raise ValueError(f"text {line.text!r} does not fit beside the QR code")
        rows = _packed(line.text, px, MONO_FACE if line.mono else BODY_FACE, pad_left)
        bitmaps.append(_Bitmap(x - pad_left, y, width_bytes, h, rows))
    return _Plan(
        width=round(layout.label_w * dpm),
        height=round(layout.label_h * dpm),
        qr_x=left + QUIET * module,
        qr_y=top + QUIET * module,
        module=module,
        url=content.url,
        bitmaps=tuple(bitmaps),
    )


@lru_cache(maxsize=64)
def _font(px: float, face: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_FILE), px, index=face, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=8192)
def _advance(ch: str, face: int) -> float:
    """A character's advance width in ems."""
    return _font(UNITS_PER_EM, face).getlength(ch) / UNITS_PER_EM


@lru_cache(maxsize=8192)
def _glyph(ch: str, px: float, face: int) -> tuple[Image.Image, int, int] | None:
    """One character as a 1-bit mask and its top-left corner relative to the pen on the
    baseline; None for a blank."""
    font = _font(px, face)
    left, top, right, bottom = font.getbbox(ch, anchor="ls")
    if right <= left or bottom <= top:
        return None
    image = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(image).text((-left, -top), ch, font=font, fill=255, anchor="ls")
    return image.point(lambda v: 255 if v >= INK_THRESHOLD else 0), left, top


@lru_cache(maxsize=4096)
def _ink(text: str, px: float, face: int) -> tuple[Image.Image, int, int] | None:
    """A line's ink, cropped to its black dots, and its top-left corner relative to the
    line's origin on the baseline. Each glyph sits at its unhinted advance, as in the
    PDF, so the printed line is as wide as ``measure`` said."""
    placed = []
    pen = 0.0
    for ch in text:
        glyph = _glyph(ch, px, face)
        if glyph is not None:
            image, left, top = glyph
            placed.append((image, round(pen) + left, top))
        pen += _advance(ch, face) * px
    if not placed:
        return None
    x0 = min(x for _im, x, _y in placed)
    y0 = min(y for _im, _x, y in placed)
    x1 = max(x + im.width for im, x, _y in placed)
    y1 = max(y + im.height for im, _x, y in placed)
    canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
    for image, x, y in placed:
        canvas.paste(255, (x - x0, y - y0), mask=image)
    box = canvas.getbbox()
    if box is None:
        return None
    return canvas.crop(box), x0 + box[0], y0 + box[1]


@lru_cache(maxsize=4096)
def _packed(text: str, px: float, face: int, pad_left: int) -> bytes:
    """The line's rows packed 8 dots a byte, 1 = ink, white bits padding each row to whole
    bytes (``pad_left`` of them before the ink, the rest after it)."""
    ink = _ink(text, px, face)
    assert ink is not None
    image = ink[0]
    width = (image.width + 7) // 8 * 8
    canvas = Image.new("1", (width, image.height), 0)
    canvas.paste(image.convert("1", dither=Image.Dither.NONE), (pad_left, 0))
    return canvas.tobytes()


@lru_cache(maxsize=4096)
def _acs(rows: bytes, width_bytes: int) -> str:
    """ZPL's ASCII hex with its run-length compression (ZPL II guide, "Alternative Data
    Compression Scheme for ~DG and ~DB"): a repeated row is ``:``, trailing zeros are
    ``,``, and a run of one hex digit is its count in letters (G–Y for 1–19, g–z for
    20–400) before the digit."""
    out = []
    previous = None
    for start in range(0, len(rows), width_bytes):
        row = rows[start : start + width_bytes].hex().upper()
        if row == previous:
            out.append(":")
            continue
        previous = row
        body = row.rstrip("0")
        out.append(_RUN.sub(_count, body) + ("," if len(body) < len(row) else ""))
    return "".join(out)


def _count(match: re.Match[str]) -> str:
    n, digit = len(match.group(0)), match.group(1)
    code = []
    while n > 400:
        code.append("z")
        n -= 400
    if n >= 20:
        code.append(chr(ord("g") + n // 20 - 1))
    if n % 20:
        code.append(chr(ord("G") + n % 20 - 1))
    return "".join(code) + digit
