"""The layout of report PDFs (readiness.pdf): how text wraps, how rows and headers continue
across pages, and that nothing is drawn outside the page's margins."""

from __future__ import annotations

import re
from itertools import pairwise

import pypdfium2 as pdfium
import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth

from readiness import pdf, pdf_fonts
from tests.pdfcheck import assert_fonts_embedded, pdf_pages

MM = 72 / 25.4


@pytest.fixture
def font(app):
    return pdf_fonts.register()


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------- wrapping


def test_chinese_breaks_between_any_two_characters(font):
    text = "救生衣数量与警力不匹配现场指挥部设置位置不当群众转移组织有序" * 3
    lines = pdf.wrap_text(text, 100, font, 8)
    assert len(lines) > 3
    assert "".join(lines) == text  # nothing lost, nothing added
    assert all(stringWidth(line, font, 8) <= 100 for line in lines)
    # the lines are full: the next character would not have fitted
    for line, after in pairwise(lines):
        assert stringWidth(line + after[0], font, 8) > 100


def test_latin_breaks_at_spaces_and_keeps_words_whole(font):
    sentence = "the evacuation route was blocked by parked vehicles near the school"
    words = sentence.split()
    lines = pdf.wrap_text(sentence, 80, font, 8)
    assert len(lines) > 2
    assert " ".join(lines).split() == words
    assert all(line.split() and set(line.split()) <= set(words) for line in lines)
    assert all(stringWidth(line, font, 8) <= 80 for line in lines)


def test_a_word_longer_than_the_line_is_broken_where_the_line_is_full(font):
    word = "0123456789abcdef" * 8
    lines = pdf.wrap_text(f"SHA {word} end", 60, font, 8)
    assert "".join(lines).replace(" ", "") == f"SHA{word}end"
    assert all(stringWidth(line, font, 8) <= 60 for line in lines)
    assert len(lines) > 4


def test_line_breaks_are_kept_and_punctuation_stays_with_its_text(font):
    text = "第一行\n" + "演练（ST059）完成，" * 8
    lines = pdf.wrap_text(text, 70, font, 8)
    assert lines[0] == "第一行"
    assert "".join(lines[1:]) == "演练（ST059）完成，" * 8
    for line in lines[1:]:
        assert line[0] not in "，）", line  # closing punctuation never starts a line
        assert line[-1] != "（", line  # an opening bracket never ends one


def test_a_text_that_fits_is_one_line(font):
    assert pdf.wrap_text("大冶派出所", 200, font, 8) == ["大冶派出所"]
    assert pdf.wrap_text("", 200, font, 8) == [""]


# ---------------------------------------------------------------- pages


def _chars(data: bytes):
    """(page number, page width, page height, char, box) of every character drawn."""
    doc = pdfium.PdfDocument(data)
    try:
        for number, page in enumerate(doc, start=1):
            width, height = page.get_size()
            textpage = page.get_textpage()
            for i in range(textpage.count_chars()):
                char = textpage.get_text_range(i, 1)
                if char.strip():
                    yield number, width, height, char, textpage.get_charbox(i)
    finally:
        doc.close()


def _assert_inside_margins(data: bytes) -> None:
    for number, width, height, char, (left, bottom, right, top) in _chars(data):
        if bottom < 12 * MM:
            assert char.isdigit(), f"page {number}: {char!r} below the bottom margin"
            continue  # the page number
        assert left >= 12 * MM - 1 and right <= width - 12 * MM + 1, (number, char, left, right)
        assert top <= height - 14 * MM + 1, (number, char, top)


@pytest.mark.parametrize("split", [True, False])
def test_a_row_taller_than_a_page_continues_on_the_next_with_the_header(app, split):
    tall = "\n".join(f"第{n}行说明" for n in range(1, 121))
    data = pdf.pdf_document(
        "报告",
        [],
        [
            pdf.PdfTable(
                ["编号", "说明", "备注"],
                [[1, "前一行", ""], [2, tall, "右列"], [3, "后一行", ""]],
                widths=[1, 4, 2],
                split_long_rows=split,
            )
        ],
    )
    assert_fonts_embedded(data, "tall row")
    pages = pdf_pages(data)
    assert len(pages) >= 3
    printed = [int(n) for n in re.findall(r"第(\d+)行说明", "\n".join(pages))]
    assert printed == list(range(1, 121))  # every line of the cell, once, in order
    for number, page in enumerate(pages, start=1):
        assert "编号" in page and "备注" in page, f"page {number} lacks the header"
    assert "后一行" in pages[-1]
    _assert_inside_margins(data)


def test_long_cells_wrap_inside_their_column_and_are_never_cut(app):
    long_latin = " ".join(["evacuation"] * 60)
    long_word = "x" * 400
    data = pdf.pdf_document(
        "报告",
        ["说明：" + "很长的说明文字" * 40],
        [
            pdf.PdfText("段落" * 200),
            pdf.PdfFacts([("标签", long_latin), ("哈希", long_word)]),
            pdf.PdfTable(["甲", "乙"], [["很长" * 100, long_word]], widths=[1, 1]),
        ],
    )
    flat = _flat("\n".join(pdf_pages(data)))
    assert "很长的说明文字" * 40 in flat
    assert "段落" * 200 in flat
    assert "evacuation" * 60 in flat
    assert flat.count(long_word) == 2
    assert "很长" * 100 in flat
    _assert_inside_margins(data)


def test_a_shaded_header_row_starts_the_table_on_every_page(app):
    rows = [[f"第{n}派出所", n] for n in range(1, 200)]
    data = pdf.pdf_document("报告", [], [pdf.PdfTable(["单位", "数量"], rows)])
    doc = pdfium.PdfDocument(data)
    try:
        assert len(doc) >= 3
        for number, page in enumerate(doc, start=1):
            image = page.render(scale=1).to_pil().convert("RGB")
            colours = {rgb for _count, rgb in image.getcolors(1 << 20)}
            # the header's blue-grey (#e8ecf0), as antialiasing leaves it
            assert any(
                abs(r - 232) <= 3 and abs(g - 236) <= 3 and abs(b - 240) <= 3 for r, g, b in colours
            ), f"page {number} has no shaded header"
    finally:
        doc.close()


@pytest.mark.parametrize("filler", range(44, 52))
def test_a_heading_never_ends_a_page(app, filler):
    """Whatever the space left, a heading stands on the page where its table starts."""
    blocks = [pdf.PdfText(f"填充第{n}行") for n in range(filler)]
    blocks += [pdf.PdfHeading("末尾标题"), pdf.PdfTable(["列甲", "列乙"], [["值", "值"]])]
    pages = pdf_pages(pdf.pdf_document("报告", [], blocks, landscape_page=False))
    [page] = [p for p in pages if "末尾标题" in p]
    assert "列甲" in page


def test_a_page_break_on_an_empty_page_makes_no_blank_page(app):
    data = pdf.pdf_document(
        "报告",
        [],
        [pdf.PdfText("一"), pdf.PdfPageBreak(), pdf.PdfPageBreak(), pdf.PdfText("二")],
    )
    pages = pdf_pages(data)
    assert len(pages) == 2
    assert "一" in pages[0] and "二" in pages[1]


def test_blocks_may_come_from_a_generator(app):
    def blocks():
        for n in range(1, 4):
            yield pdf.PdfHeading(f"第{n}节")
            yield pdf.PdfFacts([("序号", n)])

    text = _flat("\n".join(pdf_pages(pdf.pdf_document("报告", [], blocks()))))
    assert "第1节序号1第2节序号2第3节序号3" in text
