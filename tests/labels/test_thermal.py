"""Thermal labels in ZPL and TSPL: the commands are parsed back, checked against the layout's
ink box and QR square, painted by a small renderer of exactly the commands we send, and
the painted label's QR code is read by a real decoder."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pytest
import qrcode
import zxingcpp
from PIL import Image

from labels import thermal
from labels.layouts import LAYOUTS, LabelContent, text_lines

THERMAL = [code for code, layout in LAYOUTS.items() if layout.thermal]
DPMM = {203: 8, 300: 12}
URL = "https://readiness.example.gov.cn/l/ABCDE12345"


def modules(url: str) -> tuple[str, ...]:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(url)
    qr.make(fit=True)
    return tuple("".join("1" if cell else "0" for cell in row) for row in qr.get_matrix())


def make_content(
    code: str = "ABCDE12345",
    unit: str = "应急物资中心仓库",
    item: str = "消防员灭火防护服（抢险救援）",
    details: tuple[str, ...] = ("批次 SB-A", "有效期至 2027-03-01"),
) -> LabelContent:
    url = f"https://readiness.example.gov.cn/l/{code}"
    return LabelContent(url, modules(url), code, unit, item, details)


CONTENTS = [
    make_content(),
    make_content("K7M2P9Q4RX", unit="消防救援支队", item="救生衣", details=("序列号 SN-0042",)),
    make_content("ZZZZZ00000", unit="", item="Life jacket, adult, type 150N", details=()),
]


# ---- Reading the commands back


@dataclass
class Qr:
    x: int  # the field origin (ZPL) or the QRCODE position (TSPL), as sent
    y: int
    module: int
    url: str
    sink: int = 0  # dots the printer draws the symbol below y (ZPL's ^BY height - 1)

    @property
    def top(self) -> int:
        return self.y + self.sink


@dataclass
class Bitmap:
    x: int
    y: int
    width_bytes: int
    height: int
    ink: list[list[bool]]  # rows of dots, True = black

    def extent(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.x + 8 * self.width_bytes, self.y + self.height

    def inked(self) -> int:
        return sum(sum(row) for row in self.ink)


@dataclass
class Label:
    width: int
    height: int
    qr: Qr | None
    bitmaps: list[Bitmap]
    raw: list[bytes] = field(default_factory=list)  # TSPL's bitmap bytes as sent


def acs_decode(data: str, width_bytes: int, rows: int) -> list[str]:
    """ZPL's ASCII hex with the run-length compression, written from the ZPL II guide
    independently of labels.thermal."""
    out: list[str] = []
    line = ""
    count = 0
    row_chars = 2 * width_bytes
    for ch in data:
        if "G" <= ch <= "Y":
            count += ord(ch) - ord("G") + 1
        elif "g" <= ch <= "z":
            count += 20 * (ord(ch) - ord("g") + 1)
        elif ch == ",":
            line = line.ljust(row_chars, "0")
        elif ch == "!":
            line = line.ljust(row_chars, "F")
        elif ch == ":":
            line = out[-1]
        else:
            assert ch in "0123456789ABCDEF", ch
            line += ch * (count or 1)
            count = 0
        if len(line) == row_chars:
            out.append(line)
            line = ""
        assert len(line) < row_chars, "a row ran past its width"
    assert line == "" and len(out) == rows, (len(out), rows)
    return out


def bits(row: bytes, black: int) -> list[bool]:
    return [((byte >> (7 - i)) & 1) == black for byte in row for i in range(8)]


def parse_zpl(data: bytes) -> list[Label]:
    text = data.decode("utf-8")
    formats = re.findall(r"\^XA(.*?)\^XZ", text, re.S)
    assert text.count("^XA") == len(formats) == text.count("^XZ")
    labels = []
    for body in formats:
        commands = [c for c in body.replace("\n", "").split("^") if c]
        state: dict = {"BY": None}
        fo = None
        qr = None
        width = height = None
        pending_bq = None
        field_hex = False
        bitmaps = []
        assert "CI28" in commands and "LH0,0" in commands
        for command in commands:
            name, args = command[:2], command[2:]
            if name == "PW":
                width = int(args)
            elif name == "LL":
                height = int(args)
            elif name == "BY":
                state["BY"] = [int(v) for v in args.split(",")]
            elif name == "FO":
                fo = tuple(int(v) for v in args.split(","))
            elif name == "BQ":
                orientation, model, magnification = args.split(",")[:3]
                assert (orientation, model) == ("N", "2")
                pending_bq = int(magnification)
            elif name == "FH":
                field_hex = True
            elif name == "FD":
                assert pending_bq is not None, "field data only for the QR code"
                assert args.startswith("MA,"), "error correction M, automatic input"
                url = args[3:]
                if field_hex:
                    url = re.sub(r"_([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), url)
                assert state["BY"] is not None, "the ^BY height a ^BQ sinks by is pinned"
                qr = Qr(fo[0], fo[1], pending_bq, url, sink=state["BY"][2] - 1)
            elif name == "GF":
                kind, total, total2, width_bytes, payload = args.split(",", 4)
                assert kind == "A" and total == total2
                rows = int(total) // int(width_bytes)
                assert rows * int(width_bytes) == int(total)
                hexrows = acs_decode(payload, int(width_bytes), rows)
                ink = [bits(bytes.fromhex(r), 1) for r in hexrows]
                bitmaps.append(Bitmap(fo[0], fo[1], int(width_bytes), rows, ink))
            elif name == "FS":
                fo, pending_bq, field_hex = None, None, False
        labels.append(Label(width, height, qr, bitmaps))
    return labels


def parse_tspl(data: bytes) -> tuple[dict, list[Label]]:
    setup: dict = {}
    labels: list[Label] = []
    current = None
    pos = 0
    while pos < len(data):
        if data.startswith(b"BITMAP ", pos):
            # The header's five numbers, then width × height raw bytes, then CRLF.
            commas = [pos + len("BITMAP ") - 1]
            for _ in range(5):
                commas.append(data.index(b",", commas[-1] + 1))
            header = data[pos + len("BITMAP ") : commas[-1]].decode("ascii")
            x, y, width_bytes, height, mode = (int(v) for v in header.split(","))
            assert mode == 0
            start = commas[-1] + 1
            raw = data[start : start + width_bytes * height]
            assert len(raw) == width_bytes * height
            assert data[start + len(raw) : start + len(raw) + 2] == b"\r\n"
            # TSPL prints the 0 bits.
            ink = [bits(raw[r * width_bytes : (r + 1) * width_bytes], 0) for r in range(height)]
            current.bitmaps.append(Bitmap(x, y, width_bytes, height, ink))
            current.raw.append(raw)
            pos = start + len(raw) + 2
            continue
        end = data.index(b"\r\n", pos)
        line = data[pos:end].decode("ascii")
        pos = end + 2
        word, _, rest = line.partition(" ")
        if word in ("SIZE", "GAP", "DIRECTION"):
            assert not labels and current is None, "the media is set once, before the labels"
            setup[word] = rest
        elif word == "CLS":
            current = Label(setup["width"], setup["height"], None, [])
        elif word == "QRCODE":
            m = re.fullmatch(r'(\d+),(\d+),M,(\d+),A,0,M2,S7,"(.*)"', rest)
            assert m, rest
            current.qr = Qr(int(m[1]), int(m[2]), int(m[3]), m[4])
        elif word == "PRINT":
            assert rest == "1,1"
            labels.append(current)
            current = None
        else:
            raise AssertionError(f"unexpected TSPL {line!r}")
        if word == "SIZE":
            w, h = re.fullmatch(r"([\d.]+) mm,([\d.]+) mm", rest).groups()
            setup["size_mm"] = (float(w), float(h))
            setup["width"], setup["height"] = None, None
    return setup, labels


def both(contents, layout, dpi, offset=(0.0, 0.0)) -> dict[str, list[Label]]:
    zpl = parse_zpl(thermal.zpl(contents, layout, dpi=dpi, offset_mm=offset))
    setup, tspl = parse_tspl(thermal.tspl(contents, layout, dpi=dpi, offset_mm=offset))
    assert setup["size_mm"] == (layout.label_w, layout.label_h)
    assert setup["GAP"] == "2 mm,0 mm"
    return {"zpl": zpl, "tspl": tspl}


def ink_box_dots(layout, dpi) -> tuple[int, int, int, int]:
    """Left, top, right, bottom of the layout's ink box in whole dots (inside it)."""
    d = DPMM[dpi]
    ix, iy, iw, ih = layout.ink_box(0)
    eps = 1e-9
    return (
        math.ceil(ix * d - eps),
        math.ceil(iy * d - eps),
        math.floor((ix + iw) * d + eps),
        math.floor((iy + ih) * d + eps),
    )


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# ---- A renderer of just the commands we send


def paint(label: Label, width: int, height: int) -> Image.Image:
    image = Image.new("L", (width, height), 255)
    px = image.load()
    for bm in label.bitmaps:
        for r, row in enumerate(bm.ink):
            for c, black in enumerate(row):
                if black:
                    px[bm.x + c, bm.y + r] = 0
    qr = label.qr
    for r, row in enumerate(modules(qr.url)):
        for c, dark in enumerate(row):
            if dark == "1":
                x0, y0 = qr.x + c * qr.module, qr.top + r * qr.module
                image.paste(0, (x0, y0, x0 + qr.module, y0 + qr.module))
    return image


# ---- Tests


@pytest.mark.parametrize("dpi", [203, 300])
@pytest.mark.parametrize("code", THERMAL)
def test_label_size_and_the_qr_code_in_whole_dots_inside_the_ink_box(code, dpi):
    layout = LAYOUTS[code]
    d = DPMM[dpi]
    left, top, right, bottom = ink_box_dots(layout, dpi)
    side = math.floor(layout.qr_side() * d + 1e-9)
    for language, labels in both(CONTENTS, layout, dpi).items():
        assert len(labels) == len(CONTENTS), language
        for label, content in zip(labels, CONTENTS, strict=True):
            if language == "zpl":
                assert (label.width, label.height) == (layout.label_w * d, layout.label_h * d)
            n = len(content.modules)
            qr = label.qr
            assert qr.url == content.url
            assert isinstance(qr.module, int) and qr.module >= 2
            # The largest whole number of dots whose code and quiet zone fit the square.
            assert (n + 8) * qr.module <= side < (n + 8) * (qr.module + 1) or qr.module == 10
            if dpi == 203 and (n + 8) * 3 <= side:
                assert qr.module >= 3
            square = (
                qr.x - 4 * qr.module,
                qr.top - 4 * qr.module,
                qr.x + (n + 4) * qr.module,
                qr.top + (n + 4) * qr.module,
            )
            # Placed at the ink box's top-left corner, quiet zone included.
            assert square[:2] == (left, top), (language, square)
            assert square[2] <= right and square[3] <= bottom
            assert left <= qr.x and top <= qr.y  # the field origin as sent, too


@pytest.mark.parametrize("dpi", [203, 300])
@pytest.mark.parametrize("code", THERMAL)
def test_every_text_bitmap_lies_in_the_ink_box_beside_the_qr_square(code, dpi):
    layout = LAYOUTS[code]
    box = ink_box_dots(layout, dpi)
    for language, labels in both(CONTENTS, layout, dpi).items():
        for label, content in zip(labels, CONTENTS, strict=True):
            n = len(content.modules)
            qr = label.qr
            square = (
                qr.x - 4 * qr.module,
                qr.top - 4 * qr.module,
                qr.x + (n + 4) * qr.module,
                qr.top + (n + 4) * qr.module,
            )
            lines = text_lines(layout, 0, content, thermal.measure)
            assert len(label.bitmaps) == len(lines), language
            for bm, line in zip(label.bitmaps, lines, strict=True):
                x0, y0, x1, y1 = bm.extent()
                assert box[0] <= x0 and x1 <= box[2], (language, line.text, bm.extent(), box)
                assert box[1] <= y0 and y1 <= box[3], (language, line.text, bm.extent(), box)
                assert not overlaps(bm.extent(), square), (language, line.text)
                assert bm.inked() > 0, f"{line.text!r} printed blank"
                # Each bitmap sits at its line: the baseline falls inside its rows, and the
                # ink runs from the line's start to no further than its measured width.
                baseline = line.baseline * DPMM[dpi]
                assert y0 < baseline <= y1 + 1
                columns = [c for row in bm.ink for c, black in enumerate(row) if black]
                start = line.x * DPMM[dpi]
                measured = thermal.measure(line.text, line.size, line.mono) * DPMM[dpi]
                assert start - 2 <= x0 + min(columns)
                assert start + measured / 2 < x0 + max(columns) + 1 <= start + measured + 2


@pytest.mark.parametrize("dpi", [203, 300])
@pytest.mark.parametrize("code", THERMAL)
def test_rendered_labels_decode_to_the_url_where_planned(code, dpi):
    layout = LAYOUTS[code]
    for language, labels in both(CONTENTS, layout, dpi).items():
        for label, content in zip(labels, CONTENTS, strict=True):
            image = paint(label, layout.label_w * DPMM[dpi], layout.label_h * DPMM[dpi])
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            assert [r.text for r in found] == [content.url], language
            corner = found[0].position.top_left
            assert abs(corner.x - label.qr.x) <= 1 and abs(corner.y - label.qr.top) <= 1
            # The text did not spill into the QR code's quiet zone: the symbol decodes
            # with the text painted right beside it, and the zone itself is white.
            n = len(content.modules)
            zone = image.crop(
                (
                    label.qr.x + n * label.qr.module,
                    label.qr.top - 4 * label.qr.module,
                    label.qr.x + (n + 4) * label.qr.module,
                    label.qr.top + (n + 4) * label.qr.module,
                )
            )
            assert zone.getextrema() == (255, 255)


@pytest.mark.parametrize("dpi", [203, 300])
def test_zpl_and_tspl_carry_the_same_dots_with_opposite_bit_polarity(dpi):
    layout = LAYOUTS["thermal-50x30"]
    labels = both(CONTENTS, layout, dpi)
    for z, t in zip(labels["zpl"], labels["tspl"], strict=True):
        assert [(b.x, b.y, b.width_bytes, b.height, b.ink) for b in z.bitmaps] == [
            (b.x, b.y, b.width_bytes, b.height, b.ink) for b in t.bitmaps
        ]
        assert (z.qr.x, z.qr.top, z.qr.module) == (t.qr.x, t.qr.y, t.qr.module)
        # Labels are mostly white: in TSPL's polarity that is mostly 0xFF bytes.
        for raw in t.raw:
            assert raw.count(0xFF) > raw.count(0x00)


@pytest.mark.parametrize("dpi", [203, 300])
@pytest.mark.parametrize("code", THERMAL)
def test_the_calibration_offset_moves_every_position_by_whole_dots(code, dpi):
    layout = LAYOUTS[code]
    d = DPMM[dpi]
    plain = both(CONTENTS, layout, dpi)
    moved = both(CONTENTS, layout, dpi, offset=(1.0, -0.5))
    for language in plain:
        for a, b in zip(plain[language], moved[language], strict=True):
            assert (b.qr.x - a.qr.x, b.qr.y - a.qr.y) == (d, -d // 2)
            assert b.qr.url == a.qr.url and b.qr.module == a.qr.module
            assert len(a.bitmaps) == len(b.bitmaps) > 0
            for p, q in zip(a.bitmaps, b.bitmaps, strict=True):
                assert (q.x - p.x, q.y - p.y) == (d, -d // 2)
                assert q.ink == p.ink
    # A shift past the label's edge stops at 0: neither language takes a negative position.
    far = both(CONTENTS[:1], layout, dpi, offset=(-15.0, -15.0))
    for language, labels in far.items():
        a, b = plain[language][0], labels[0]
        assert (b.qr.x, b.qr.y) == (0, 0)
        for p, q in zip(a.bitmaps, b.bitmaps, strict=True):
            assert (q.x, q.y) == (max(0, p.x - 15 * d), max(0, p.y - 15 * d))


def test_the_printed_lines_break_where_the_pdf_measures_them():
    """The thermal measure is the PDF's: reportlab's width of the same embedded faces."""
    from reportlab.pdfbase import pdfmetrics

    from readiness import pdf_fonts

    body = pdf_fonts.register(mono=True)
    for text in ("应急物资中心仓库", "批次 SB-A", "有效期至 2027-03-01", "Life jacket, 150N…"):
        for mono, font in ((False, body), (True, pdf_fonts.MONO)):
            expected = pdfmetrics.stringWidth(text, font, 9) * 25.4 / 72
            assert thermal.measure(text, 9, mono) == pytest.approx(expected, abs=1e-9)


def test_only_thermal_layouts_known_dpis_and_codes_that_fit():
    content = CONTENTS[0]
    with pytest.raises(ValueError):
        thermal.zpl([content], LAYOUTS["a4-3x8"])
    with pytest.raises(ValueError):
        thermal.tspl([content], LAYOUTS["a4-3x8"])
    with pytest.raises(ValueError):
        thermal.zpl([content], LAYOUTS["thermal-50x30"], dpi=600)
    huge = make_content()
    huge = LabelContent(
        huge.url, modules("https://x.example/" + "A" * 600), "ABCDE12345", "", "", ()
    )
    for render in (thermal.zpl, thermal.tspl):
        with pytest.raises(ValueError):
            render([huge], LAYOUTS["thermal-40x30"], dpi=203)


def test_urls_with_zpl_command_characters_are_escaped():
    url = "https://readiness.example.gov.cn/l/AB^CD~E_12"
    content = LabelContent(url, modules(url), "ABCDE12345", "仓库", "救生衣", ())
    layout = LAYOUTS["thermal-60x40"]
    data = thermal.zpl([content], layout)
    assert b"^FH^FDMA," in data
    (label,) = parse_zpl(data)
    assert label.qr.url == url
    image = paint(label, 480, 320)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [url]
