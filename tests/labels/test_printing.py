"""Labels that survive a real printer: every layout decodes at the printer's resolution, keeps
its ink inside the printable area, wraps long names instead of cutting them, and a printer
profile's correction (entered by hand or worked out from a measured test page) puts the
labels back where the stock has them."""

from __future__ import annotations

import ctypes
import itertools
from datetime import date

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp

from labels import services as lab
from labels.layouts import LAYOUTS, LabelContent, printed_code
from labels.pdf import Correction, crosshair_points, render, ruler_length
from readiness.errors import Conflict, DomainError, NotFound
from readiness.permissions import SYSTEM
from tests.pdfcheck import assert_fonts_embedded, pdf_text

BASE = "https://readiness.example.gov.cn"
PT = 72 / 25.4  # points per mm
LONG = "消防员灭火防护服（抢险救援用，含头盔手套）"


def _content(n: int, item: str = LONG, unit: str = "登封市应急物资中心仓库") -> LabelContent:
    import qrcode

    code = f"AB{n:03d}CDEF3"[:10]
    url = f"{BASE}/l/{code}"
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(url)
    qr.make(fit=True)
    rows = tuple("".join("1" if c else "0" for c in row) for row in qr.get_matrix())
    return LabelContent(
        url=url,
        modules=rows,
        code=code,
        unit=unit,
        item=item,
        details=("批次 LJ-2026-12-A", f"有效期至 {date(2029, 3, 1).isoformat()}"),
    )


def _objects(pdf: bytes):
    """Every text character's box and every path's bounds on every page, in mm from the
    top-left corner: [(page, kind, x0, y0, x1, y1, font size or None, char)]."""
    doc = pypdfium2.PdfDocument(pdf)
    out = []
    try:
        for index, page in enumerate(doc):
            height = page.get_height()
            for obj in page.get_objects():
                if obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
                    left, bottom, right, top = obj.get_bounds()
                    out.append(
                        (
                            index,
                            "path",
                            left / PT,
                            (height - top) / PT,
                            right / PT,
                            (height - bottom) / PT,
                            None,
                            "",
                        )
                    )
            textpage = page.get_textpage()
            for i in range(textpage.count_chars()):
                char = chr(pdfium_c.FPDFText_GetUnicode(textpage, i))
                if char.isspace():
                    continue
                left, bottom, right, top = textpage.get_charbox(i, loose=False)
                size = pdfium_c.FPDFText_GetFontSize(textpage, i)
                out.append(
                    (
                        index,
                        "text",
                        left / PT,
                        (height - top) / PT,
                        right / PT,
                        (height - bottom) / PT,
                        size,
                        char,
                    )
                )
    finally:
        doc.close()
    return out


def _decode(pdf: bytes, dpi: int) -> list[list[tuple[str, float, float]]]:
    """The QR codes on every page rendered at the printer's resolution, each with the
    top-left corner of its symbol in mm."""
    doc = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for page in doc:
            image = page.render(scale=dpi / 72).to_pil().convert("L")
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            px = 25.4 / dpi
            pages.append(
                [(r.text, r.position.top_left.x * px, r.position.top_left.y * px) for r in found]
            )
        return pages
    finally:
        doc.close()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_decodes_at_the_printers_resolution_and_keeps_ink_printable(app, layout):
    shape = LAYOUTS[layout]
    contents = [_content(n) for n in range(shape.per_page)]
    pdf = render(contents, layout)
    dpi = 203 if shape.thermal else 300
    pages = _decode(pdf, dpi)
    assert sum(len(p) for p in pages) == len(contents)
    assert sorted(t for p in pages for t, _x, _y in p) == sorted(c.url for c in contents)
    assert len(pages) == (len(contents) if shape.thermal else 1)
    objects = _objects(pdf)
    edge = 1.5 if shape.thermal else 5.0
    for _page, kind, x0, y0, x1, y1, _size, char in objects:
        assert x0 >= edge - 0.05 and y0 >= edge - 0.05, (layout, kind, char, x0, y0)
        assert x1 <= shape.page_w - edge + 0.05, (layout, kind, char, x1)
        assert y1 <= shape.page_h - edge + 0.05, (layout, kind, char, y1)
    # text never on a QR code: each code's square (quiet zone included) holds no character
    side = shape.qr_side()
    for slot in range(shape.per_page):
        qx, qy, _w, _h = shape.ink_box(slot)
        page = slot if shape.thermal else 0
        for p, kind, x0, y0, x1, y1, _size, char in objects:
            if p == page and kind == "text":
                overlaps = x0 < qx + side and x1 > qx and y0 < qy + side and y1 > qy
                assert not overlaps, (layout, slot, char)
    assert_fonts_embedded(pdf, layout)
    assert b"/PrintScaling /None" in pdf


def _item_text(pdf: bytes) -> str:
    return pdf_text(pdf).replace("\n", "").replace("\r", "")


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_names_wrap_to_two_lines_and_dates_stay_whole_and_legible(app, layout):
    # two items that differ only at the end no longer print alike, on the smallest label too
    twins = [_content(1, item="消防员灭火防护服甲型"), _content(2, item="消防员灭火防护服乙型")]
    pdf = render(twins, layout)
    text = _item_text(pdf)
    assert "消防员灭火防护服甲型" in text and "消防员灭火防护服乙型" in text
    assert text.count("2029-03-01") == 2  # the expiry is never cut
    sizes = [
        size
        for _p, kind, *_box, size, char in _objects(pdf)
        if kind == "text" and char in "2029-03-01"
    ]
    assert min(sizes) >= 7
    assert printed_code(twins[0].code) in text
    if not layout.startswith("thermal-40"):
        # a long name takes two smaller lines before anything is cut
        long = _content(3, item="消防员灭火防护服（抢险救援用）甲型")
        assert "消防员灭火防护服（抢险救援用）甲型" in _item_text(render([long], layout))


def test_a_name_too_long_even_for_two_lines_is_cut_with_an_ellipsis(app):
    pdf = render([_content(1, item="救生" * 40)], "thermal-40x30")
    assert "…" in pdf_text(pdf)
    assert _decode(pdf, 203)[0][0][0] == _content(1).url


@pytest.mark.parametrize(("layout", "places"), [(k, v.per_page) for k, v in LAYOUTS.items()])
def test_each_layout_skips_only_the_places_its_sheet_has(session, layout, places):
    with pytest.raises(DomainError) as err:
        lab.check_skip(layout, places)
    assert err.value.field == "skip"
    assert lab.check_skip(layout, places - 1) == places - 1
    if places > 1:
        assert str(places - 1) in err.value.message


def test_thermal_pdf_modules_are_whole_printer_dots(app):
    pdf = render([_content(1)], "thermal-40x30")
    doc = pypdfium2.PdfDocument(pdf)
    try:
        page = doc[0]
        widths = set()
        for obj in page.get_objects():
            if obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
                # the path's sub-rectangles: one per run of dark modules
                for n in range(pdfium_c.FPDFPath_CountSegments(obj.raw)):
                    seg = pdfium_c.FPDFPath_GetPathSegment(obj.raw, n)
                    x, y = ctypes.c_float(), ctypes.c_float()
                    pdfium_c.FPDFPathSegment_GetPoint(seg, x, y)
                    widths.add(round(x.value, 3))
    finally:
        doc.close()
    dot = 72 / 203
    xs = sorted(widths)
    steps = {round(b - a, 3) for a, b in itertools.pairwise(xs)}
    assert steps, "no QR modules found"
    # every distance between module edges is a whole number of 203-dpi dots, at least 3
    assert all(abs(s / dot - round(s / dot)) < 0.01 for s in steps), steps
    assert min(steps) / dot >= 2.99


# ---------------------------------------------------------------- printer profiles


def _printer(points_mm, k: float, e: tuple[float, float]):
    """Where a printer that scales by k and shifts by e puts points drawn at p."""
    return [(k * x + e[0], k * y + e[1]) for x, y in points_mm]


def test_a_measured_test_page_gives_the_correction_that_puts_labels_back(
    session, make_unit, make_user
):
    wh = make_unit("WH", kind="warehouse")
    keeper = make_user("keeper1", "keeper", wh)
    profile = lab.save_profile(
        session, wh, {"name": "大厅激光打印机", "layout": "a4-3x8"}, actor=keeper
    )
    shape = LAYOUTS["a4-3x8"]
    # This printer shrinks by 4 % ("fit to page") and puts everything 2 mm right, 1.5 mm up.
    k, e = 0.96, (2.0, -1.5)
    cx, cy = crosshair_points(shape)[0]
    [(mx, my)] = _printer([(cx, cy)], k, e)
    ruler = ruler_length(shape) * k
    lab.correct_from_measurement(
        session, profile, f"{ruler:.1f}", f"{mx:.1f}", f"{my:.1f}", actor=keeper
    )
    assert float(profile.scale_pct) == pytest.approx(104.2, abs=0.1)
    fix = lab.correction(profile)
    contents = [_content(n) for n in range(24)]
    nominal = {t: (x, y) for t, x, y in _decode(render(contents, "a4-3x8"), 300)[0]}
    corrected = {
        t: (x, y) for t, x, y in _decode(render(contents, "a4-3x8", correction=fix), 300)[0]
    }
    for url, (x, y) in corrected.items():
        [(px, py)] = _printer([(x, y)], k, e)
        # where the printer really puts each corrected label: within 0.3 mm of the stock's
        assert px == pytest.approx(nominal[url][0], abs=0.3)
        assert py == pytest.approx(nominal[url][1], abs=0.3)
    # the audit trail keeps what it was before
    from sqlalchemy import select

    from readiness.models import AuditEntry

    events = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "labels.profile_save")
    ).all()
    assert len(events) == 2 and events[1].before["scale_pct"] == "100.0"


def _dark(image, x_mm: float, y_mm: float, dpi: int) -> bool:
    return image.getpixel((round(x_mm * dpi / 25.4), round(y_mm * dpi / 25.4))) < 128


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_test_page_has_its_crosshair_where_it_says_moved_by_the_correction(app, layout):
    shape = LAYOUTS[layout]
    dpi = 300
    cx, cy = crosshair_points(shape)[0]
    for fix in (Correction(), Correction(1.5, -1.0, 100)):
        pdf = lab.test_page(layout, None) if fix == Correction() else None
        if pdf is None:
            from labels.pdf import test_page

            pdf = test_page(layout, ["test"], correction=fix)
        doc = pypdfium2.PdfDocument(pdf)
        try:
            image = doc[0].render(scale=dpi / 72).to_pil().convert("L")
        finally:
            doc.close()
        x, y = cx + fix.x_mm, cy + fix.y_mm
        assert (
            _dark(image, x, y, dpi) and _dark(image, x + 2, y, dpi) and _dark(image, x, y + 2, dpi)
        )
        assert not _dark(image, x + 1, y + 1, dpi)  # a cross, not a blot
    assert str(int(ruler_length(shape))) in pdf_text(lab.test_page(layout, None))


def test_profiles_are_the_units_own_and_those_above(session, make_unit, make_user):
    bureau = make_unit("DF", kind="bureau", parent=None)
    station = make_unit("DY", parent=bureau)
    other = make_unit("WL", kind="bureau", parent=None)
    office = lab.save_profile(
        session, bureau, {"name": "局办公室", "layout": "a4-2x5"}, actor=SYSTEM
    )
    own = lab.save_profile(
        session,
        station,
        {"name": "值班室热敏", "layout": "thermal-50x30", "output": "tspl"},
        actor=SYSTEM,
    )
    foreign = lab.save_profile(session, other, {"name": "温岭", "layout": "a4-3x8"}, actor=SYSTEM)
    clerk = make_user("clerk1", "clerk", station)
    assert {p.name for p in lab.usable_profiles(session, clerk)} == {office.name, own.name}
    with pytest.raises(NotFound):
        lab.get_profile(session, foreign.id, clerk)
    # a station's clerk prints on the bureau's printer but may not change it
    from readiness.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        lab.save_profile(
            session, bureau, {"name": "改", "layout": "a4-3x8"}, actor=clerk, profile=office
        )
    with pytest.raises(DomainError) as err:
        lab.save_profile(session, station, {"name": "值班室热敏", "layout": "a4-3x8"}, actor=clerk)
    assert err.value.field == "name"  # one name per printer in a unit
    with pytest.raises(DomainError) as err:
        lab.save_profile(
            session,
            station,
            {"name": "A4 用 ZPL", "layout": "a4-3x8", "output": "zpl"},
            actor=clerk,
        )
    assert err.value.field == "output"


def test_a_printer_profile_decides_the_stock_and_refuses_another(session, make_unit):
    wh = make_unit("WH", kind="warehouse")
    profile = lab.save_profile(
        session, wh, {"name": "热敏", "layout": "thermal-60x40", "output": "zpl"}, actor=SYSTEM
    )
    assert lab.resolve_choice(None, None, profile) == ("thermal-60x40", "zpl")
    assert lab.resolve_choice(None, "pdf", profile) == ("thermal-60x40", "pdf")
    with pytest.raises(DomainError) as err:
        lab.resolve_choice("a4-3x8", None, profile)
    assert "thermal-60x40" in err.value.message
    with pytest.raises(DomainError):
        lab.resolve_choice("a4-3x8", "tspl", None)
    assert lab.resolve_choice(None, None, None) == ("a4-3x8", "pdf")


# ---------------------------------------------------------------- the address printed


@pytest.mark.parametrize(
    ("base_url", "used_url", "remote", "refused"),
    [
        ("http://127.0.0.1:5000", "http://192.168.1.20:5106/", "192.168.1.33", True),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/", "127.0.0.1", False),
        ("http://localhost:5000", "http://127.0.0.1:5000/", "127.0.0.1", False),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/", "192.168.1.33", True),
        ("http://readiness.df.gov.cn", "http://192.168.1.20:5106/", "192.168.1.33", True),
        ("http://192.168.1.20:5106", "http://192.168.1.20:5106/", "192.168.1.33", False),
        ("https://readiness.df.gov.cn", "https://READINESS.df.gov.cn/", "10.1.1.1", False),
        # at the server itself, a public BASE_URL is deliberate
        ("https://readiness.df.gov.cn", "http://127.0.0.1:5000/", "127.0.0.1", False),
        ("http://[::1]:5000", "http://[::1]:5000/", "::1", False),
    ],
)
def test_labels_print_only_an_address_the_users_phones_can_open(
    base_url, used_url, remote, refused, app
):
    refusal = lab.print_refusal(base_url, used_url, remote)
    assert (refusal is not None) == refused
    if refused:
        assert "READINESS_BASE_URL" in refusal and base_url in refusal
        with pytest.raises(Conflict):
            lab.check_print_address(base_url, used_url, remote)


# ---------------------------------------------------------------- typing the printed code


def test_the_printed_code_is_accepted_as_typed(session, make_unit, make_item, stock):
    wh = make_unit("WH", kind="warehouse")
    stock(wh, make_item("LJ"), 3)
    [target] = lab.targets_for_unit(session, wh, actor=SYSTEM)
    code = target.label.code
    printed = printed_code(code)
    assert printed == f"{code[:5]} {code[5:]}"
    typed = [
        printed,
        printed.lower(),
        f"{code[:5]}-{code[5:]}",
        f" {code[:3]} {code[3:7]}-{code[7:]} ",
        code.replace("0", "O").replace("1", "I"),
        code.replace("1", "l").lower(),
        f"{code[:5]}\u3000{code[5:]}",
    ]
    for raw in typed:
        assert lab.resolve(session, raw).label.id == target.label.id, raw


def test_label_data_for_label_programs_is_the_same_selection(session, make_unit, make_item, stock):
    wh = make_unit("WH", name="中心仓库", kind="warehouse")
    bags = make_item("SB", name="吸水沙袋")
    stock(wh, bags, 10, lot_code="SB-A", expires_on=date(2028, 5, 1))
    targets = lab.targets_for_unit(session, wh, actor=SYSTEM)
    header, rows = lab.label_rows(targets, BASE)
    assert header[:3] == ["标签码", "打印码", "网址"]
    [row] = rows
    code = targets[0].label.code
    assert row == [
        code,
        printed_code(code),
        f"{BASE}/l/{code}",
        "WH",
        "中心仓库",
        "SB",
        "吸水沙袋",
        "SB-A",
        date(2028, 5, 1),
        "",
    ]
