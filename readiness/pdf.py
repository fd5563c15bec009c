"""Printable PDF documents for every report: title, facts, headings, paragraphs and tables,
all text in the embedded font (``readiness.pdf_fonts``)."""

from __future__ import annotations

import io
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from readiness import pdf_fonts
from readiness.text import strip_unsafe


def pdf_table(
    title: str,
    meta: Sequence[str],
    header: Sequence[str],
    rows: Iterable[Sequence],
    *,
    signature_line: str | None = None,
) -> bytes:
    """A printable report of one table (see ``pdf_sections``)."""
    return pdf_sections(title, meta, [("", header, list(rows))], signature_line=signature_line)


@dataclass(frozen=True)
class PdfHeading:
    """A heading inside a PDF document: level 1 for a part, 2 for a section."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class PdfText:
    """A paragraph of plain text; its line breaks are kept."""

    text: str


@dataclass(frozen=True)
class PdfFacts:
    """Label / value pairs, one pair a row."""

    rows: Sequence[tuple[str, object]]


@dataclass(frozen=True)
class PdfTable:
    """A table whose header repeats on every page. ``widths`` are relative column widths
    (of the page's text width); a row too tall for one page continues on the next."""

    header: Sequence[str]
    rows: Sequence[Sequence]
    widths: Sequence[float] | None = None
    split_long_rows: bool = True


@dataclass(frozen=True)
class PdfSpace:
    mm: float = 4


@dataclass(frozen=True)
class PdfPageBreak:
    pass


PdfBlock = PdfHeading | PdfText | PdfFacts | PdfTable | PdfSpace | PdfPageBreak


def pdf_sections(
    title: str,
    meta: Sequence[str],
    sections: Sequence[tuple[str, Sequence[str], Sequence[Sequence]]],
    *,
    signature_line: str | None = None,
    landscape_page: bool = True,
) -> bytes:
    """A printable report: title, facts (date, version…), then titled tables that repeat
    their header on every page, page numbers, an optional signature line."""
    blocks: list[PdfBlock] = []
    for heading, header, rows in sections:
        blocks.append(PdfSpace())
        if heading:
            blocks.append(PdfHeading(heading))
        blocks.append(PdfTable(header, rows, split_long_rows=False))
    return pdf_document(
        title, meta, blocks, signature_line=signature_line, landscape_page=landscape_page
    )


# Cell text size and line height, a cell's padding left and right, above and below.
CELL_SIZE = 8
CELL_LEADING = 10
CELL_PAD = 6
CELL_VPAD = 2
# A row of up to this many lines is kept on one page (moved whole to the next if need be)
# in tables whose rows may split; longer rows fill the page and continue on the next.
SHORT_ROW = 3
GRID_WIDTH = 0.4
# Paragraphs sit this far inside the margins, in line with the text of table cells.
INDENT = 6
MM = 72 / 25.4
MARGIN_X = 12 * MM
MARGIN_Y = 14 * MM

# Colours as PDF operands: the grid, a table's header row, the label column of facts.
GRID_RGB = "0.501961 0.501961 0.501961"
HEADER_RGB = "0.909804 0.92549 0.941176"
LABEL_RGB = "0.94902 0.956863 0.964706"

# A line may not start with these: closing punctuation stays on the line it closes.
_NO_LINE_START = frozenset("，。、；：？！）》」』】〕〉”’…%,.;:!?)]}")
# Nor end with these: an opening bracket or quote goes with what it opens.
_NO_LINE_END = frozenset("（《「『【〔〈“‘([{")
# From CJK radicals up (CJK, kana, hangul, full-width forms): a line may break on either side.
_CJK_FROM = "\u2e80"
# The bytes of a PDF string that must be escaped (reportlab's escapePDF, as one translate).
_ESCAPES = {
    c: f"\\{c:03o}" if c < 32 or c >= 127 else "\\" + chr(c)
    for c in range(256)
    if c < 32 or c >= 127 or chr(c) in "\\()"
}


@dataclass(frozen=True)
class _Style:
    size: float
    leading: float
    before: float = 0
    after: float = 0


TITLE = _Style(16, 22, after=4)
PART = _Style(14, 19, before=8, after=2)
HEADING = _Style(12, 16, before=6)
META = _Style(9, 13)
TEXT = _Style(9, 13, after=2)


def _plain(value) -> str:
    """A value as the text a cell prints: no characters a PDF cannot hold."""
    if value is None:
        return ""
    if type(value) is int:
        return str(value)
    text = str(value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return strip_unsafe(text)


def _text_width(text: str, font: str) -> float:
    """Width of the widest line of ``text`` in cell type, in points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if "\n" in text:
        return max(stringWidth(line, font, CELL_SIZE) for line in text.split("\n"))
    return stringWidth(text, font, CELL_SIZE) if text else 0.0


def _widest_glyph(font: str, size: float = CELL_SIZE) -> float:
    """The widest advance of any glyph of the font: text of n characters is at most n times
    this wide, so most texts need no measuring."""
    from reportlab.pdfbase.pdfmetrics import getFont

    face = getFont(font).face
    return max([face.defaultWidth, *face.charWidths.values()]) * size / 1000


def _wider_than(text: str, width: float, font: str, glyph: float) -> bool:
    """Whether ``text`` (or its widest line) is wider than ``width`` points."""
    return len(text) * glyph > width and _text_width(text, font) > width


def column_widths(
    header: Sequence[str], rows: Sequence[Sequence[str]], total: float, font: str
) -> list[float]:
    """Widths for a table without given ones: each column as wide as its widest text needs,
    stretched to the full width; when that is too wide, narrow columns keep their need and
    the wide ones share what is left (their text wraps)."""
    glyph = _widest_glyph(font)
    n = len(header)
    need = [_text_width(h, font) for h in header]
    for row in rows:
        for i, text in enumerate(row[:n]):
            if _wider_than(text, need[i], font, glyph):
                need[i] = _text_width(text, font)
    need = [max(w, CELL_SIZE) + 2 * CELL_PAD + 1 for w in need]
    if sum(need) <= total:
        return [w * total / sum(need) for w in need]
    widths: list[float | None] = [None] * n
    left, open_cols = total, list(range(n))
    while open_cols:
        share = left / len(open_cols)
        fits = [i for i in open_cols if need[i] <= share]
        if not fits:
            for i in open_cols:
                widths[i] = share
            break
        for i in fits:
            widths[i] = need[i]
            left -= need[i]
        open_cols = [i for i in open_cols if i not in fits]
    return [w or 0.0 for w in widths]


def wrap_text(text: str, width: float, font: str, size: float) -> list[str]:
    """The lines ``text`` prints as within ``width`` points: its own line breaks kept, Chinese
    broken between any two characters, Latin at spaces, a word longer than the line broken
    where the line is full; closing punctuation never starts a line, nor an opening bracket
    ends one. Nothing is dropped but
    the spaces a line breaks at."""
    from reportlab.pdfbase.pdfmetrics import getFont

    face = getFont(font).face
    limit = width * 1000 / size
    get, default = face.charWidths.get, face.defaultWidth
    lines: list[str] = []
    for part in text.split("\n"):
        lines += _wrap_line(part, limit, get, default)
    return lines


def _breaks_before(text: str, j: int) -> bool:
    """Whether a line may end just before ``text[j]``."""
    char, prev = text[j], text[j - 1]
    if char == " ":
        return True
    if char in _NO_LINE_START or prev in _NO_LINE_END:
        return False
    return prev == " " or char >= _CJK_FROM or prev >= _CJK_FROM


def _wrap_line(text: str, limit: float, get, default) -> list[str]:
    """One line of text broken into lines no wider than ``limit`` (in glyph units)."""
    if not text:
        return [""]
    # ends[i]: the width of text[: i + 1]; a line's overflow is found by bisection.
    ends = list(accumulate([get(ord(c), default) for c in text]))
    n = len(text)
    if ends[-1] <= limit:
        return [text]
    lines = []
    start, base = 0, 0.0
    while start < n:
        # text[start:k] is the most that fits; a single glyph wider than the line goes alone.
        k = max(bisect_right(ends, base + limit + 1e-9, start), start + 1)
        if k >= n:
            lines.append(text[start:].rstrip(" "))
            break
        end = next((j for j in range(k, start, -1) if _breaks_before(text, j)), k)
        lines.append(text[start:end].rstrip(" "))
        start = end
        while start < n and text[start] == " ":
            start += 1
        base = ends[start - 1] if start else 0.0
    return lines


def pdf_document(
    title: str,
    meta: Sequence[str],
    blocks: Iterable[PdfBlock],
    *,
    signature_line: str | None = None,
    landscape_page: bool = True,
) -> bytes:
    """A printable document: title, facts, then headings, paragraphs, label/value blocks and
    tables, page numbers, an optional signature line. All text is drawn in the embedded
    font (``readiness.pdf_fonts``), so it prints the same on any machine. ``blocks`` may be
    a generator: each block is laid out and let go before the next is asked for."""
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen.canvas import Canvas

    font = pdf_fonts.register()
    # Page streams compressed but not also ASCII85-encoded: that encoding is pure Python
    # without reportlab's C accelerator, a fifth of the time of a 3,000-page package.
    rl_config.useA85 = 0
    pagesize = landscape(A4) if landscape_page else A4
    buf = io.BytesIO()
    # Without initialFontName the canvas starts in Helvetica, listed (unembedded) though unused.
    canvas = Canvas(buf, pagesize=pagesize, initialFontName=font, pageCompression=1)
    canvas.setTitle(_plain(title))
    layout = _Layout(canvas, font, pagesize)
    layout.paragraph(_plain(title), TITLE)
    for line in meta:
        layout.paragraph(_plain(line), META)
    for block in blocks:
        layout.block(block)
    if signature_line:
        layout.space(12 * MM)
        layout.paragraph(_plain(signature_line), META)
    layout.finish()
    return buf.getvalue()


class _Layout:
    """Lays blocks out page by page straight onto a reportlab canvas: our block model is
    small, and platypus spent most of a big report's time on its generality (a flowable
    per paragraph, a Table per chunk, a canvas call per grid segment and per cell).

    Text goes out as PDF text operators written here (those reportlab's text objects write
    for a TrueType subset font), each distinct short text encoded once; a table's grid is
    one path per page it spans; its backgrounds one fill, put in the page before its text."""

    def __init__(self, canvas, font: str, pagesize: tuple[float, float]):
        from reportlab.pdfbase.pdfmetrics import getFont

        self.canvas = canvas
        self.font_name = font
        self.font = getFont(font)
        self.doc = canvas._doc
        self.page_width, self.page_height = pagesize
        self.left = MARGIN_X
        self.width = self.page_width - 2 * MARGIN_X
        self.top = self.page_height - MARGIN_Y
        self.bottom = MARGIN_Y
        self.glyph = _widest_glyph(font, 1)
        self._get = self.font.face.charWidths.get
        self._default = self.font.face.defaultWidth
        self._encoded: dict[str, list[tuple[str, str]]] = {}
        self.page = 0
        self.y = self.top
        self.blank = True  # nothing on this page yet but its number
        self._tf: tuple[str, float] | None = None
        self._heading: PdfHeading | None = None
        # Each page's stream compressed as the page is done, not all of them at the end.
        canvas.setPageCallBack(self._compress_page)
        self.new_page()

    # -- pages and text

    def new_page(self) -> None:
        if self.page:
            self.canvas.showPage()
        self.page += 1
        self._tf = None
        self.y = self.top
        self.blank = True
        # The number first, so a reader's text layer starts each page with it.
        number = str(self.page)
        self.text(self.page_width - MARGIN_X - self.string_width(number, 8), 8 * MM, number, 8)

    def _compress_page(self, _number: int) -> None:
        from reportlab.pdfbase.pdfdoc import PDFDictionary, PDFName, PDFStream

        page = self.doc.Pages.pages[-1]
        if page.stream is None:
            return
        content = zlib.compress(page.stream.encode("latin-1"))
        page.Contents = PDFStream(
            PDFDictionary({"Filter": PDFName("FlateDecode")}), content, filters=None
        )
        page.stream = None

    def string_width(self, text: str, size: float) -> float:
        get, default = self._get, self._default
        return sum([get(ord(c), default) for c in text]) * size / 1000

    def fits(self, text: str, width: float, size: float) -> bool:
        return len(text) * self.glyph * size <= width or self.string_width(text, size) <= width

    def lines(self, text: str, width: float, size: float) -> Sequence[str]:
        if not text:
            return ()
        if "\n" not in text and self.fits(text, width, size):
            return (text,)
        return wrap_text(text, width, self.font_name, size)

    def _encode(self, text: str) -> list[tuple[str, str]]:
        encoded = self._encoded.get(text)
        if encoded is None:
            font, doc = self.font, self.doc
            encoded = [
                (
                    font.getSubsetInternalName(subset, doc),
                    chunk.decode("latin-1").translate(_ESCAPES),
                )
                for subset, chunk in font.splitString(text, doc)
            ]
            # Labels, dates and names recur thousands of times; long texts rarely do.
            if len(text) <= 32:
                if len(self._encoded) > 50_000:
                    self._encoded.clear()
                self._encoded[text] = encoded
        return encoded

    def text(self, x: float, y: float, text: str, size: float) -> None:
        """One line of text with its baseline starting at (x, y). The font set by Tf is
        graphics state, kept from one text object to the next on a page."""
        encoded = self._encoded.get(text) or self._encode(text)
        if len(encoded) == 1:  # the usual case: all its glyphs in one subset
            name, chunk = encoded[0]
            if self._tf == (name, size):
                op = f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm ({chunk}) Tj ET"
            else:
                self._tf = (name, size)
                op = f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm {name} {size:g} Tf ({chunk}) Tj ET"
            self.canvas._code.append(op)
            return
        parts = [f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm"]
        for name, chunk in encoded:
            if self._tf != (name, size):
                parts.append(f"{name} {size:g} Tf")
                self._tf = (name, size)
            parts.append(f"({chunk}) Tj")
        parts.append("ET")
        self.canvas._code.append(" ".join(parts))

    # -- blocks

    def block(self, block: PdfBlock) -> None:
        # A heading waits for the block after it, and goes to the next page unless the first
        # line or row of that block fits under it: a heading never ends a page.
        heading, self._heading = self._heading, None
        if isinstance(block, PdfHeading):
            if heading is not None:
                style = self._style(block)
                self._place(heading, style.before + style.leading + CELL_LEADING)
            self._heading = block
            return
        keep: float = 0
        if isinstance(block, PdfText):
            text = _plain(block.text)
            keep = TEXT.before + TEXT.leading

            def draw():
                self.paragraph(text, TEXT)

        elif isinstance(block, PdfSpace):

            def draw():
                self.space(block.mm * MM)

        elif isinstance(block, PdfPageBreak):

            def draw():
                if not self.blank:
                    self.new_page()

        elif isinstance(block, (PdfFacts, PdfTable)):
            if isinstance(block, PdfFacts):
                header = None
                rows = [(_plain(k), _plain(v)) for k, v in block.rows]
                widths = self._widths([1, 4])
            else:
                header = [_plain(h) for h in block.header]
                rows = [[_plain(v) for v in row] for row in block.rows]
                widths = (
                    self._widths(block.widths)
                    if block.widths
                    else column_widths(header, rows, self.width, self.font_name)
                )
            table = _TableOnPages(
                self,
                header,
                widths,
                label_column=isinstance(block, PdfFacts),
                split_rows=isinstance(block, PdfFacts) or block.split_long_rows,
            )
            keep = table.first_height(rows[0] if rows else None)

            def draw():
                table.draw(rows)

        else:
            raise TypeError(f"not a PDF block: {block!r}")
        if heading is not None:
            self._place(heading, keep)
        draw()

    def finish(self) -> None:
        if self._heading is not None:
            self._place(self._heading, 0)
        self.canvas.showPage()
        self.canvas.save()

    @staticmethod
    def _style(heading: PdfHeading) -> _Style:
        return PART if heading.level == 1 else HEADING

    def _place(self, heading: PdfHeading, keep: float) -> None:
        self.paragraph(_plain(heading.text), self._style(heading), keep=keep)

    def _widths(self, relative: Sequence[float]) -> list[float]:
        total = sum(relative)
        return [self.width * w / total for w in relative]

    def space(self, height: float) -> None:
        # Space at the top of a page would only push the page's content down.
        if not self.blank:
            self.y -= height

    def paragraph(self, text: str, style: _Style, *, keep: float = 0) -> None:
        """Text in lines across the page; a heading (``keep`` > 0) starts a new page rather
        than stand at the foot of one with no room for ``keep`` points of what follows."""
        lines = self.lines(text, self.width - 2 * INDENT, style.size)
        if not self.blank:
            self.y -= style.before
            if keep and self.y - style.leading * len(lines) - keep < self.bottom - 0.01:
                self.new_page()
        for line in lines:
            if self.y - style.leading < self.bottom - 0.01:
                self.new_page()
            if line:
                self.text(self.left + INDENT, self.y - style.size, line, style.size)
            self.y -= style.leading
            self.blank = False
        self.y -= style.after


class _TableOnPages:
    """One table being laid out: the part on the current page is a segment, closed (grid
    and shading written) when the page is full or the table ends."""

    def __init__(self, layout: _Layout, header, widths, label_column: bool, split_rows: bool):
        self.layout = layout
        self.widths = list(widths)
        self.xs = [layout.left]
        for w in self.widths:
            self.xs.append(self.xs[-1] + w)
        self.text_widths = [w - 2 * CELL_PAD for w in self.widths]
        self.label_column = label_column
        self.split_rows = split_rows
        self.middle = not split_rows  # short-row tables centre their text in the row
        self.header = self.cells(header) if header is not None else None
        self.head_height = (
            max([len(c) for c in self.header] + [1]) * CELL_LEADING + 2 * CELL_VPAD
            if self.header is not None
            else 0.0
        )
        # What a fresh page holds for rows under the header.
        self.page_room = layout.top - layout.bottom - self.head_height
        self.open = False

    def cells(self, row: Sequence[str]) -> list[Sequence[str]]:
        lines = self.layout.lines
        return [
            lines(text, width, CELL_SIZE)
            for text, width in zip(row, self.text_widths, strict=False)
        ]

    def piece(self, lines_left: int) -> float:
        """The height the rest of a row (``lines_left`` lines) must find on a page before
        it is started there: all of it, unless it may be split (then one line)."""
        whole = CELL_LEADING * lines_left + 2 * CELL_VPAD
        if whole <= self.page_room and (not self.split_rows or lines_left <= SHORT_ROW):
            return whole
        return CELL_LEADING + 2 * CELL_VPAD

    def first_height(self, row: Sequence[str] | None) -> float:
        """The header and as much of the first row as must go with it on a page."""
        if row is None:
            return self.head_height
        return self.head_height + self.piece(max([len(c) for c in self.cells(row)] + [1]))

    def draw(self, rows: Iterable[Sequence[str]]) -> None:
        layout = self.layout
        for row in rows:
            cells = self.cells(row)
            total = max([len(c) for c in cells] + [1])
            done = 0
            while done < total:
                left = total - done
                if not self.open:
                    room = self.head_height + self.piece(left)
                    if not layout.blank and layout.y - room < layout.bottom - 0.01:
                        layout.new_page()
                    self.begin()
                if layout.y - left * CELL_LEADING - 2 * CELL_VPAD >= layout.bottom - 0.01:
                    self.row(cells, done, left)
                    break
                fits = int((layout.y - layout.bottom - 2 * CELL_VPAD + 0.01) // CELL_LEADING)
                if fits < 1 and self.fresh and not self.rows_here:
                    fits = 1  # a header as tall as the page: still, every row gets printed
                # A short row moves to the next page whole; a long one (or one taller than
                # a page) fills this page and continues on the next.
                if fits >= 1 and self.piece(left) < left * CELL_LEADING + 2 * CELL_VPAD:
                    self.row(cells, done, fits)
                    done += fits
                self.end()
                layout.new_page()
        if not self.open and self.header is not None and not self.drawn:
            if not layout.blank and layout.y - self.head_height < layout.bottom - 0.01:
                layout.new_page()
            self.begin()
        if self.open:
            self.end()

    drawn = False

    def begin(self) -> None:
        layout = self.layout
        code = layout.canvas._code
        self.open = True
        self.drawn = True
        self.fresh = layout.blank
        self.rows_here = 0
        self.top = layout.y
        self.rules: list[float] = []
        # The shading must lie under the text: its place in the page is kept for it here.
        self.fill_at = len(code)
        code.append("")
        layout.blank = False
        if self.header is not None:
            self._cells(self.header, 0, max([len(c) for c in self.header] + [1]), self.head_height)
            layout.y -= self.head_height
            self.rules.append(layout.y)

    def row(self, cells, first: int, count: int) -> None:
        height = count * CELL_LEADING + 2 * CELL_VPAD
        self._cells(cells, first, count, height)
        self.layout.y -= height
        self.rules.append(self.layout.y)
        self.rows_here += 1

    def _cells(self, cells, first: int, count: int, height: float) -> None:
        layout = self.layout
        top = layout.y
        for x, lines in zip(self.xs, cells, strict=False):
            shown = lines[first : first + count]
            if not shown:
                continue
            offset = (count - len(shown)) * CELL_LEADING / 2 if self.middle else 0
            y = top - CELL_VPAD - CELL_SIZE - offset
            for line in shown:
                if line:
                    layout.text(x + CELL_PAD, y, line, CELL_SIZE)
                y -= CELL_LEADING

    def end(self) -> None:
        layout = self.layout
        code = layout.canvas._code
        self.open = False
        x0, x1 = self.xs[0], self.xs[-1]
        top, bottom = self.top, layout.y
        fills = []
        if self.header is not None:
            head = _rect(x0, top - self.head_height, x1 - x0, self.head_height)
            fills.append(f"{HEADER_RGB} rg {head} f")
        if self.label_column and bottom < top:
            fills.append(f"{LABEL_RGB} rg {_rect(x0, bottom, self.xs[1] - x0, top - bottom)} f")
        if fills:
            code[self.fill_at] = "q " + " ".join(fills) + " Q"
        path = [f"q {GRID_WIDTH} w {GRID_RGB} RG {_rect(x0, bottom, x1 - x0, top - bottom)}"]
        left, right = f"{x0:.2f}", f"{x1:.2f}"
        path += [f"{left} {y:.2f} m {right} {y:.2f} l" for y in self.rules[:-1]]
        path += [f"{x:.2f} {top:.2f} m {x:.2f} {bottom:.2f} l" for x in self.xs[1:-1]]
        path.append("S Q")
        code.append(" ".join(path))


def _rect(x: float, y: float, width: float, height: float) -> str:
    return f"{x:.2f} {y:.2f} {width:.2f} {height:.2f} re"
