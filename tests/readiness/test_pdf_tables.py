"""Report tables in PDFs: every row and value printed, the header on every page, long text
wrapped inside its column, and text from older records that a PDF cannot hold stripped."""

from __future__ import annotations

import re

from readiness import pdf
from tests.pdfcheck import assert_fonts_embedded, pdf_pages, pdf_text


def test_a_long_table_keeps_every_row_with_the_header_and_number_on_every_page(app):
    rows = [[f"第{n}派出所", "救生衣", n, n % 7, f"{n % 100}%"] for n in range(1, 1201)]
    data = pdf.pdf_table(
        "应急装备缺口报告",
        ["截至日期：2026-12-03"],
        ["单位", "物资", "应配", "在库", "配备率"],
        rows,
        signature_line="制表人：__________",
    )
    assert_fonts_embedded(data, "long table")
    pages = pdf_pages(data)
    assert len(pages) > 10
    text = "\n".join(pages)
    printed = [int(n) for n in re.findall(r"第(\d+)派出所", text)]
    assert printed == list(range(1, 1201))  # every row, once, in order
    for number, page in enumerate(pages, start=1):
        assert "单位" in page and "配备率" in page, f"page {number} has no header"
        # the number is drawn as the page starts, so the text layer has it first
        assert page.split()[0] == str(number), f"page {number} has no page number"
    assert "制表人：__________" in pages[-1]


def test_text_wider_than_its_column_wraps_and_is_kept_whole(app):
    long = "救生衣数量与警力不匹配 " * 12 + "END"
    data = pdf.pdf_document(
        "报告",
        [],
        [pdf.PdfTable(["编号", "问题"], [[1, long], [2, "第一行\n第二行"]], widths=[1, 3])],
    )
    text = re.sub(r"\s+", "", pdf_text(data))
    assert re.sub(r"\s+", "", long) in text
    assert "第一行第二行" in text


def test_characters_a_pdf_cannot_hold_are_stripped_everywhere(app):
    bad = "\x00\ud800\u202e\x1b\ufffe"
    data = pdf.pdf_document(
        f"标题{bad}报告",
        [f"日期{bad}2026"],
        [
            pdf.PdfHeading(f"一、{bad}汇总", level=1),
            pdf.PdfText(f"说明{bad}文字"),
            pdf.PdfFacts([(f"单位{bad}", f"大冶{bad}派出所")]),
            pdf.PdfTable([f"物{bad}资", "备注"], [[f"救生{bad}衣", f"长{bad}备注" * 30]]),
        ],
        signature_line=f"签字{bad}：____",
    )
    text = pdf_text(data)
    flat = re.sub(r"\s+", "", text)
    expected = ("标题报告", "日期2026", "一、汇总", "说明文字", "大冶派出所", "救生衣", "物资")
    for words in expected:
        assert words in flat
    assert "长备注" * 30 in flat
    assert "签字：____" in flat
    assert not any(ch in text for ch in "\x00\u202e\x1b\ufffe")
