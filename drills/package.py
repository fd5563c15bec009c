"""The inspection package (检查资料包): for a unit and a period, every drill it led or took
part in, with participants, ratings, findings and where each corrective action stands, as
one printable PDF and a ZIP of the files kept with them."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from flask_babel import format_datetime, get_timezone
from flask_babel import gettext as _gettext
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from drills.attachments import attachment_path
from drills.models import (
    ACTION_STATUSES,
    ATTACHMENT_KINDS,
    DRILL_STATUSES,
    ELEMENTS,
    FAMILIES,
    FORMS,
    RATINGS,
    SCOPES,
    Attachment,
    CorrectiveAction,
    Drill,
    Finding,
    drill_units,
)
from drills.reports import compliance_header, compliance_rows
from drills.requirements import ComplianceRow, compliance
from readiness.cells import csv_text
from readiness.errors import DomainError
from readiness.models import Unit, User
from readiness.pdf import (
    PdfBlock,
    PdfFacts,
    PdfHeading,
    PdfPageBreak,
    PdfSpace,
    PdfTable,
    PdfText,
    pdf_document,
)
from readiness.permissions import unit_ids_below

# While a package PDF is made: each text's translation and the time zone, looked up once
# (a year of a city's drills asks for the same few hundred labels 200,000 times, and each
# flask_babel lookup finds the request, the locale and the catalog again).
_memo: ContextVar[dict | None] = ContextVar("package_memo", default=None)


def _(text: str) -> str:
    """``text`` translated (flask_babel's gettext, remembered while a package is made)."""
    memo = _memo.get()
    if memo is None:
        return _gettext(text)
    value = memo.get(text)
    if value is None:
        value = memo[text] = _gettext(text)
    return value


def _label(lazy) -> str:
    """A lazily translated label as text, remembered like ``_`` while a package is made."""
    memo = _memo.get()
    if memo is None or isinstance(lazy, str):
        return str(lazy)
    key = ("label", id(lazy))  # the labels are module constants: ids stay theirs
    value = memo.get(key)
    if value is None:
        value = memo[key] = str(lazy)
    return value


MAX_YEARS = 3
OPEN_STATUSES = ("open", "in_progress")
WEAK_RATINGS = ("U", "M")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class PackageData:
    """Everything the PDF and the ZIP need, loaded up front."""

    unit: Unit
    start: date
    end: date
    today: date
    unit_ids: set[int]
    drills: list[Drill]
    # Drills still planned in the period: not held, so not listed, but counted on the cover.
    planned: int
    compliance: dict[int, list[ComplianceRow]] = field(default_factory=dict)
    # People named in the due-date history (DueDateChange keeps only their id).
    users: dict[int, User] = field(default_factory=dict)

    @property
    def actions(self) -> list[CorrectiveAction]:
        return [a for d in self.drills for a in drill_actions(d)]

    @property
    def attachments(self) -> list[Attachment]:
        return [a for d in self.drills for a in d.attachments]


def drill_actions(drill: Drill) -> list[CorrectiveAction]:
    return [a for f in drill.findings for a in f.actions]


def action_counts(actions: list[CorrectiveAction]) -> dict[str, int]:
    """Actions per status, every status listed (zeros included) in the usual order."""
    counts = Counter(a.status for a in actions)
    return {status: counts.get(status, 0) for status in ACTION_STATUSES}


def is_overdue(action: CorrectiveAction, today: date) -> bool:
    return action.status in OPEN_STATUSES and action.due_on < today


def is_evidence(attachment: Attachment) -> bool:
    return attachment.action_id is not None or attachment.kind == "evidence"


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, month=3, day=1)


def check_period(start, end) -> None:
    """From and to must both be dates, in order, at most three years apart."""
    if not isinstance(start, date):
        raise DomainError(_("请填写开始日期。"), field="from")
    if not isinstance(end, date):
        raise DomainError(_("请填写结束日期。"), field="to")
    if end < start:
        raise DomainError(_("结束日期不能早于开始日期。"), field="to")
    if end >= _years_later(start, MAX_YEARS):
        raise DomainError(
            _("期间不能超过 {n} 年：请分段生成检查资料包。").format(n=MAX_YEARS), field="to"
        )


def package_data(
    session: Session, unit: Unit, start: date, end: date, *, today: date | None = None
) -> PackageData:
    """Every drill held from ``start`` to ``end`` that the unit or a unit below it led or
    took part in, by date, with all that the package shows loaded in a fixed few queries."""
    check_period(start, end)
    today = today or date.today()
    ids = unit_ids_below(session, unit.id)
    involved = select(drill_units.c.drill_id).where(drill_units.c.unit_id.in_(ids))
    in_period = (
        Drill.held_on >= start,
        Drill.held_on <= end,
        or_(Drill.lead_unit_id.in_(ids), Drill.id.in_(involved)),
    )
    # As on the compliance page: a planned drill has not happened; a real response has.
    held = or_(Drill.status != "planned", Drill.is_real_incident)
    stmt = (
        select(Drill)
        .where(*in_period, held)
        .order_by(Drill.held_on, Drill.start_time.nulls_last(), Drill.id)
        .options(
            selectinload(Drill.kind_row),
            selectinload(Drill.lead_unit),
            selectinload(Drill.units),
            selectinload(Drill.items),
            selectinload(Drill.objectives),
            selectinload(Drill.findings).options(
                selectinload(Finding.objective),
                selectinload(Finding.actions).options(
                    selectinload(CorrectiveAction.owner),
                    selectinload(CorrectiveAction.unit),
                    selectinload(CorrectiveAction.verified_by),
                    selectinload(CorrectiveAction.due_changes),
                    selectinload(CorrectiveAction.attachments),
                ),
            ),
            selectinload(Drill.attachments).options(
                selectinload(Attachment.action), selectinload(Attachment.uploaded_by)
            ),
        )
    )
    drills = list(session.scalars(stmt))
    planned = session.scalar(select(func.count()).select_from(Drill).where(*in_period, ~held))
    data = PackageData(unit, start, end, today, ids, drills, planned or 0)
    for year in range(start.year, end.year + 1):
        data.compliance[year] = compliance(session, year, unit_ids=ids, today=today)
    changer_ids = {c.changed_by_id for a in data.actions for c in a.due_changes if c.changed_by_id}
    if changer_ids:
        data.users = {
            u.id: u for u in session.scalars(select(User).where(User.id.in_(changer_ids)))
        }
    return data


def package_filename(data: PackageData) -> str:
    """An ASCII file name: unit codes are ASCII, so any browser and any unzip tool cope."""
    return f"drill-package-{data.unit.code}-{data.start.isoformat()}-{data.end.isoformat()}"


# ---------------------------------------------------------------- PDF


def _person(user: User | None) -> str:
    if user is None:
        return _("（无）")
    name = f"{user.display_name}（{user.username}）" if user.name else user.username
    if not user.is_active:
        name += _("（账号已停用）")
    return name


def _when(value: datetime | None) -> str:
    if not value:
        return ""
    memo = _memo.get()
    if memo is None:
        return format_datetime(value, "yyyy-MM-dd HH:mm")
    tz = memo.get(("tz",))
    if tz is None:
        tz = memo[("tz",)] = get_timezone()
    # The same digits as format_datetime's pattern, without a locale lookup per value.
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _or_missing(text: str | None) -> str:
    return text if (text or "").strip() else _("（未填写）")


def _yes_no(value: bool) -> str:
    return _("是") if value else _("否")


def _unit_name(unit: Unit) -> str:
    return f"{unit.name}（{unit.code}）"


def _size(n: int) -> str:
    if n < 1024:
        return _("{n} 字节").format(n=n)
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _sha(value: str) -> str:
    # Printed in two halves: a 64-character word cannot wrap inside a table cell.
    return f"{value[:32]}\n{value[32:]}"


def _kind(kinds: dict[str, tuple[str, str]], drill: Drill) -> tuple[str, str]:
    label, family = kinds.get(drill.kind) or (drill.kind_row.label, drill.kind_row.family)
    return label, _label(FAMILIES.get(family, family))


def _rating(rating: str | None) -> str:
    if not rating:
        return _("未评价")
    return f"{rating} {_label(RATINGS.get(rating, ''))}"


def _status(action: CorrectiveAction, today: date) -> str:
    text = _label(ACTION_STATUSES.get(action.status, action.status))
    if is_overdue(action, today):
        text += _("（已逾期 {n} 天）").format(n=(today - action.due_on).days)
    return text


def _times(drill: Drill) -> str:
    if drill.start_time is None and drill.end_time is None:
        return _("（未填写）")
    start = drill.start_time.strftime("%H:%M") if drill.start_time else "?"
    end = drill.end_time.strftime("%H:%M") if drill.end_time else "?"
    return f"{start}–{end}"


def _summary_blocks(data: PackageData, kinds: dict[str, tuple[str, str]]) -> list[PdfBlock]:
    blocks: list[PdfBlock] = [PdfHeading(_("一、汇总"), level=1)]
    by_kind: dict[str, list[Drill]] = {}
    for drill in data.drills:
        by_kind.setdefault(drill.kind, []).append(drill)
    order = {code: n for n, code in enumerate(kinds)}
    rows = []
    for code in sorted(by_kind, key=lambda c: (order.get(c, len(order)), c)):
        drills = by_kind[code]
        label, family = _kind(kinds, drills[0])
        rows.append(
            [
                label,
                family,
                len(drills),
                sum(d.participants for d in drills),
                sum(1 for d in drills if d.is_real_incident),
            ]
        )
    rows.append(
        [
            _("合计"),
            "",
            len(data.drills),
            sum(d.participants for d in data.drills),
            sum(1 for d in data.drills if d.is_real_incident),
        ]
    )
    blocks += [
        PdfHeading(_("（一）各类演练次数及参演人数")),
        PdfTable(
            [_("演练类型"), _("国际类别"), _("次数"), _("参演人数合计"), _("其中实战响应")],
            rows,
            widths=[3, 2, 1, 1.5, 1.5],
        ),
    ]
    actions = data.actions
    counts = action_counts(actions)
    status_rows: list[list] = [[_label(label), counts[s]] for s, label in ACTION_STATUSES.items()]
    status_rows.append([_("合计"), len(actions)])
    blocks += [
        PdfHeading(_("（二）整改事项状态")),
        PdfTable([_("状态"), _("数量")], status_rows, widths=[3, 1]),
    ]
    overdue = sorted(
        (a for a in actions if is_overdue(a, data.today)), key=lambda a: (a.due_on, a.id)
    )
    blocks.append(
        PdfHeading(
            _("（三）逾期未完成的整改事项（截至 {date}）").format(date=data.today.isoformat())
        )
    )
    if overdue:
        blocks.append(
            PdfTable(
                [
                    _("编号"),
                    _("整改事项"),
                    _("来自演练"),
                    _("负责人"),
                    _("责任单位"),
                    _("完成期限"),
                    _("逾期天数"),
                    _("状态"),
                ],
                [
                    [
                        a.id,
                        a.text,
                        a.finding.drill.title,
                        _person(a.owner),
                        a.unit.name,
                        a.due_on.isoformat(),
                        (data.today - a.due_on).days,
                        _label(ACTION_STATUSES[a.status]),
                    ]
                    for a in overdue
                ],
                widths=[1, 4, 3, 2, 2, 1.8, 1.2, 1.5],
            )
        )
    else:
        blocks.append(PdfText(_("无。")))
    weak = [
        (d, n, o)
        for d in data.drills
        for n, o in enumerate(d.objectives, start=1)
        if o.rating in WEAK_RATINGS
    ]
    blocks.append(PdfHeading(_("（四）目标评价为 U（未能完成）或 M（存在重大问题）的演练")))
    if weak:
        blocks.append(
            PdfTable(
                [_("日期"), _("演练"), _("目标"), _("评价")],
                [
                    [d.held_on.isoformat(), d.title, f"{n}. {o.text}", _rating(o.rating)]
                    for d, n, o in weak
                ],
                widths=[1.5, 3, 4, 2],
            )
        )
    else:
        blocks.append(PdfText(_("无。")))
    return blocks


def _compliance_blocks(data: PackageData, kinds: dict[str, tuple[str, str]]) -> list[PdfBlock]:
    blocks: list[PdfBlock] = [PdfHeading(_("二、演练达标情况"), level=1)]
    blocks.append(
        PdfText(
            _(
                "按演练要求统计本单位及下级单位全年的演练（含期间以外、截至 {date} 已举行的演练）。"
            ).format(date=data.today.isoformat())
        )
    )
    for year, rows in data.compliance.items():
        blocks.append(PdfHeading(_("{year} 年").format(year=year)))
        if rows:
            blocks.append(
                PdfTable(
                    compliance_header(),
                    list(compliance_rows(rows, kinds)),
                    widths=[1.5, 2.5, 2.5, 1, 1, 1.6, 1.6, 1.2],
                )
            )
        else:
            blocks.append(PdfText(_("本单位及下级单位没有适用的演练要求。")))
    return blocks


def _due_history(action: CorrectiveAction, users: dict[int, User]) -> str:
    lines = []
    for c in action.due_changes:
        who = _person(users.get(c.changed_by_id)) if c.changed_by_id else _("系统")
        lines.append(
            _("{old} 改为 {new}，原因：{reason}（{who}，{when}）").format(
                old=c.old_due_on.isoformat(),
                new=c.new_due_on.isoformat(),
                reason=c.reason,
                who=who,
                when=_when(c.changed_at),
            )
        )
    return "\n".join(lines) or _("未改期")


def _drill_blocks(
    data: PackageData, n: int, drill: Drill, kinds: dict[str, tuple[str, str]]
) -> list[PdfBlock]:
    label, family = _kind(kinds, drill)
    sep = _("、")
    blocks: list[PdfBlock] = [
        PdfHeading(
            _("（{n}）{date} {title}").format(
                n=n, date=drill.held_on.isoformat(), title=drill.title
            )
        ),
        PdfFacts(
            [
                (_("演练日期"), drill.held_on.isoformat()),
                (_("起止时间"), _times(drill)),
                (
                    _("时长"),
                    _("{n} 分钟").format(n=drill.duration_minutes)
                    if drill.duration_minutes
                    else _("（未填写）"),
                ),
                (
                    _("演练类型"),
                    _("{kind}（国际类别：{family}）").format(kind=label, family=family),
                ),
                (
                    _("形式 / 范围"),
                    f"{_label(FORMS.get(drill.form, drill.form))} / "
                    f"{_label(SCOPES.get(drill.scope, drill.scope))}",
                ),
                (_("状态"), _label(DRILL_STATUSES.get(drill.status, drill.status))),
                (_("组织单位"), _unit_name(drill.lead_unit)),
                (_("参演单位"), sep.join(_unit_name(u) for u in drill.units) or _("（无）")),
                (_("参演人数"), drill.participants),
                (_("参演人员名单"), _or_missing(drill.roster)),
                (_("地点"), _or_missing(drill.location)),
                (_("灾种 / 险情"), _or_missing(drill.hazard)),
                (_("情景"), _or_missing(drill.scenario)),
                (_("实战响应"), _yes_no(drill.is_real_incident)),
                (_("器材实操训练"), _yes_no(drill.hands_on_training)),
                (
                    _("使用的装备"),
                    sep.join(f"{i.name}（{i.code}）" for i in drill.items) or _("（未填写）"),
                ),
            ]
        ),
        PdfHeading(_("演练目标与评价")),
    ]
    objective_no = {o.id: n for n, o in enumerate(drill.objectives, start=1)}
    if drill.objectives:
        blocks.append(
            PdfTable(
                [_("序号"), _("目标"), _("评价")],
                [[objective_no[o.id], o.text, _rating(o.rating)] for o in drill.objectives],
                widths=[0.7, 6, 3],
            )
        )
    else:
        blocks.append(PdfText(_("（未填写）")))
    for heading, text in (
        (_("演练目的"), drill.purpose),
        (_("演练经过"), drill.summary),
        (_("存在问题及原因"), drill.problems),
        (_("经验教训"), drill.lessons),
    ):
        blocks += [PdfHeading(heading), PdfText(_or_missing(text))]
    blocks.append(PdfHeading(_("发现的问题与整改")))
    if drill.findings:
        blocks.append(
            PdfTable(
                [_("序号"), _("类别"), _("内容"), _("关联目标"), _("整改事项")],
                [
                    [
                        n,
                        _("亮点") if f.is_strength else _("待改进"),
                        f.text,
                        _("目标 {n}").format(n=objective_no[f.objective_id])
                        if f.objective_id in objective_no
                        else "",
                        sep.join(_("第 {id} 号").format(id=a.id) for a in f.actions),
                    ]
                    for n, f in enumerate(drill.findings, start=1)
                ],
                widths=[0.7, 1.2, 6, 1.3, 1.8],
            )
        )
    else:
        blocks.append(PdfText(_("没有记录发现。")))
    for n, f in enumerate(drill.findings, start=1):
        for a in f.actions:
            evidence_files = sep.join(att.filename for att in a.attachments)
            blocks += [
                PdfSpace(2),
                PdfFacts(
                    [
                        (
                            _("整改第 {id} 号").format(id=a.id),
                            _("来自第 {n} 条发现：{text}").format(n=n, text=a.text),
                        ),
                        (_("能力要素"), _label(ELEMENTS.get(a.element, a.element))),
                        (_("负责人"), _person(a.owner)),
                        (_("责任单位"), _unit_name(a.unit)),
                        (_("完成期限"), a.due_on.isoformat()),
                        (_("期限调整记录"), _due_history(a, data.users)),
                        (_("状态"), _status(a, data.today)),
                        (_("报告完成时间"), _when(a.done_at) or "—"),
                        (_("整改证据"), a.evidence or _("（无）")),
                        (_("证据附件"), evidence_files or _("（无）")),
                        (_("验证人"), _person(a.verified_by) if a.verified_by else "—"),
                        (_("验证时间"), _when(a.verified_at) or "—"),
                        (_("取消原因"), a.cancel_reason or "—"),
                    ]
                ),
            ]
    blocks.append(PdfHeading(_("附件")))
    if drill.attachments:
        blocks.append(
            PdfTable(
                [_("文件名"), _("类别"), _("整改事项"), _("大小"), "SHA-256", _("上传")],
                [
                    [
                        att.filename,
                        _label(ATTACHMENT_KINDS.get(att.kind, att.kind)),
                        _("第 {id} 号").format(id=att.action_id) if att.action_id else "",
                        _size(att.size_bytes),
                        _sha(att.sha256),
                        f"{_when(att.uploaded_at)}\n{_person(att.uploaded_by)}"
                        if att.uploaded_by
                        else _when(att.uploaded_at),
                    ]
                    for att in drill.attachments
                ],
                widths=[3, 1.2, 1.2, 1.3, 4.6, 2.4],
            )
        )
    else:
        blocks.append(PdfText(_("无附件。")))
    return blocks


def package_pdf(
    data: PackageData,
    *,
    kinds: dict[str, tuple[str, str]],
    generated_at: datetime,
    generated_by: User,
    release: bool = False,
) -> bytes:
    """The package as one Chinese A4 PDF: cover facts, summary, compliance, then every drill
    with its facts, ratings, narrative, findings, corrective actions and files.

    With ``release`` each drill is let go once its pages are laid out and ``data.drills`` is
    left empty: for a download that needs nothing more of them (the ZIP takes its
    ``zip_plan`` first), so a year of a city's drills is not held while the PDF is written."""
    token = _memo.set({})
    try:
        return _package_pdf(data, kinds, generated_at, generated_by, release)
    finally:
        _memo.reset(token)


def _cover(data: PackageData, generated_at: datetime, generated_by: User) -> PdfFacts:
    actions = data.actions
    overdue = sum(1 for a in actions if is_overdue(a, data.today))
    held_note = _("{n} 次").format(n=len(data.drills))
    if data.planned:
        held_note += _("（另有计划中、尚未实施的演练 {n} 次，未列入）").format(n=data.planned)
    return PdfFacts(
        [
            (
                _("单位"),
                _("{unit}及其下级单位（共 {n} 个单位）").format(
                    unit=_unit_name(data.unit), n=len(data.unit_ids)
                ),
            ),
            (
                _("期间"),
                _("{start} 至 {end}").format(
                    start=data.start.isoformat(), end=data.end.isoformat()
                ),
            ),
            (_("生成时间"), _when(generated_at)),
            (_("生成人"), _person(generated_by)),
            (_("演练"), held_note),
            (
                _("整改事项"),
                _("{n} 项，其中逾期未完成 {overdue} 项").format(n=len(actions), overdue=overdue),
            ),
            (_("附件"), _("{n} 个（另见 ZIP 资料包）").format(n=len(data.attachments))),
        ]
    )


def _package_pdf(
    data: PackageData, kinds, generated_at: datetime, generated_by: User, release: bool
) -> bytes:
    # Only values from here on: no list of the period's actions outlives the cover.
    cover: list[PdfBlock] = [
        _cover(data, generated_at, generated_by),
        PdfSpace(),
        *_summary_blocks(data, kinds),
        *_compliance_blocks(data, kinds),
        PdfPageBreak(),
        PdfHeading(_("三、演练明细"), level=1),
    ]

    def blocks() -> Iterator[PdfBlock]:
        # Made drill by drill as the layout asks for them: a year of a city's drills would
        # otherwise hold every block of every drill until the last page is laid out.
        yield from cover
        drills = data.drills
        if release:
            data.drills = []
        if not drills:
            yield PdfText(_("本期间没有已实施的演练。"))
        for i in range(len(drills)):
            drill = drills[i]
            if release:
                drills[i] = None
            if i:
                yield PdfPageBreak()
            yield from _drill_blocks(data, i + 1, drill, kinds)
            # A drill and its findings and actions point at each other: Python's collector
            # frees them as it goes (collecting by hand every few hundred drills cost more
            # time than it saved memory).
            del drill
        yield PdfSpace(10)
        yield PdfText(_("以上内容由系统根据演练记录自动生成。"))

    return pdf_document(
        _("{unit}演练检查资料包").format(unit=data.unit.name),
        [],
        blocks(),
        signature_line=_(
            "单位负责人（签字）：__________  日期：__________    "
            "检查组（签字）：__________  日期：__________"
        ),
        landscape_page=False,
    )


# ---------------------------------------------------------------- ZIP

# Characters Windows refuses in names, and names it reserves.
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(10)}
_STORED_TYPES = ("image/", "application/vnd.openxmlformats")


def safe_name(raw: str, limit: int = 80) -> str:
    """A file or folder name every unzip tool accepts: no separators, no control or
    reserved characters, no leading dots, not too long (the extension is kept)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: limit - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:limit].rstrip(" .")
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    return name or "_"


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``… before the extension; case-insensitive like Windows."""
    candidate, n = name, 1
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = name, "", ""
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    taken.add(candidate.casefold())
    return candidate


@dataclass(frozen=True)
class PackedFile:
    """A stored file as the ZIP holds it: its path in the archive and its manifest facts."""

    path: str
    drill_title: str
    held_on: date
    kind: str
    filename: str
    action_id: int | None
    size_bytes: int
    sha256: str
    content_type: str
    uploaded_at: datetime


@dataclass(frozen=True)
class ZipPlan:
    """What the ZIP holds besides the PDF, in plain values: taken before the PDF is made,
    so the PDF may let the drills go as it prints them."""

    name: str
    files: list[PackedFile]


def zip_plan(data: PackageData) -> ZipPlan:
    """Each drill's files in a folder ``<date>_<title>/``, evidence in its ``整改证据/``
    subfolder, every name safe and unique."""
    name = package_filename(data)
    folders: set[str] = {(name + ".pdf").casefold(), "manifest.csv"}
    files = []
    for drill in data.drills:
        if not drill.attachments:
            continue
        folder = _unique(safe_name(f"{drill.held_on.isoformat()}_{drill.title}", limit=60), folders)
        names: set[str] = set()
        evidence_names: set[str] = set()
        for att in drill.attachments:
            if is_evidence(att):
                prefix = _("整改{id}_").format(id=att.action_id) if att.action_id else ""
                unique = _unique(safe_name(prefix + att.filename), evidence_names)
                path = f"{folder}/{safe_name(_('整改证据'))}/{unique}"
            else:
                path = f"{folder}/{_unique(safe_name(att.filename), names)}"
            files.append(
                PackedFile(
                    path=path,
                    drill_title=drill.title,
                    held_on=drill.held_on,
                    kind=_label(ATTACHMENT_KINDS.get(att.kind, att.kind)),
                    filename=att.filename,
                    action_id=att.action_id,
                    size_bytes=att.size_bytes,
                    sha256=att.sha256,
                    content_type=att.content_type,
                    uploaded_at=att.uploaded_at,
                )
            )
    return ZipPlan(name, files)


def _copy_into(zf: zipfile.ZipFile, source: Path, file: PackedFile) -> tuple[int, str]:
    """Copy a stored file into the archive; return its size and actual SHA-256."""
    info = zipfile.ZipInfo(file.path, date_time=file.uploaded_at.timetuple()[:6])
    stored = file.content_type.startswith(_STORED_TYPES)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as fh, zf.open(info, "w") as out:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def package_zip(data: PackageData, pdf_bytes: bytes, storage_dir: Path) -> bytes:
    """The PDF at the root, each drill's files in a folder ``<date>_<title>/`` (evidence in
    its ``整改证据/`` subfolder) and manifest.csv with every file's size and SHA-256. A file
    missing from storage is listed as missing, and one whose bytes no longer match the
    recorded SHA-256 is flagged, rather than failing the whole package."""
    return write_zip(zip_plan(data), pdf_bytes, storage_dir)


def write_zip(plan: ZipPlan, pdf_bytes: bytes, storage_dir: Path) -> bytes:
    """The ZIP of ``package_zip`` from its plan and the PDF."""
    ok, missing = _("正常"), _("文件缺失")
    pdf_name = plan.name + ".pdf"
    manifest = [
        [
            _("文件路径"),
            _("演练"),
            _("演练日期"),
            _("类别"),
            _("原文件名"),
            _("整改事项"),
            _("大小（字节）"),
            "SHA-256",
            _("状态"),
        ],
        [
            pdf_name,
            "",
            "",
            _("检查资料包 PDF"),
            "",
            "",
            len(pdf_bytes),
            hashlib.sha256(pdf_bytes).hexdigest(),
            ok,
        ],
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        # The PDF's pages are compressed already: deflating them again costs time for nothing.
        zf.writestr(pdf_name, pdf_bytes, compress_type=zipfile.ZIP_STORED)
        for file in plan.files:
            row = [
                file.path,
                file.drill_title,
                file.held_on.isoformat(),
                file.kind,
                file.filename,
                file.action_id or "",
                file.size_bytes,
                file.sha256,
            ]
            source = (
                attachment_path(storage_dir, file.sha256)
                if SHA256_RE.match(file.sha256 or "")
                else None
            )
            if source is None or not source.is_file():
                manifest.append([*row, missing])
                continue
            size, actual = _copy_into(zf, source, file)
            if actual != file.sha256 or size != file.size_bytes:
                status = _("校验不符：实际 {size} 字节，SHA-256 {sha}").format(
                    size=size, sha=actual
                )
            else:
                status = ok
            manifest.append([*row, status])
        # Safe cells: a file name typed as "=..." must open as text in Excel, not run.
        zf.writestr("manifest.csv", csv_text(manifest[0], manifest[1:]).encode("utf-8"))
    return buf.getvalue()


def missing_files(data: PackageData, storage_dir: Path) -> list[Attachment]:
    """Attachments whose stored file is gone: shown before anyone hands the package over."""
    return [
        att
        for att in data.attachments
        if not SHA256_RE.match(att.sha256 or "")
        or not attachment_path(storage_dir, att.sha256).is_file()
    ]


def period_default(today: date) -> tuple[date, date]:
    """This calendar year."""
    return date(today.year, 1, 1), date(today.year, 12, 31)
