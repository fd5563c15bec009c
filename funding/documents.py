"""The purchase request as a formal document (请示) for the party committee and the finance
bureau: title, number, addressee, basis, the table by receiving unit and item with subtotals,
the total in figures and in capital numerals (大写), then the signature and seal block."""

from __future__ import annotations

from itertools import groupby

from flask_babel import gettext as _

from funding.models import FUNDING_SOURCES, PurchaseRequest
from funding.money import capital, yuan
from readiness.pdf import PdfFacts, PdfSpace, PdfTable, PdfText, pdf_document


def filename(request: PurchaseRequest) -> str:
    return f"purchase-request-{request.id}"


def _day(value) -> str:
    return _("{y} 年 {m} 月 {d} 日").format(y=value.year, m=value.month, d=value.day)


def purchase_pdf(request: PurchaseRequest) -> bytes:
    """The request document, portrait A4, every character in the embedded font."""
    bureau = request.unit
    number = _("{bureau}〔{year}〕购字第 {id} 号").format(
        bureau=bureau.name, year=request.created_at.year, id=request.id
    )
    meta = [number]
    if request.status == "draft":
        meta.append(_("草稿，尚未报送"))
    rows, n = [], 0
    lines = sorted(request.lines, key=lambda ln: (ln.unit.code, ln.item.code))
    for _unit_id, group in groupby(lines, key=lambda ln: ln.unit_id):
        group = list(group)
        subtotal = sum((ln.amount for ln in group), start=group[0].amount * 0)
        for ln in group:
            n += 1
            rows.append(
                [
                    n,
                    ln.unit.name,
                    ln.item.shown_name,
                    ln.item.shown_uom,
                    ln.qty,
                    yuan(ln.unit_price),
                    yuan(ln.amount),
                ]
            )
        rows.append(["", group[0].unit.name, _("小计"), "", "", "", yuan(subtotal)])
    rows.append(["", _("合计"), "", "", sum(ln.qty for ln in lines), "", yuan(request.total)])
    blocks = [
        PdfText(f"{request.addressee}："),
        PdfText(request.basis),
        PdfSpace(),
        PdfTable(
            [
                _("序号"),
                _("接收单位"),
                _("物资"),
                _("计量单位"),
                _("数量"),
                _("单价（元）"),
                _("金额（元）"),
            ],
            rows,
            widths=[0.7, 2.6, 2.6, 1, 1, 1.6, 1.9],
        ),
        PdfSpace(),
        PdfFacts(
            [
                (_("合计金额（小写）"), "¥" + yuan(request.total)),
                (_("合计金额（大写）"), _("人民币") + capital(request.total)),
            ]
        ),
    ]
    if request.status in ("approved", "partly"):
        facts = [
            (_("批准金额（小写）"), "¥" + yuan(request.approved_amount)),
            (_("批准金额（大写）"), _("人民币") + capital(request.approved_amount)),
            (_("资金来源"), str(FUNDING_SOURCES.get(request.funding_source, ""))),
        ]
        if request.decision is not None:
            facts.append(
                (
                    _("集体决策"),
                    _("第 {id} 号，{date} 班子会议：{subject}").format(
                        id=request.decision.id,
                        date=request.decision.met_on.isoformat(),
                        subject=request.decision.subject,
                    ),
                )
            )
        blocks += [PdfSpace(), PdfFacts(facts)]
    elif request.status == "refused":
        blocks += [PdfSpace(), PdfFacts([(_("未批准理由"), request.reason)])]
    submitted = request.submitted_at or request.created_at
    blocks += [
        PdfSpace(),
        PdfText(_("妥否，请批示。")),
        PdfSpace(10),
        PdfFacts(
            [
                (_("申请单位（盖章）"), bureau.name),
                (_("单位负责人（签字）"), ""),
                (_("经办人"), request.requested_by.display_name if request.requested_by else ""),
                (_("日期"), _day(submitted)),
            ]
        ),
    ]
    return pdf_document(request.title, meta, blocks, landscape_page=False)
