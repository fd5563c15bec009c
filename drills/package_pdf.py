"""The inspection package's PDF: cover facts, summary, compliance, then every drill with its
facts, ratings, narrative, findings, corrective actions and files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from flask_babel import format_datetime, get_timezone

from drills.models import (
    ACTION_STATUSES,
    ATTACHMENT_KINDS,
    DRILL_STATUSES,
    ELEMENTS,
    FAMILIES,
    FORMS,
    RATINGS,
    SCOPES,
    CorrectiveAction,
    Drill,
)
from drills.package import WEAK_RATINGS, PackageData, _, _label, _memo, action_counts, is_overdue
from drills.reports import compliance_header, compliance_rows
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
            [
                _("演练类型"),
                _("演练类别（通用分类）"),
                _("次数"),
                _("参演人数合计"),
                _("其中实战响应"),
            ],
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


def _requests_and_returns(action: CorrectiveAction) -> str:
    """Extension requests not granted (waiting or refused; a granted one is a date change
    above) and every time the action was sent back for rework: the inspector sees what
    was asked, refused and returned, not only what was granted."""
    lines = []
    for e in action.extensions:
        if e.status == "approved":
            continue
        asked = _("申请延期至 {new}，原因：{reason}（{who}，{when}）").format(
            new=e.due_on.isoformat(),
            reason=e.reason,
            who=_person(e.requested_by),
            when=_when(e.requested_at),
        )
        if e.status == "pending":
            lines.append(asked + _("：待审批"))
        else:
            lines.append(
                asked
                + _("：已驳回，理由：{reason}（{who}，{when}）").format(
                    reason=e.decision_reason, who=_person(e.decided_by), when=_when(e.decided_at)
                )
            )
    for r in action.returns:
        lines.append(
            _("退回整改，理由：{reason}（{who}，{when}）").format(
                reason=r.reason, who=_person(r.returned_by), when=_when(r.returned_at)
            )
        )
    return "\n".join(lines) or "—"


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
                    _("{kind}（通用分类：{family}）").format(kind=label, family=family),
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
                    sep.join(f"{i.shown_name}（{i.code}）" for i in drill.items) or _("（未填写）"),
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
                        (_("延期申请与退回"), _requests_and_returns(a)),
                        (_("状态"), _status(a, data.today)),
                        (_("报告完成时间"), _when(a.done_at) or "—"),
                        (_("报告完成人"), _person(a.done_by) if a.done_by else "—"),
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
