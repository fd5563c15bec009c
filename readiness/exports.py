"""Downloads shared by every report: CSV (UTF-8 with BOM for Excel), XLSX, and the PDF response
(the documents themselves are made by ``readiness.pdf``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import Response
from openpyxl import Workbook


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
