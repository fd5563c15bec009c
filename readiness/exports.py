"""Downloads shared by every report: CSV (UTF-8 with BOM for Excel), XLSX and printable PDF."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask import Response
from openpyxl import Workbook

PDF_FONT = "STSong-Light"


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel on Chinese Windows opens UTF-8 only with a BOM
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return Response(
        buf.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={filename}.csv"},
    )


def xlsx_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename={filename}.xlsx"},
    )


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
    tables, page numbers, an optional signature line. Chinese renders with reportlab's
    built-in CID font, so no font file is needed."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import (
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
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
    )
    title_style = ParagraphStyle("t", fontName=PDF_FONT, fontSize=16, leading=22, spaceAfter=4)
    part_style = ParagraphStyle(
        "p", fontName=PDF_FONT, fontSize=14, leading=19, spaceBefore=8, spaceAfter=2
    )
    head_style = ParagraphStyle("h", fontName=PDF_FONT, fontSize=12, leading=16, spaceBefore=6)
    meta_style = ParagraphStyle("m", fontName=PDF_FONT, fontSize=9, leading=13)
    text_style = ParagraphStyle("x", fontName=PDF_FONT, fontSize=9, leading=13, spaceAfter=2)
    cell_style = ParagraphStyle("c", fontName=PDF_FONT, fontSize=8, leading=10)
    grid = [
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
        canvas.setFont(PDF_FONT, 8)
        canvas.drawRightString(pagesize[0] - 12 * mm, 8 * mm, f"{doc_.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=number_pages, onLaterPages=number_pages)
    return buf.getvalue()


def pdf_response(filename: str, content: bytes) -> Response:
    return Response(
        content,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename={filename}.pdf"},
    )


def table_response(fmt: str, filename: str, header, rows, *, pdf=None) -> Response | None:
    """CSV, XLSX or PDF of one table; None for HTML (the caller renders the page)."""
    if fmt == "csv":
        return csv_response(filename, header, rows)
    if fmt == "xlsx":
        return xlsx_response(filename, header, rows)
    if fmt == "pdf" and pdf is not None:
        return pdf_response(filename, pdf())
    return None
