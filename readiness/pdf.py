"""Printable PDF documents for every report: title, facts, headings, paragraphs and tables,
all text in the embedded font (``readiness.pdf_fonts``)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from readiness import pdf_fonts


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


def _markup(value) -> str:
    """Plain text as reportlab paragraph markup: escaped, line breaks kept."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r\n", "\n").replace("\n", "<br/>")


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
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    font = pdf_fonts.register()
    pagesize = landscape(A4) if landscape_page else A4
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=pagesize,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=title,
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
    cell_style = ParagraphStyle("c", fontName=font, fontSize=8, leading=10)
    grid = [
        # Tables set each cell's font, Paragraph or not: Helvetica unless told.
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]

    def cell(value):
        return Paragraph(_markup(value), cell_style)

    def widths(relative):
        if not relative:
            return None
        total = sum(relative)
        return [doc.width * w / total for w in relative]

    # Titles and facts are plain text too: a "<" in a reason must not break the layout.
    story = [Paragraph(_markup(title), title_style)]
    story += [Paragraph(_markup(line), meta_style) for line in meta]
    for block in blocks:
        if isinstance(block, PdfHeading):
            style = part_style if block.level == 1 else head_style
            story.append(Paragraph(_markup(block.text), style))
        elif isinstance(block, PdfText):
            story.append(Paragraph(_markup(block.text), text_style))
        elif isinstance(block, PdfSpace):
            story.append(Spacer(1, block.mm * mm))
        elif isinstance(block, PdfPageBreak):
            story.append(PageBreak())
        elif isinstance(block, PdfFacts):
            table = Table(
                [[cell(k), cell(v)] for k, v in block.rows],
                colWidths=widths([1, 4]),
                splitInRow=12,
            )
            table.setStyle(
                TableStyle(
                    [
                        *grid,
                        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f4f6")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.append(table)
        elif isinstance(block, PdfTable):
            data = [[cell(h) for h in block.header]] + [[cell(v) for v in r] for r in block.rows]
            table = Table(
                data,
                repeatRows=1,
                colWidths=widths(block.widths),
                splitInRow=12 if block.split_long_rows else 0,
            )
            table.setStyle(
                TableStyle(
                    [
                        *grid,
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP" if block.split_long_rows else "MIDDLE"),
                    ]
                )
            )
            story.append(table)
    if signature_line:
        story += [Spacer(1, 12 * mm), Paragraph(_markup(signature_line), meta_style)]

    def number_pages(canvas, doc_):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(pagesize[0] - 12 * mm, 8 * mm, f"{doc_.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=number_pages, onLaterPages=number_pages)
    return buf.getvalue()
