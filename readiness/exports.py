"""Tabular downloads shared by every report: CSV (UTF-8 with BOM for Excel) and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

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


def pdf_sections(
    title: str,
    meta: Sequence[str],
    sections: Sequence[tuple[str, Sequence[str], Sequence[Sequence]]],
    *,
    signature_line: str | None = None,
    landscape_page: bool = True,
) -> bytes:
    """A printable report: title, facts (date, version…), then titled tables that repeat
    their header on every page, page numbers, an optional signature line. Chinese renders
    with reportlab's built-in CID font, so no font file is needed."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

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
    head_style = ParagraphStyle("h", fontName=PDF_FONT, fontSize=12, leading=16, spaceBefore=6)
    meta_style = ParagraphStyle("m", fontName=PDF_FONT, fontSize=9, leading=13)
    cell_style = ParagraphStyle("c", fontName=PDF_FONT, fontSize=8, leading=10)

    def cell(value):
        text = "" if value is None else str(value)
        return Paragraph(text.replace("&", "&amp;").replace("<", "&lt;"), cell_style)

    story = [Paragraph(title, title_style)]
    story += [Paragraph(line, meta_style) for line in meta]
    for heading, header, rows in sections:
        story.append(Spacer(1, 4 * mm))
        if heading:
            story.append(Paragraph(heading, head_style))
        data = [[cell(h) for h in header]] + [[cell(v) for v in row] for row in rows]
        table = Table(data, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        story.append(table)
    if signature_line:
        story += [Spacer(1, 12 * mm), Paragraph(signature_line, meta_style)]

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
