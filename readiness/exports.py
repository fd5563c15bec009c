"""Downloads shared by every report: CSV (UTF-8 with BOM for Excel) and XLSX, both streamed and
both written through the safe cells of ``readiness.cells``, and the PDF response (the
documents themselves are made by ``readiness.pdf``)."""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence

import flask.globals
from flask import Response
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from readiness.cells import csv_row, csv_text, write_csv, xlsx_value
from readiness.db import db
from readiness.errors import DomainError

__all__ = [
    "csv_response",
    "csv_text",
    "pdf_response",
    "table_response",
    "write_csv",
    "xlsx_response",
]

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK_BYTES = 64 * 1024
# Rows of one XLSX download. openpyxl writes ~7,000 rows a second here, so this keeps a
# workbook well inside the worker timeout (and Excel's own limit is 1,048,576); longer tables
# download as CSV, which streams and which Excel opens too.
XLSX_MAX_ROWS = 100_000


class TooManyRows(DomainError):
    """A table too long for one XLSX download."""


def too_many_rows() -> TooManyRows:
    """The refusal of an XLSX over ``XLSX_MAX_ROWS`` rows, saying what to do instead."""
    return TooManyRows(
        _(
            "表格超过 {limit} 行，无法生成 XLSX：请缩小单位或日期范围，"
            "或下载 CSV（Excel 同样可以打开）。"
        ).format(limit=f"{XLSX_MAX_ROWS:,}")
    )


def _csv_chunks(header: Sequence, rows: Iterable[Sequence]) -> Iterator[str]:
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel on Chinese Windows opens UTF-8 only with a BOM
    writer = csv.writer(buf)
    writer.writerow(csv_row(header))
    for row in rows:
        writer.writerow(csv_row(row))
        if buf.tell() >= CHUNK_BYTES:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _in_request(chunks: Iterator[str]) -> tuple[Iterator[str], Callable[[], None]]:
    """Chunks of a download made after the view returned, as if still inside its request."""
    # Flask tears the request down (and Flask-SQLAlchemy closes the session) as soon as the
    # view returns, before the body is read; the rows still load lazily from that session,
    # read translations and the signed-in user. So the view's session is taken out of the
    # scope that teardown closes, and each chunk is made with the request's contexts pushed
    # and that session back in place. Pushing per chunk, not around the whole stream (as
    # ``stream_with_context`` does), means a download abandoned half-way closes cleanly
    # from wherever the server drops it.
    app_ctx = flask.globals.app_ctx._get_current_object()
    req_ctx = flask.globals.request_ctx._get_current_object()
    session = db.session()
    db.session.registry.clear()

    def release():
        chunks.close()
        session.close()

    def stream():
        try:
            while True:
                with app_ctx, req_ctx:
                    db.session.registry.set(session)
                    try:
                        chunk = next(chunks, None)
                    finally:
                        db.session.registry.clear()
                if chunk is None:
                    return
                yield chunk
        finally:
            release()

    return stream(), release


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    """A table as a CSV download, sent while its rows are read."""
    chunks = _csv_chunks(header, rows)
    # The first chunk is made before the response starts, so a query that fails outright is an
    # ordinary error page, not a download cut short after its header.
    first = next(chunks)

    rest, release = _in_request(chunks)

    def body():
        yield first
        yield from rest

    response = Response(
        body(),
        # content_type, not mimetype: werkzeug would append a second "; charset=utf-8"
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={filename}.csv"},
    )
    # A body never read (a HEAD request, a client gone) still gives its session back.
    response.call_on_close(release)
    return response


def _xlsx_row(ws, row: Sequence) -> list:
    cells = []
    for value in row:
        cell = WriteOnlyCell(ws, value=xlsx_value(value))
        if isinstance(cell.value, str):
            # openpyxl makes any text starting with "=" a formula; a typed title is never one.
            cell.data_type = "s"
        cells.append(cell)
    return cells


def xlsx_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    """A table as an XLSX download: written whole to a temporary file, then sent from it."""
    # Every row is written before the first byte goes out, so a failure is an error page and
    # never a truncated workbook; the file on disk (not memory) holds it while it is sent.
    fh = tempfile.TemporaryFile()  # noqa: SIM115 - closed once the response is sent
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    try:
        ws.append(_xlsx_row(ws, header))
        for n, row in enumerate(rows, 1):
            if n > XLSX_MAX_ROWS:
                raise too_many_rows()
            ws.append(_xlsx_row(ws, row))
        wb.save(fh)
        size = fh.tell()
        fh.seek(0)
    except BaseException:
        # Finish the half-written sheet now: left to the garbage collector it writes into a
        # closed file. openpyxl removes its own temporary files at exit.
        with contextlib.suppress(Exception):
            ws.close()
        fh.close()
        raise

    def body():
        try:
            while chunk := fh.read(CHUNK_BYTES):
                yield chunk
        finally:
            fh.close()

    response = Response(
        body(),
        mimetype=XLSX_MIMETYPE,
        headers={
            "Content-Disposition": f"attachment; filename={filename}.xlsx",
            # A client cut off mid-download sees fewer bytes than announced.
            "Content-Length": str(size),
        },
    )
    response.call_on_close(fh.close)
    return response


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
