"""Report tables and printable PDFs shared by the pages and the API."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _

from inventory.shortfall import Report
from inventory.stock import ExpiryRow
from readiness.exports import table_response
from readiness.pdf import pdf_sections, pdf_table


def shortfall_header() -> list[str]:
    return [
        _("单位"),
        _("物资"),
        _("应配"),
        _("在库"),
        _("过期"),
        _("在途"),
        _("已订购"),
        _("缺口"),
        _("待解决"),
        _("配备率"),
    ]


def shortfall_rows(report: Report):
    for r in report.rows:
        yield [
            r.unit.name,
            r.item.shown_name,
            r.required,
            r.on_hand,
            r.expired,
            r.inbound,
            r.on_order,
            r.gap,
            r.uncovered,
            f"{r.coverage:.0%}",
        ]


def editions_text(report: Report) -> str:
    """The editions a report was computed against (each unit follows its nearest one).
    Who published them is left out: a town's report must not name units above its reach."""
    return "；".join(
        _("第 {id} 版（{date} 起生效）").format(id=v.id, date=v.effective_from.isoformat())
        for v in report.versions
    )


def shortfall_pdf(report: Report) -> bytes:
    """The shortfall and budget as a finance bureau wants it: title, date, standard, totals."""
    meta = [
        _("截至日期：{date}").format(date=report.as_of.isoformat()),
        _("执行标准：{editions}").format(editions=editions_text(report))
        if report.versions
        else _("执行标准：尚未发布"),
        _("低于标准的单位：{n} 个；缺口金额合计 {total} 元；调剂后仍需采购 {buy} 元").format(
            n=report.units_below,
            total=f"{report.budget_total:,.2f}",
            buy=f"{report.to_buy_total:,.2f}",
        ),
    ]
    budget_header = [
        _("物资"),
        _("缺口合计"),
        _("待解决合计"),
        _("单价（元）"),
        _("金额（元）"),
        _("可调剂"),
        _("仍需采购"),
        _("采购金额（元）"),
    ]
    budget_rows = [
        [
            t.item.shown_name,
            t.gap,
            t.uncovered,
            f"{t.item.unit_cost:,.2f}",
            f"{t.cost:,.2f}",
            t.transferable,
            t.to_buy,
            f"{t.to_buy_cost:,.2f}",
        ]
        for t in report.items
        if t.gap
    ]
    budget_rows.append(
        [
            _("合计"),
            "",
            "",
            "",
            f"{report.budget_total:,.2f}",
            "",
            "",
            f"{report.to_buy_total:,.2f}",
        ]
    )
    transfer_rows = [
        [t.source.name, t.target.name, t.item.shown_name, t.qty] for t in report.transfers
    ]
    return pdf_sections(
        _("应急装备缺口及采购预算表"),
        meta,
        [
            (_("一、采购预算"), budget_header, budget_rows),
            (
                _("二、建议调剂"),
                [_("调出单位"), _("调入单位"), _("物资"), _("数量")],
                transfer_rows,
            ),
            (
                _("三、各单位缺口明细（缺得最多的排在前面）"),
                shortfall_header(),
                list(shortfall_rows(report)),
            ),
        ],
        signature_line=_("制表人：__________    审核人：__________    日期：__________"),
    )


def shortfall_download(fmt: str, report: Report):
    return table_response(
        fmt,
        "shortfall",
        shortfall_header(),
        shortfall_rows(report),
        pdf=lambda: shortfall_pdf(report),
    )


def expiry_header() -> list[str]:
    return [_("单位"), _("物资"), _("批次"), _("有效期至"), _("剩余天数"), _("数量")]


def expiry_rows(rows: list[ExpiryRow]):
    for r in rows:
        p = r.position
        yield [
            p.unit.name,
            p.item.shown_name,
            p.lot.code,
            p.lot.expires_on.isoformat(),
            r.days_left,
            p.qty,
        ]


def expiry_download(fmt: str, rows: list[ExpiryRow], days: int, today: date):
    def pdf():
        return pdf_table(
            _("临期及过期物资清单"),
            [_("{days} 天内到期及已过期；截至 {date}").format(days=days, date=today.isoformat())],
            expiry_header(),
            list(expiry_rows(rows)),
        )

    return table_response(fmt, "expiry", expiry_header(), expiry_rows(rows), pdf=pdf)
