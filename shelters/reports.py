"""Shelter coverage as a table: the same rows for the page download and the API's files."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _

from readiness.exports import table_response
from readiness.pdf import PdfHeading, PdfTable, PdfText, pdf_document
from shelters.coverage import CoverageReport


def percent(part: int, whole: int) -> str:
    """part/whole as a percentage with one decimal, rounded half up in exact decimals
    (7/12 is "58.3%", 1/16 is "6.3%"); "0.0%" when there is nothing to divide by."""
    if not whole:
        return "0.0%"
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{value}%"


def target_percent(target: Decimal) -> str:
    """The target as people write it: 0.6 is "60%", 0.725 is "72.5%"."""
    return f"{(Decimal(target) * 100).normalize():f}%"


def coverage_header() -> list[str]:
    return [
        _("镇/街道代码"),
        _("镇/街道"),
        _("村/社区数"),
        _("已覆盖"),
        _("覆盖率"),
        _("容量足够的覆盖"),
        _("场所容量（人）"),
        _("需转移人口"),
        _("达标尚需覆盖"),
        _("未覆盖的村/社区"),
    ]


def coverage_rows(report: CoverageReport):
    for t in report.towns:
        yield [
            t.town.code if t.town else "",
            t.town.name if t.town else "",
            t.villages,
            t.covered,
            percent(t.covered, t.villages),
            t.covered_with_capacity,
            t.capacity,
            t.to_relocate,
            t.needed,
            _("、").join(t.uncovered),
        ]
    yield [
        "",
        _("合计"),
        report.villages,
        report.covered,
        percent(report.covered, report.villages),
        report.covered_with_capacity,
        report.capacity,
        report.to_relocate,
        report.needed,
        "",
    ]


def coverage_meta(report: CoverageReport, today: date, scope_label: str | None) -> list[str]:
    meta = [
        _("覆盖率目标：{target}").format(target=target_percent(report.target)),
        _("统计日期：{date}").format(date=today.isoformat()),
        _("共 {villages} 个村/社区，已覆盖 {covered} 个（{pct}），达标尚需覆盖 {needed} 个").format(
            villages=report.villages,
            covered=report.covered,
            pct=percent(report.covered, report.villages),
            needed=report.needed,
        ),
        _("覆盖：村/社区至少由一个已规范化验收且启用的场所服务。"),
    ]
    if scope_label:
        meta.insert(0, _("统计范围：{scope}").format(scope=scope_label))
    return meta


def coverage_pdf(report: CoverageReport, today: date, scope_label: str | None = None) -> bytes:
    towns = {t.town_id: t.town for t in report.towns}
    blocks = [
        PdfHeading(_("一、各镇/街道覆盖情况")),
        PdfTable(coverage_header()[:-1], [row[:-1] for row in coverage_rows(report)]),
        PdfHeading(_("二、未覆盖的村/社区")),
    ]
    uncovered_rows = [
        [t.town.name if t.town else "", len(t.uncovered), _("、").join(t.uncovered)]
        for t in report.towns
        if t.uncovered
    ]
    if uncovered_rows:
        blocks.append(
            PdfTable([_("镇/街道"), _("个数"), _("村/社区")], uncovered_rows, widths=[2, 1, 9])
        )
    else:
        blocks.append(PdfText(_("所有村/社区均已覆盖。")))
    if report.candidates:
        blocks.append(PdfHeading(_("三、规范化验收并启用后可增加覆盖的场所")))
        blocks.append(
            PdfTable(
                [_("场所"), _("镇/街道"), _("可增加覆盖的村/社区")],
                [
                    [c.name, towns[c.town_id].name if towns.get(c.town_id) else "", c.would_cover]
                    for c in report.candidates
                ],
            )
        )
    return pdf_document(
        _("避灾安置场所覆盖率统计表"),
        coverage_meta(report, today, scope_label),
        blocks,
        signature_line=_("制表人：__________    审核人：__________    日期：__________"),
    )


def coverage_download(
    fmt: str,
    report: CoverageReport,
    *,
    today: date | None = None,
    scope_label: str | None = None,
):
    """CSV, XLSX or PDF of the coverage report, one row per town and a total row
    (None for another format: the caller renders the page)."""
    today = today or date.today()
    return table_response(
        fmt,
        f"shelter-coverage-{today.isoformat()}",
        coverage_header(),
        coverage_rows(report),
        pdf=lambda: coverage_pdf(report, today, scope_label),
    )
