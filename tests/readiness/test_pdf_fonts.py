"""Every PDF carries its fonts: Chinese prints the same on a machine with no Chinese font."""

from __future__ import annotations

import io

import pytest

from labels import pdf as label_pdf
from readiness import pdf, pdf_fonts
from tests.pdfcheck import (
    assert_fonts_embedded,
    dark_pixels,
    no_font_config,
    pdf_text,
    render_page,
)
from tests.pdfcheck import (
    pdf_fonts as fonts_of,
)


def _report() -> bytes:
    return pdf.pdf_table(
        "应急装备缺口报告",
        ["生成时间 2026-12-03 09:30", "标准版本 2023 版"],
        ["单位", "物资", "应有", "现有", "缺口"],
        [["大冶派出所", "救生衣", 40, 6, 34], ["君召派出所", "救生哨", 25, 0, 25]],
        signature_line="审核人签字：__________",
    )


def _label_sheet(layout: str = "a4-3x8") -> bytes:
    content = label_pdf.LabelContent(
        url="https://readiness.example.gov.cn/l/AB12CDEF34",
        modules=("1" * 21,) * 21,
        code="AB12CDEF34",
        unit="大冶派出所",
        item="救生衣（成人）",
        details=("批次 2024-03", "有效期至 2029-03-01"),
    )
    return label_pdf.render([content] * 3, layout)


def test_a_report_embeds_every_font_it_uses(app):
    pdf = _report()
    assert_fonts_embedded(pdf, "report")
    names = [f["name"] for f in fonts_of(pdf)]
    assert all("WenQuanYiMicroHei" in n for n in names), names
    assert "大冶派出所" in pdf_text(pdf)


@pytest.mark.parametrize("layout", sorted(label_pdf.LAYOUTS))
def test_label_sheets_embed_their_fonts_and_ask_viewers_to_print_at_full_size(app, layout):
    pdf = _label_sheet(layout)
    assert_fonts_embedded(pdf, layout)
    names = [f["name"] for f in fonts_of(pdf)]
    assert any("WenQuanYiMicroHeiMono" in n for n in names), "the code is printed monospaced"
    assert "大冶派出所" in pdf_text(pdf)
    assert b"/PrintScaling /None" in pdf


def test_chinese_is_drawn_where_no_font_is_installed(app, tmp_path):
    """The same page rendered with no font known to fontconfig looks exactly as rendered
    normally; a PDF that only names a font (the old CID font) loses its text there."""
    bare = no_font_config(tmp_path)
    pdf = _report()
    normal = render_page(pdf)
    fontless = render_page(pdf, fontconfig_file=bare)
    assert dark_pixels(normal) > 500, "the page has text on it"
    assert fontless.tobytes() == normal.tobytes()

    # The control: a PDF that only names its font (here Helvetica, not embedded) loses
    # its text under the same fontconfig, so the check above really had nothing to borrow.
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.setFont("Helvetica", 28)
    canvas.drawString(60, 760, "Shortfall report: Dayeh station, life jackets")
    canvas.save()
    unembedded = buf.getvalue()
    assert dark_pixels(render_page(unembedded)) > 500
    assert dark_pixels(render_page(unembedded, fontconfig_file=bare)) == 0


@pytest.fixture
def font_file_missing(monkeypatch, tmp_path):
    """The font file gone from the installation (and not yet registered in this process)."""
    from reportlab.pdfbase import pdfmetrics

    for name in (pdf_fonts.BODY, pdf_fonts.MONO):
        if name in pdfmetrics._fonts:
            monkeypatch.delitem(pdfmetrics._fonts, name)
    monkeypatch.setattr(pdf_fonts, "FONT_FILE", tmp_path / "gone.ttc")


def test_without_its_font_file_no_pdf_is_made_and_the_user_is_told(
    app, font_file_missing, make_unit, make_user, login, client, make_token
):
    bureau = make_unit("DF", name="登封市公安局", kind="bureau")
    user = make_user("cmd", role="command", unit=bureau)
    login("cmd")
    page = client.get("/reports/shortfall?format=pdf")
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    assert "字体" in page.get_data(as_text=True)

    token = make_token(user)
    answer = client.get(
        "/api/v1/reports/shortfall?format=pdf", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "font_missing"
