"""Label codes, label sheets read back by a real QR decoder, calibration, spot counts."""

from datetime import date, timedelta
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp
from sqlalchemy import func, select

from inventory import counts
from inventory.models import Asset, Count, Position
from labels import services as lab
from labels.models import LabelCode
from readiness.errors import DomainError, NotFound
from readiness.permissions import SYSTEM
from tests.pdfcheck import pdf_text

BASE = "https://readiness.example.gov.cn"


def decode_pages(pdf: bytes, scale: float = 3) -> list[list[tuple[str, float, float]]]:
    """Every QR code on every page: (text, x, y of its top-left corner in pixels)."""
    doc = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for page in doc:
            image = page.render(scale=scale).to_pil()
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            pages.append([(r.text, r.position.top_left.x, r.position.top_left.y) for r in found])
        return pages
    finally:
        doc.close()


@pytest.fixture
def shelf(session, make_unit, make_item, stock):
    wh = make_unit("WH", name="应急物资中心仓库", kind="warehouse")
    items = [make_item(f"IT{n:02d}", name=f"救生衣{n}号") for n in range(30)]
    for item in items:
        stock(wh, item, 5)
    bags = make_item("SB", name="吸水沙袋")
    stock(wh, bags, 10, lot_code="SB-A", expires_on=date.today() + timedelta(days=90))
    return wh


def test_codes_are_short_unguessable_and_stable(session, shelf):
    pos = session.scalars(select(Position)).first()
    first = lab.label_for_position(session, pos)
    again = lab.label_for_position(session, pos)
    assert first.code == again.code
    assert len(first.code) == 10 and set(first.code) <= set(lab.ALPHABET)
    codes = {lab.new_code() for _ in range(2000)}
    assert len(codes) == 2000  # no repeats in a sample


def test_a_scanned_url_or_a_typed_code_resolve_the_same(session, shelf):
    pos = session.scalars(select(Position)).first()
    code = lab.label_for_position(session, pos).code
    session.commit()
    for raw in (code, code.lower(), f"{BASE}/l/{code}", f" {BASE}/l/{code.lower()}?x=1 "):
        assert lab.resolve(session, raw).position.id == pos.id
    for bad in ("", "NOPE", "0" * 10, "x" * 300):
        with pytest.raises(NotFound):
            lab.resolve(session, bad)


def test_sheet_qr_codes_decode_to_the_right_urls(session, shelf):
    targets = lab.targets_for_unit(session, shelf, actor=SYSTEM)
    assert len(targets) == 31
    pdf = lab.sheet_pdf(session, targets, "a4-3x8", skip=0, base_url=BASE)
    pages = decode_pages(pdf)
    assert [len(p) for p in pages] == [24, 7]
    decoded = sorted(text for page in pages for text, _x, _y in page)
    assert decoded == sorted(f"{BASE}/l/{t.label.code}" for t in targets)
    text = pdf_text(pdf)
    assert "应急物资中心仓库" in text and "救生衣0号" in text and "批次 SB-A" in text


def test_skip_leaves_used_places_empty_and_thermal_is_one_per_page(session, shelf):
    targets = lab.targets_for_unit(session, shelf, actor=SYSTEM)[:5]
    pdf = lab.sheet_pdf(session, targets, "a4-3x8", skip=22, base_url=BASE)
    assert [len(p) for p in decode_pages(pdf)] == [2, 3]
    pdf = lab.sheet_pdf(session, targets[:3], "thermal-50x30", skip=0, base_url=BASE)
    assert [len(p) for p in decode_pages(pdf, scale=8)] == [1, 1, 1]
    pdf = lab.sheet_pdf(session, targets, "a4-2x5", skip=0, base_url=BASE)
    assert [len(p) for p in decode_pages(pdf)] == [5]


def test_a_printer_profiles_correction_moves_every_label(session, shelf, make_user):
    keeper = make_user("keeper1", "keeper", shelf)
    targets = lab.targets_for_unit(session, shelf, actor=keeper)[:1]
    before = decode_pages(lab.sheet_pdf(session, targets, "a4-3x8", skip=0, base_url=BASE))[0][0]
    profile = lab.save_profile(
        session,
        shelf,
        {"name": "办公室激光", "layout": "a4-3x8", "offset_x_mm": "5", "offset_y_mm": "-2.5"},
        actor=keeper,
    )
    after = decode_pages(
        lab.sheet_pdf(session, targets, "a4-3x8", skip=0, base_url=BASE, profile=profile)
    )[0][0]
    px_per_mm = 3 * 72 / 25.4
    assert after[1] - before[1] == pytest.approx(5 * px_per_mm, abs=3)
    assert after[2] - before[2] == pytest.approx(-2.5 * px_per_mm, abs=3)
    assert (profile.offset_x_mm, profile.offset_y_mm) == (Decimal("5.0"), Decimal("-2.5"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("offset_x_mm", "40"),
        ("offset_y_mm", "-16"),
        ("offset_x_mm", "abc"),
        ("offset_x_mm", "nan"),
        ("scale_pct", "80"),
        ("scale_pct", "120"),
    ],
)
def test_corrections_off_the_sheet_are_refused(session, make_user, make_unit, field, value):
    wh = make_unit("WH", kind="warehouse")
    keeper = make_user("keeper1", "keeper", wh)
    with pytest.raises(DomainError) as err:
        lab.save_profile(session, wh, {"name": "P", "layout": "a4-3x8", field: value}, actor=keeper)
    assert err.value.field == field
    session.rollback()
    assert lab.usable_profiles(session, keeper) == []


def test_too_many_targets_and_bad_skip_are_refused(session, shelf):
    with pytest.raises(DomainError) as err:
        lab.targets_from_spec(session, [{"unit": "WH", "item": "SB"}] * 50_000, actor=SYSTEM)
    assert "一次最多打印 5000 张标签" in err.value.message
    targets = lab.targets_for_unit(session, shelf, actor=SYSTEM)[:1]
    for skip in (-1, 24, True):  # a 3×8 sheet has places 0 to 23
        with pytest.raises(DomainError):
            lab.sheet_pdf(session, targets, "a4-3x8", skip=skip, base_url=BASE)
    with pytest.raises(DomainError):
        lab.sheet_pdf(session, targets, "a5-9x9", skip=0, base_url=BASE)


def test_serial_pieces_get_labels_and_retired_ones_say_so(session, make_unit, make_item, stock):
    wh = make_unit("WH", kind="warehouse")
    drone = make_item("UAV", name="无人机", tracking="serial")
    stock(wh, drone, 2, serials=["U-1", "U-2"])
    [target] = lab.targets_from_spec(session, [{"serial": "U-1"}], actor=SYSTEM)
    assert target.serial == "U-1"
    stock(wh, drone, 1, kind="write_off", reason="damaged", serials=["U-1"])
    assert lab.resolve(session, target.label.code).is_retired
    with pytest.raises(DomainError):  # a retired piece gets no new label
        lab.targets_from_spec(session, [{"serial": "U-1"}], actor=SYSTEM)
    serial_only = lab.targets_for_unit(session, wh, actor=SYSTEM, serial_only=True)
    assert [t.serial for t in serial_only] == ["U-2"]
    assert session.scalar(select(func.count()).select_from(Asset)) == 2


def test_spot_count_goes_into_a_running_stocktake_or_stands_alone(session, shelf, make_user):
    keeper = make_user("keeper1", "keeper", shelf)
    pos = session.scalars(select(Position).order_by(Position.id)).first()
    spot = lab.spot_count(session, pos, "4", actor=keeper)
    session.commit()
    assert (spot.is_spot, spot.status, spot.lines[0].variance) == (True, "submitted", -1)
    full = counts.start_count(session, shelf, actor=keeper)  # a spot count does not block it
    again = lab.spot_count(session, pos, 5, actor=keeper)
    assert again.id == full.id
    line = next(ln for ln in full.lines if ln.position_id == pos.id)
    assert line.counted == 5
    session.commit()
    for bad in ("-3", "abc", ""):
        with pytest.raises(DomainError):
            lab.spot_count(session, pos, bad, actor=keeper)
        session.rollback()
    assert session.scalar(select(func.count()).select_from(Count)) == 2


def test_labels_are_for_own_unit_only(session, shelf, make_unit, make_user):
    clerk = make_user("clerk1", "clerk", make_unit("ST"))
    from readiness.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        lab.targets_for_unit(session, shelf, actor=clerk)
    assert session.scalar(select(func.count()).select_from(LabelCode)) == 0
