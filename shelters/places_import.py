"""Reading a town's village list from a CSV or XLSX file, checking every row before anything
is written, and applying it with ``save_town`` per town.

Plain functions: no Flask. ``parse`` needs no database; ``compare`` and ``apply`` take a session.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from readiness.cells import csv_text
from readiness.errors import DomainError
from readiness.models import Unit
from readiness.text import first_unsafe, unsafe_message
from shelters import places
from shelters.models import Village

MAX_ROWS = 5000
# An XLSX is a zip: a 200 KB upload can unpack to hundreds of MB of XML. The members' sizes are
# added up from the zip's directory before openpyxl reads anything (zipfile never inflates a
# member past its declared size, so a directory that lies only yields a damaged file).
MAX_XLSX_UNPACKED = 20 * 1024 * 1024
EXTENSIONS = (".csv", ".xlsx")

# canonical key -> the headers accepted for it (compared without spaces, case-insensitively)
HEADERS = {
    "town_code": ("镇街代码", "镇/街道代码", "town_code"),
    "town_name": ("镇街名称", "镇/街道名称", "town_name"),
    "village": ("村社名称", "村/社区名称", "村社区名称", "village"),
    "kind": ("类型", "kind"),
    "population": ("人口", "population"),
    "to_relocate": ("需转移人口", "to_relocate"),
}
REQUIRED = ("town_code", "village", "population", "to_relocate")
KINDS_IN_FILE = {
    "": "village",
    "村": "village",
    "行政村": "village",
    "village": "village",
    "社区": "community",
    "community": "community",
}
TEMPLATE_HEADER = ["镇街代码", "镇街名称", "村社名称", "类型", "人口", "需转移人口"]
# Placeholders, not a real bureau's towns: the sample goes to every bureau's command staff.
TEMPLATE_ROWS = [
    ["XX", "某某街道", "某某村", "村", "2000", "300"],
    ["XX", "某某街道", "某某社区", "社区", "3000", "100"],
]
_INTEGER = re.compile(r"^-?\d+$")


_COLUMN_LABELS = {
    "town_code": _l("镇街代码"),
    "town_name": _l("镇街名称"),
    "village": _l("村社名称"),
    "kind": _l("类型"),
    "population": _l("人口"),
    "to_relocate": _l("需转移人口"),
}


def column_label(key: str) -> str:
    return str(_COLUMN_LABELS[key])


@dataclass
class ImportRow:
    """One village line of the file, checked; ``line`` is its row number in the file."""

    line: int
    town_code: str
    town_name: str
    village: places.VillageInput
    state: str = ""  # "new" | "changed" | "unchanged", set by compare()

    def record(self) -> list:
        v = self.village
        return [
            self.line,
            self.town_code,
            self.town_name,
            v.name,
            v.kind,
            v.population,
            v.to_relocate,
        ]


@dataclass
class Preview:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # error lines, so the preview can highlight them
    bad_lines: set[int] = field(default_factory=set)

    def error(self, message: str, line: int | None = None) -> None:
        self.errors.append(message)
        if line is not None:
            self.bad_lines.add(line)

    def records(self) -> list[list]:
        """The rows for the confirm form; a town's name only on its first row (keeps the
        hidden field small: a full 5,000-row file stays well under the form size limit)."""
        out, named = [], set()
        for r in self.rows:
            record = r.record()
            if r.town_code.lower() in named:
                record[2] = ""
            named.add(r.town_code.lower())
            out.append(record)
        return out

    def towns(self) -> dict[str, list[ImportRow]]:
        """The rows grouped by town code (as first written), in file order."""
        out: dict[str, list[ImportRow]] = {}
        for r in self.rows:
            out.setdefault(r.town_code.lower(), []).append(r)
        return out


def _row_error(preview: Preview, line: int, column: str, message: str) -> None:
    preview.error(
        _("第 {line} 行，{column}：{message}").format(line=line, column=column, message=message),
        line,
    )


def _cell(value) -> str | int:
    """A cell as text, or a whole number when the spreadsheet stored one."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else str(value)
    return str(value).strip()


def _read_csv(data: bytes) -> list[list]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError(_("无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV。"))
    try:
        return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
    except csv.Error:
        raise DomainError(_("CSV 文件格式不正确，无法读取。")) from None


def _read_xlsx(data: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        unpacked = sum(m.file_size for m in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise DomainError(_("无法读取该 XLSX 文件，请确认它是 Excel 工作簿。")) from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise DomainError(
            _("该 XLSX 文件解压后超过 {mb} MB，请删去多余内容或另存为 CSV 后再导入。").format(
                mb=MAX_XLSX_UNPACKED // (1024 * 1024)
            )
        )
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged or non-xlsx file
        raise DomainError(_("无法读取该 XLSX 文件，请确认它是 Excel 工作簿。")) from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            return []
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append([_cell(c) for c in row])
            if len(rows) > MAX_ROWS + 2:  # enough to say "too many" without reading it all
                break
        return rows
    finally:
        book.close()


def _header_map(header: Sequence) -> dict[str, int]:
    wanted = {
        alias.replace(" ", "").lower(): key for key, aliases in HEADERS.items() for alias in aliases
    }
    out: dict[str, int] = {}
    for index, title in enumerate(header):
        key = wanted.get(str(title).replace(" ", "").replace("\u3000", "").lower())
        if key and key not in out:
            out[key] = index
    return out


def number_or_text(value):
    """Digits (with thousands separators or a minus sign) as an int, so the service says
    "不能为负数" rather than "必须是整数" for -5; anything else as it is."""
    if isinstance(value, str):
        text = value.replace(",", "").replace("，", "").strip()
        if _INTEGER.match(text):
            return int(text)
    return value


def _check_row(preview: Preview, line: int, values: dict) -> ImportRow | None:
    for key, value in values.items():
        char = first_unsafe(value) if isinstance(value, str) else None
        if char is not None:
            _row_error(preview, line, column_label(key), unsafe_message(column_label(key), char))
            return None
    code = str(values.get("town_code", "")).strip()
    if not code:
        _row_error(preview, line, column_label("town_code"), _("请填写镇街代码。"))
        return None
    if len(code) > 32:
        _row_error(preview, line, column_label("town_code"), _("镇街代码不能超过 32 个字符。"))
        return None
    town_name = str(values.get("town_name", "")).strip()
    if len(town_name) > 100:
        _row_error(preview, line, column_label("town_name"), _("镇街名称不能超过 100 个字。"))
        return None
    kind_text = str(values.get("kind", "")).strip()
    kind = KINDS_IN_FILE.get(kind_text.lower(), kind_text)
    for key in ("population", "to_relocate"):
        if values.get(key, "") == "":
            _row_error(
                preview,
                line,
                column_label(key),
                _("请填写{field}。").format(field=column_label(key)),
            )
            return None
    raw = places.VillageInput(
        name=str(values.get("village", "")),
        population=number_or_text(values.get("population")),
        to_relocate=number_or_text(values.get("to_relocate")),
        kind=kind,
    )
    try:
        village = places._check_village(raw)
    except DomainError as err:
        column = {
            "village": column_label("village"),
            "population": column_label("population"),
            "to_relocate": column_label("to_relocate"),
            "kind": column_label("kind"),
        }.get(err.field or "", column_label("village"))
        _row_error(preview, line, column, err.message)
        return None
    return ImportRow(line, code, town_name, village)


def _check_rows(preview: Preview, rows: Iterable[tuple[int, dict]]) -> Preview:
    seen: dict[tuple[str, str], int] = {}
    names: dict[str, tuple[str, int]] = {}
    for line, values in rows:
        row = _check_row(preview, line, values)
        if row is None:
            continue
        key = (row.town_code.lower(), row.village.name)
        if key in seen:
            _row_error(
                preview,
                line,
                column_label("village"),
                _("{name} 与第 {first} 行重复。").format(name=row.village.name, first=seen[key]),
            )
            continue
        seen[key] = line
        if row.town_name:
            first = names.setdefault(row.town_code.lower(), (row.town_name, line))
            if first[0] != row.town_name:
                _row_error(
                    preview,
                    line,
                    column_label("town_name"),
                    _("镇街代码 {code} 的名称与第 {first} 行（{name}）不一致。").format(
                        code=row.town_code, first=first[1], name=first[0]
                    ),
                )
                continue
        preview.rows.append(row)
    # a town named on one row is named for all its rows
    for row in preview.rows:
        if not row.town_name and row.town_code.lower() in names:
            row.town_name = names[row.town_code.lower()][0]
    return preview


def parse(filename: str, data: bytes) -> Preview:
    """Read and check a village list (CSV in UTF-8, with or without BOM, or GBK/GB18030; or
    XLSX). Every problem is listed, each row's with its row number and column."""
    preview = Preview()
    name = (filename or "").lower().strip()
    if not name.endswith(EXTENSIONS):
        preview.error(_("只能导入 .csv 或 .xlsx 文件。"))
        return preview
    if not data:
        preview.error(_("文件是空的。"))
        return preview
    try:
        table = _read_xlsx(data) if name.endswith(".xlsx") else _read_csv(data)
    except DomainError as err:
        preview.error(err.message)
        return preview
    # the header is the first non-blank row
    numbered = [
        (n, row) for n, row in enumerate(table, start=1) if any(str(c).strip() for c in row)
    ]
    if not numbered:
        preview.error(_("文件是空的。"))
        return preview
    header_line, header = numbered[0]
    columns = _header_map(header)
    missing = [column_label(k) for k in REQUIRED if k not in columns]
    if missing:
        preview.error(
            _("第 {line} 行表头缺少列：{columns}。").format(
                line=header_line, columns=_("、").join(missing)
            ),
            header_line,
        )
        return preview
    body = numbered[1:]
    if not body:
        preview.error(_("文件中没有村/社区数据。"))
        return preview
    if len(body) > MAX_ROWS:
        preview.error(_("一次最多导入 {n} 行，请分批导入。").format(n=f"{MAX_ROWS:,}"))
        return preview
    return _check_rows(
        preview,
        (
            (
                line,
                {key: row[index] if index < len(row) else "" for key, index in columns.items()},
            )
            for line, row in body
        ),
    )


def from_records(records) -> Preview:
    """The rows a preview page carried back (``Preview.records()``), checked again from
    scratch: the browser's copy is never trusted."""
    preview = Preview()
    if not isinstance(records, list) or not records:
        preview.error(_("没有可导入的数据，请重新上传文件。"))
        return preview
    if len(records) > MAX_ROWS:
        preview.error(_("一次最多导入 {n} 行，请分批导入。").format(n=f"{MAX_ROWS:,}"))
        return preview
    rows = []
    for n, record in enumerate(records, start=1):
        if not isinstance(record, list) or len(record) != 7:
            preview.error(_("提交的数据格式不正确，请重新上传文件。"))
            return preview
        line = record[0] if isinstance(record[0], int) and not isinstance(record[0], bool) else n
        values = dict(zip(("town_code", "town_name", "village", "kind"), record[1:5], strict=True))
        values = {k: "" if v is None else str(v) for k, v in values.items()}
        values["population"] = record[5]
        values["to_relocate"] = record[6]
        rows.append((line, values))
    return _check_rows(preview, rows)


def compare(session: Session, preview: Preview) -> Preview:
    """Check the towns against the database (a new code needs a name; a code used by another
    kind of unit is refused) and mark each row new, changed or unchanged."""
    for rows in preview.towns().values():
        first = rows[0]
        town = session.scalar(select(Unit).where(func.lower(Unit.code) == first.town_code.lower()))
        if town is None:
            if not first.town_name:
                for r in rows:
                    _row_error(
                        preview,
                        r.line,
                        column_label("town_name"),
                        _("镇街代码 {code} 不存在，请填写镇街名称以新建。").format(
                            code=r.town_code
                        ),
                    )
            for r in rows:
                r.state = "new"
            continue
        if town.kind != "town":
            for r in rows:
                _row_error(
                    preview,
                    r.line,
                    column_label("town_code"),
                    _("代码 {code} 已被 {name} 使用，它不是镇/街道。").format(
                        code=town.code, name=town.name
                    ),
                )
            continue
        existing = {
            v.name: v for v in session.scalars(select(Village).where(Village.town_id == town.id))
        }
        for r in rows:
            old = existing.get(r.village.name)
            v = r.village
            if old is None:
                r.state = "new"
            elif (old.kind, old.population, old.to_relocate) != (
                v.kind,
                v.population,
                v.to_relocate,
            ):
                r.state = "changed"
            else:
                r.state = "unchanged"
    preview.errors.sort(key=_error_order(preview))
    return preview


def _error_order(preview: Preview):
    order = {message: n for n, message in enumerate(preview.errors)}

    def key(message: str):
        match = re.search(r"\d+", message)
        return (int(match.group()) if match else 0, order[message])

    return key


def apply(session: Session, preview: Preview, *, actor) -> list[places.TownSaved]:
    """Save every town's villages (the caller commits once, or rolls back on any refusal)."""
    if preview.errors:
        raise DomainError(preview.errors[0])
    saved = []
    for rows in preview.towns().values():
        saved.append(
            places.save_town(
                session,
                code=rows[0].town_code,
                name=rows[0].town_name,
                villages=[r.village for r in rows],
                actor=actor,
            )
        )
    return saved


def template_csv() -> bytes:
    """A sample file to fill in (UTF-8 with BOM, so Excel opens it in Chinese)."""
    return csv_text(TEMPLATE_HEADER, TEMPLATE_ROWS).encode("utf-8")
