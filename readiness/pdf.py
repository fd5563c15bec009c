"""Printable PDF documents for every report: title, facts, headings, paragraphs and tables,
all text in the embedded font (``readiness.pdf_fonts``)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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


# Cell text size and line height, and a cell's padding left and right.
CELL_SIZE = 8
CELL_LEADING = 10
CELL_PAD = 6
# (CELL_PAD is reportlab's default left and right padding.)
# Rows per reportlab Table: splitting a table across pages re-measures every row left, so one
# table of 30,000 rows costs minutes; tables of this many rows, each with the header, do not.
CHUNK_ROWS = 250


def _plain(value) -> str:
    """A value as the text a cell prints: no characters a PDF cannot hold."""
    text = "" if value is None else str(value)
    return strip_unsafe(text.replace("\r\n", "\n").replace("\r", "\n"))


def _markup(value) -> str:
    """Plain text as reportlab paragraph markup: escaped, line breaks kept."""
    text = _plain(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\n", "<br/>")


def _text_width(text: str, font: str) -> float:
    """Width of the widest line of ``text`` in cell type, in points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if "\n" in text:
        return max(stringWidth(line, font, CELL_SIZE) for line in text.split("\n"))
    return stringWidth(text, font, CELL_SIZE) if text else 0.0


def _widest_glyph(font: str) -> float:
    """The widest advance of any glyph of the font in cell type: text of n characters is
    at most n times this wide, so most cells need no measuring."""
    from reportlab.pdfbase.pdfmetrics import getFont

    face = getFont(font).face
    return max([face.defaultWidth, *face.charWidths.values()]) * CELL_SIZE / 1000


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


def _line_class():
    """A paragraph of one line, drawn as one string: a Paragraph parses markup and breaks
    lines, which a thousand-drill package pays for tens of thousands of headings."""
    from reportlab.platypus import Flowable

    class Line(Flowable):
        def __init__(self, text: str, style):
            super().__init__()
            self.text = text
            self.style = style

        def wrap(self, avail_width, avail_height):
            self.width, self.height = avail_width, self.style.leading
            return self.width, self.height

        def getSpaceBefore(self):
            return self.style.spaceBefore

        def getSpaceAfter(self):
            return self.style.spaceAfter

        def draw(self):
            # Where a Paragraph puts its first baseline: a leading down, less the font size.
            self.canv.setFont(self.style.fontName, self.style.fontSize)
            self.canv.drawString(0, self.style.leading - self.style.fontSize, self.text)

    return Line


def _deferred_class():
    """A flowable standing for a table chunk that is made only when the layout reaches it,
    so a long report holds one chunk's cells (and reportlab's per-cell styles) at a time."""
    from reportlab.platypus import Flowable

    class Deferred(Flowable):
        def __init__(self, make):
            super().__init__()
            self._make = make
            self._made = None

        def wrap(self, avail_width, avail_height):
            # Never fits as it is: the frame asks for a split, which makes the table.
            return avail_width, avail_height * 2 + 1

        def split(self, avail_width, avail_height):
            table = self._made or self._make()
            self._made = table
            _, height = table.wrap(avail_width, avail_height)
            if height <= avail_height:
                return [table]
            # [] when not even the first rows fit: the frame moves on and asks again.
            return table.split(avail_width, avail_height)

        def draw(self):
            pass

    return Deferred


def _plain_table_class():
    """reportlab's Table, drawing a one-line text cell with a single PDF text operation.

    Table draws each plain cell through canvas.drawString, which builds a text object per
    cell (a quarter of a million in the city's shortfall report); the operators written here
    are the ones drawString writes for a TrueType font: origin, subset font, string."""
    from reportlab.pdfbase.pdfmetrics import getFont
    from reportlab.platypus import Table

    class PlainTable(Table):
        def _drawCell(self, cellval, cellstyle, pos, size):
            if (
                type(cellval) is not str
                or "\n" in cellval
                or cellstyle.alignment != "LEFT"
                or cellstyle.valign not in ("TOP", "MIDDLE")
                or cellstyle.href
                or cellstyle.destination
                or cellstyle.direction
                or cellstyle.shaping
            ):
                return super()._drawCell(cellval, cellstyle, pos, size)
            font = getFont(cellstyle.fontname)
            if not getattr(font, "_dynamicFont", False):
                return super()._drawCell(cellval, cellstyle, pos, size)
            canv = self.canv
            if self._curcellstyle is not cellstyle:
                cur = self._curcellstyle
                if cur is None or cellstyle.color != cur.color:
                    canv.setFillColor(cellstyle.color)
                self._curcellstyle = cellstyle
            if not cellval:
                return
            colpos, rowpos = pos
            rowheight = size[1]
            fontsize = cellstyle.fontsize
            if cellstyle.valign == "TOP":
                y = rowpos + rowheight - cellstyle.topPadding - fontsize
            else:
                pad = cellstyle.bottomPadding - cellstyle.topPadding
                y = rowpos + (pad + rowheight + cellstyle.leading) / 2.0 - fontsize
            x = colpos + cellstyle.leftPadding
            doc = canv._doc
            ops = [f"BT 1 0 0 1 {x:.3f} {y:.3f} Tm"]
            for subset, text in font.splitString(cellval, doc):
                name = font.getSubsetInternalName(subset, doc)
                ops.append(f"{name} {fontsize:g} Tf ({canv._escape(text)}) Tj")
            ops.append("ET")
            canv._code.append(" ".join(ops))

    return PlainTable


def pdf_document(
    title: str,
    meta: Sequence[str],
    blocks: Sequence[PdfBlock],
    *,
    signature_line: str | None = None,
    landscape_page: bool = True,
) -> bytes:
    """A printable document: title, facts, then headings, paragraphs, label/value blocks and
    tables, page numbers, an optional signature line. All text is drawn in the embedded
    font (``readiness.pdf_fonts``), so it prints the same on any machine."""
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import (
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )

    font = pdf_fonts.register()
    # Page streams compressed but not also ASCII85-encoded: that encoding is pure Python
    # without reportlab's C accelerator, a fifth of the time of a 3,000-page package.
    rl_config.useA85 = 0
    PlainTable = _plain_table_class()
    Line = _line_class()
    Deferred = _deferred_class()
    pagesize = landscape(A4) if landscape_page else A4
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=pagesize,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=_plain(title),
        # Without this the canvas starts in Helvetica, listed (unembedded) even if unused.
        initialFontName=font,
    )
    title_style = ParagraphStyle("t", fontName=font, fontSize=16, leading=22, spaceAfter=4)
    part_style = ParagraphStyle(
        "p", fontName=font, fontSize=14, leading=19, spaceBefore=8, spaceAfter=2
    )
    head_style = ParagraphStyle("h", fontName=font, fontSize=12, leading=16, spaceBefore=6)
    meta_style = ParagraphStyle("m", fontName=font, fontSize=9, leading=13)
    text_style = ParagraphStyle("x", fontName=font, fontSize=9, leading=13, spaceAfter=2)
    cell_style = ParagraphStyle("c", fontName=font, fontSize=CELL_SIZE, leading=CELL_LEADING)
    grid = [
        # Tables set each cell's font, Paragraph or not: Helvetica unless told.
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), CELL_SIZE),
        ("LEADING", (0, 0), (-1, -1), CELL_LEADING),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]

    glyph = _widest_glyph(font)

    def row_cells(texts: Sequence[str], col_widths: Sequence[float]) -> list:
        # A plain string costs a fraction of a Paragraph; only text that must wrap gets one.
        out = []
        for text, col in zip(texts, col_widths, strict=False):
            if text and ("\n" in text or _wider_than(text, col - 2 * CELL_PAD, font, glyph)):
                out.append(Paragraph(_markup(text), cell_style))
            else:
                out.append(text)
        return out

    def widths(relative):
        total = sum(relative)
        return [doc.width * w / total for w in relative]

    def tables(header, rows, col_widths, style, *, split_in_row: int, repeat: bool):
        # Long tables in chunks, each starting with the header (and repeating it per page).
        def make(chunk):
            data = ([row_cells(header, col_widths)] if header is not None else []) + [
                row_cells(r, col_widths) for r in chunk
            ]
            table = PlainTable(
                data,
                repeatRows=1 if repeat else 0,
                colWidths=col_widths,
                splitInRow=split_in_row,
            )
            table.setStyle(style)
            return table

        if not rows:
            return [Deferred(lambda: make([]))] if header is not None else []
        # Every table deferred, short ones too: a package of thousands of drills would
        # otherwise hold all its tables (and a style object per cell) until the end.
        return [
            Deferred(lambda chunk=rows[start : start + CHUNK_ROWS]: make(chunk))
            for start in range(0, len(rows), CHUNK_ROWS)
        ]

    # Titles and facts are plain text too: a "<" in a reason must not break the layout.
    story = [Paragraph(_markup(title), title_style)]
    story += [Paragraph(_markup(line), meta_style) for line in meta]
    facts_style = TableStyle(
        [
            *grid,
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f4f6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    facts_widths = widths([1, 4])
    table_styles = {
        split: TableStyle(
            [
                *grid,
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
                ("VALIGN", (0, 0), (-1, -1), "TOP" if split else "MIDDLE"),
            ]
        )
        for split in (True, False)
    }

    def paragraph(value, style):
        text = _plain(value)
        if text and "\n" not in text and stringWidth(text, font, style.fontSize) <= doc.width:
            return Line(text, style)
        return Paragraph(_markup(text), style)

    for block in blocks:
        if isinstance(block, PdfHeading):
            story.append(paragraph(block.text, part_style if block.level == 1 else head_style))
        elif isinstance(block, PdfText):
            story.append(paragraph(block.text, text_style))
        elif isinstance(block, PdfSpace):
            story.append(Spacer(1, block.mm * mm))
        elif isinstance(block, PdfPageBreak):
            story.append(PageBreak())
        elif isinstance(block, PdfFacts):
            story += tables(
                None,
                [[_plain(k), _plain(v)] for k, v in block.rows],
                facts_widths,
                facts_style,
                split_in_row=12,
                repeat=False,
            )
        elif isinstance(block, PdfTable):
            header = [_plain(h) for h in block.header]
            rows = [[_plain(v) for v in row] for row in block.rows]
            col_widths = (
                widths(block.widths)
                if block.widths
                else column_widths(header, rows, doc.width, font)
            )
            story += tables(
                header,
                rows,
                col_widths,
                table_styles[block.split_long_rows],
                split_in_row=12 if block.split_long_rows else 0,
                repeat=True,
            )
    if signature_line:
        story += [Spacer(1, 12 * mm), Paragraph(_markup(signature_line), meta_style)]

    def number_pages(canvas, doc_):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(pagesize[0] - 12 * mm, 8 * mm, f"{doc_.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=number_pages, onLaterPages=number_pages)
    return buf.getvalue()
