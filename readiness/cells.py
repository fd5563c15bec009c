"""Safe spreadsheet cells: every CSV and XLSX the app writes passes its values through here.

Text a spreadsheet would run as a formula (starting with ``= + - @``, TAB or CR) is written
as text: prefixed with ``'`` in CSV (the OWASP rule), a string cell in XLSX. Numbers stay
numbers, dates stay dates in XLSX, None is empty, and characters no record may hold are
stripped so an older record never breaks a download. No Flask here: services that write a
CSV into a ZIP or a sample file use ``csv_text``/``write_csv`` too.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO

from readiness.text import strip_unsafe

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# "-12" or "+3.5" written as text is still just a number to a spreadsheet (nothing runs), so a
# figure a report formatted itself keeps its sign; "-1+1" or "-cmd|..." does not match.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?%?")


def cell_text(value) -> str:
    """The text of one cell without the characters no record may hold."""
    return strip_unsafe(value if isinstance(value, str) else str(value))


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (or DDE command)."""
    return text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text)


def csv_cell(value):
    """One value as a CSV cell: numbers as they are, None empty, formula-like text after ``'``."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal | date | time):
        return value  # written as str() does: numbers and ISO dates, never a formula
    text = cell_text(value)
    return "'" + text if is_formula_like(text) else text


def xlsx_value(value):
    """One value as openpyxl should store it: numbers and dates typed, the rest plain text."""
    if value is None:
        return None
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        # Excel has no time zones and openpyxl refuses aware datetimes.
        return value.replace(tzinfo=None)
    if isinstance(value, date | time):
        return value
    return cell_text(value)


_FORMULA_FIRST = frozenset(FORMULA_START)
_AS_IS = (int, float, Decimal, date, time)


def csv_row(row: Sequence) -> list:
    """A row with every value made a safe CSV cell: the same rule as ``csv_cell``, written
    for the half-million-line downloads (most cells are plain printable text or numbers)."""
    out = []
    append = out.append
    for value in row:
        if value.__class__ is str:
            # isprintable() is one C call; only text that fails it (line breaks, controls,
            # bidi marks, wide spaces) pays for the regular expression.
            if not value.isprintable():
                value = strip_unsafe(value)
            if value and value[0] in _FORMULA_FIRST and not _PLAIN_NUMBER.fullmatch(value):
                value = "'" + value
        elif value is None:
            value = ""
        elif not isinstance(value, _AS_IS):
            value = csv_cell(value)
        append(value)
    return out


def csv_rows(rows: Iterable[Sequence]) -> Iterable[list]:
    """Rows with every value made a safe CSV cell."""
    for row in rows:
        yield csv_row(row)


def write_csv(fileobj: IO[str], header: Sequence | None, rows: Iterable[Sequence]) -> None:
    """Write a header and rows as safe CSV to a text file (no BOM: the caller opens the file)."""
    writer = csv.writer(fileobj)
    if header is not None:
        writer.writerow(csv_row(header))
    writer.writerows(csv_rows(rows))


def csv_text(header: Sequence | None, rows: Iterable[Sequence], *, bom: bool = True) -> str:
    """A whole safe CSV as text, BOM first so Excel on Chinese Windows reads it as UTF-8."""
    buf = io.StringIO()
    if bom:
        buf.write("\ufeff")
    write_csv(buf, header, rows)
    return buf.getvalue()
