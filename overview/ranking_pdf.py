"""The bulletin's PDF (应急装备战备工作通报), made from the rows frozen when it was issued: it
prints the same however the actions change afterwards."""

from __future__ import annotations

from flask_babel import format_datetime
from flask_babel import gettext as _

from overview.models import Bulletin
from overview.ranking import period_of_bulletin
from readiness.pdf import PdfFacts, PdfHeading, PdfSpace, PdfTable, PdfText, pdf_document


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def ranking_header() -> list[str]:
    return [
        _("名次"),
        _("单位"),
        _("未销号"),
        _("逾期"),
        _("本期销号"),
        _("销号率"),
        _("标准配备率"),
        _("盘库逾期"),
        _("逾期演练"),
    ]


def ranking_cells(row: dict) -> list:
    """One unit's line, as the page and the PDF print it."""
    late_count = row.get("count_overdue")
    return [
        row["position"],
        f"{row['name']}（{row['code']}）",
        row["open"],
        row["overdue"],
        row["closed"],
        percent(row["rate"]),
        percent(row.get("coverage")),
        "—" if late_count is None else (_("是") if late_count else _("否")),
        "—" if row.get("drills_overdue") is None else row["drills_overdue"],
    ]


def summary(frozen: dict) -> str:
    t = frozen["totals"]
    return _(
        "本期参加排名单位 {units} 个，未销号整改事项 {open} 项，其中逾期 {overdue} 项；"
        "本期销号 {closed} 项，销号率 {rate}。"
    ).format(
        units=t["units"],
        open=t["open"],
        overdue=t["overdue"],
        closed=t["closed"],
        rate=percent(t["rate"]),
    )


def bulletin_pdf(bulletin: Bulletin) -> bytes:
    """The issued bulletin: number, period, issuer, a summary, the ranking, the units named,
    and a signature line."""
    frozen = bulletin.rows
    period = period_of_bulletin(bulletin)
    issuer = bulletin.issued_by
    by_code = {r["code"]: r for r in frozen["rows"]}
    named = [by_code[c] for c in frozen["named"] if c in by_code]
    blocks = [
        PdfFacts(
            [
                (_("期号"), bulletin.number),
                (_("统计期间"), period.label),
                (_("整改数据截至"), frozen["as_of"]),
                (_("签发单位"), bulletin.unit.name),
                (_("签发人"), issuer.display_name if issuer else _("系统")),
                (_("签发时间"), format_datetime(bulletin.issued_at, "yyyy-MM-dd HH:mm")),
            ]
        ),
        PdfSpace(),
        PdfText(summary(frozen)),
        PdfText(
            _(
                "销号率 = 本期销号 ÷（本期销号 + 未销号）；销号指已验证或经指挥人员取消，"
                "“已完成待验证”不算销号。逾期指截至统计日未销号、未报告完成且已过完成时限。"
                "标准配备率、盘库逾期和逾期演练为签发当日的数据。"
            )
        ),
        PdfHeading(_("一、整改工作排名")),
        PdfTable(
            ranking_header(),
            [ranking_cells(r) for r in frozen["rows"]],
            widths=[0.6, 3, 1, 1, 1, 1, 1.2, 1, 1],
        ),
        PdfHeading(_("二、通报单位")),
    ]
    if named:
        blocks.append(
            PdfText(_("以下单位存在逾期未完成的整改事项，予以通报，请于一周内说明原因并限期整改："))
        )
        blocks.append(
            PdfTable(
                [_("单位"), _("逾期"), _("未销号")],
                [[f"{r['name']}（{r['code']}）", r["overdue"], r["open"]] for r in named],
                widths=[3, 1, 1],
            )
        )
    else:
        blocks.append(PdfText(_("本期没有逾期未完成整改事项的单位。")))
    return pdf_document(
        _("应急装备战备工作通报"),
        [bulletin.number],
        blocks,
        signature_line=_("签发人（签字）：__________  日期：__________"),
        landscape_page=False,
    )
