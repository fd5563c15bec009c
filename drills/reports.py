"""Drill compliance as a table: the same rows for the page download and the API's files."""

from __future__ import annotations

from flask_babel import gettext as _

from drills.requirements import ComplianceRow
from readiness.exports import table_response
from readiness.pdf import pdf_table


def compliance_header() -> list[str]:
    return [
        _("单位代码"),
        _("单位"),
        _("演练类型"),
        _("要求"),
        _("已举行"),
        _("最近一次"),
        _("下次应在"),
        _("状态"),
    ]


def compliance_rows(rows: list[ComplianceRow], kinds: dict[str, tuple[str, str]]):
    labels = {"ok": _("达标"), "due": _("待举行"), "overdue": _("已逾期")}
    for r in rows:
        yield [
            r.unit.code,
            r.unit.name,
            kinds[r.drill_kind][0],
            r.required,
            r.held,
            r.last_held_on.isoformat() if r.last_held_on else "",
            r.next_due_on.isoformat() if r.next_due_on else "",
            labels[r.status],
        ]


def compliance_download(fmt: str, rows: list[ComplianceRow], kinds, year: int):
    """CSV, XLSX or PDF of the compliance report (None for another format)."""
    overdue = sum(1 for r in rows if r.status == "overdue")

    def pdf():
        return pdf_table(
            _("{year} 年演练达标情况").format(year=year),
            [_("共 {n} 项要求，已逾期 {overdue} 项").format(n=len(rows), overdue=overdue)],
            compliance_header(),
            list(compliance_rows(rows, kinds)),
        )

    return table_response(
        fmt, f"drill-compliance-{year}", compliance_header(), compliance_rows(rows, kinds), pdf=pdf
    )
